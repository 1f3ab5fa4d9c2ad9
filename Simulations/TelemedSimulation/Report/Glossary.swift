import Foundation
import TelemedProtocol

// MARK: - Glossary

/// The symbols and rule ids a run's story uses, each with a one-line meaning, for a reader
/// who has not read the spec.
///
/// `simulate` keeps one `Glossary` per run and asks it, line by line, which terms appear for
/// the first time (``firstMentions(in:)``); it prints their meanings under that line, so each
/// term is explained once, where it first matters. `simulate --explain` prints ``reference``.
public struct Glossary: Sendable {
    /// A symbol of the spec and what it means.
    public struct Term: Sendable, Equatable {
        /// The name as the story writes it (`ΔTS`, `ts_i`).
        public let name: String
        /// Other spellings that mean the same (`TS_i`).
        public let aliases: [String]
        /// One line, no trailing period.
        public let meaning: String
    }

    /// Every symbol the story may use, in the order ``reference`` lists them.
    public static let terms: [Term] = [
        Term(name: "ΔTS", aliases: [],
             meaning: "the clock tolerance: a timestamp further than ΔTS from the receiver's clock is refused (default 30 s)"),
        Term(name: "ts_i", aliases: ["TS_i"],
             meaning: "the patient's timestamp in its KEY_VERIFICATION: its wall clock in milliseconds since 1970-01-01 UTC"),
        Term(name: "ts_gwn", aliases: ["ts_GWN", "TS_GWN"],
             meaning: "the doctor's timestamp in its SESSION_TOKEN (milliseconds since 1970-01-01 UTC)"),
        Term(name: "T0", aliases: ["start time"],
             meaning: "the doctor's recorded start time; it refuses any timestamp before it, so nothing sent before a restart replays after it"),
        Term(name: "rn_i", aliases: ["RN_i"],
             meaning: "32 fresh random bytes in the patient's request; the doctor's answer must echo them, and (id, rn_i) enters the replay cache"),
        Term(name: "E_KU_GWN[K]", aliases: [],
             meaning: "K, the patient's fresh secret group element, ElGamal-encrypted to the doctor's public key (c1, c2 of KEY_VERIFICATION)"),
        Term(name: "K_GWN", aliases: [],
             meaning: "the doctor's own fresh secret element, encrypted to the patient in SESSION_TOKEN; the session key hashes K and K_GWN"),
        Term(name: "SK", aliases: [],
             meaning: "the session key: SHA-256 over K, K_GWN, both timestamps, both random values and both ids"),
        Term(name: "SKV", aliases: [],
             meaning: "the session key verifier in KEY_CONFIRMATION: SHA-256 of SK and a timestamp, the patient's proof that it holds SK"),
        Term(name: "GK_e", aliases: ["GK"],
             meaning: "the group key of epoch e, derived from every member's SK; broadcasts are sealed with it"),
        Term(name: "epoch", aliases: [],
             meaning: "one membership of the conference; every join, leave, kick or timeout starts a new epoch with a fresh GK"),
        Term(name: "c1", aliases: ["c2"],
             meaning: "the two halves of an ElGamal ciphertext: c1 = g^k, c2 = M·y^k mod p"),
        Term(name: "(r, s)", aliases: ["r =", "s ="],
             meaning: "an ElGamal signature in the order-q subgroup: r is an element mod p (L bytes), s a scalar mod q (32 bytes)"),
        Term(name: "KEY_VERIFICATION", aliases: [],
             meaning: "opcode 10, the patient's signed login request (ts_i, rn_i, E_KU_GWN[K])"),
        Term(name: "SESSION_TOKEN", aliases: [],
             meaning: "opcode 20, the doctor's signed answer: ts_gwn, its own rn, the echoed rn_i and K_GWN encrypted to the patient"),
        Term(name: "KEY_CONFIRMATION", aliases: [],
             meaning: "opcode 11, the patient's SKV, which completes the handshake"),
        Term(name: "GROUP_KEY", aliases: [],
             meaning: "opcode 30, the epoch's GK sealed for one member; also the login acknowledgement"),
        Term(name: "ENC_MSG", aliases: ["broadcast"],
             meaning: "opcode 40, a doctor broadcast sealed under GK_e and signed by the doctor"),
        Term(name: "DEC_MSG", aliases: ["receipt"],
             meaning: "opcode 50, a member's receipt for a broadcast it decrypted"),
        Term(name: "REJECTED", aliases: [],
             meaning: "opcode 70, the doctor's one generic refusal; the exact reason goes to its audit log and to this story"),
        Term(name: "Z", aliases: ["g^(ab)"],
             meaning: "version 2's Diffie–Hellman value g^(ab) from the ephemerals a (patient) and b (doctor); SK hashes it, and both sides erase a, b and Z once SK is derived, so no private key stolen later gives it back"),
        Term(name: "x_i", aliases: ["x_GWN"],
             meaning: "the long-term private keys: x_i the patient's, x_GWN the doctor's; a thief holding both later recovers K and K_GWN of a recorded handshake, and SK only for version 1"),
        Term(name: "device", aliases: [],
             meaning: "a patient's machine, identified by (patient id, source address); a wrong SKV blocks that device, not the patient everywhere"),
    ]

    /// The rule `rule` states, in one line (no trailing period).
    public static func meaning(of rule: RuleID) -> String {
        switch rule {
        case .time: return "a timestamp outside ΔTS of the receiver's clock is refused before any signature work"
        case .start: return "nothing dated before the doctor's start time T0 is accepted; a doctor clock behind T0 − ΔTS refuses everything"
        case .replay: return "a second KEY_VERIFICATION with an (id, rn_i) already seen is refused, concurrent copies included"
        case .echo: return "a patient accepts only a SESSION_TOKEN that echoes the rn_i of its own pending request"
        case .signature: return "signatures verify under the pinned or enrolled key only; any out-of-range value is a refusal, never a crash"
        case .identity: return "an unknown patient id gets the same answer, after the same work, as a bad signature"
        case .group: return "only the configured group is accepted; a peer never chooses p, g or key sizes"
        case .element: return "every received group element must satisfy 1 < z < p−1 and z^q ≡ 1 before a secret touches it"
        case .oracle: return "the doctor never returns a value it decrypted: its answer carries its own fresh K_GWN"
        case .skv: return "a wrong SKV ends the pending session and blocks the device (patient id, source address) for 24 h"
        case .source: return "failures from one source address (5 within 15 min by default) block that address for 24 h, never the claimed patient"
        case .block: return "a blocked source or device is refused with no crypto work; blocks survive restarts and expire on the doctor's clock"
        case .state: return "KEY_VERIFICATION → SESSION_TOKEN → KEY_CONFIRMATION → active, in that order only; stalled handshakes are dropped"
        case .frame: return "oversize or malformed frames are refused cleanly; the parser never traps"
        case .aead: return "sealed messages are AES-256-GCM with unique nonces and an authenticated header; any flipped bit is refused"
        case .epoch: return "every membership change starts a new epoch with a fresh GK; leavers cannot read later broadcasts, joiners earlier ones"
        case .broadcast: return "a broadcast needs the doctor's signature; repeated, older or other-epoch broadcasts are dropped"
        case .limit: return "every table has a bound; reaching it degrades as specified, never to unbounded memory or a lockout of everyone"
        case .noLeak: return "private keys, K, SK, GK and plaintexts never appear in logs, traces or error text"
        case .version: return "a patient speaks exactly its configured version and never falls back; the doctor refuses requests below its minimum version, uncounted"
        case .forwardSecrecy: return "version 2: fresh hedged ephemerals a and b per handshake, SK hashes Z = g^(ab), and every ephemeral secret is erased once SK is derived"
        case .transcript: return "version 2: the doctor's answer signs the digest H_1 of the request it answers, and SK hashes both digests"
        }
    }

    /// Every term and rule with its meaning, one per line, for `simulate --explain`.
    public static var reference: [String] {
        let width = max(terms.map(\.name.count).max() ?? 0, RuleID.allCases.map(\.rawValue.count).max() ?? 0)
        func row(_ name: String, _ meaning: String) -> String {
            name + String(repeating: " ", count: max(1, width + 2 - name.count)) + meaning
        }
        var lines = ["Symbols"]
        for term in terms {
            let aliases = term.aliases.filter { !$0.hasSuffix(" =") }
            lines.append("  " + row(term.name, term.meaning) + (aliases.isEmpty ? "" : " (also: \(aliases.joined(separator: ", ")))"))
        }
        lines.append("")
        lines.append("Rules (SECURITY-RULES in the spec catalogue)")
        for rule in RuleID.allCases { lines.append("  " + row(rule.rawValue, meaning(of: rule))) }
        lines.append("")
        lines.append("Times: protocol timestamps are milliseconds since 1970-01-01 UTC; the story prints the ISO 8601 UTC time beside each.")
        return lines
    }

    /// Terms and rules explained so far.
    private var explained: Set<String> = []

    /// A glossary that has explained nothing yet.
    public init() {}

    /// The glossary lines (`ΔTS — the clock tolerance: …`) for every term and rule id in
    /// `text` not explained before, in the order they appear; marks them explained.
    public mutating func firstMentions(in text: String) -> [String] {
        var found: [(position: String.Index, key: String, line: String)] = []
        for term in Glossary.terms where !explained.contains(term.name) {
            let positions = ([term.name] + term.aliases).compactMap { Glossary.firstToken($0, in: text) }
            if let position = positions.min() {
                found.append((position, term.name, "\(term.name) — \(term.meaning)"))
            }
        }
        for rule in RuleID.allCases where !explained.contains(rule.rawValue) {
            if let position = Glossary.firstToken(rule.rawValue, in: text) {
                found.append((position, rule.rawValue, "\(rule.rawValue) — \(Glossary.meaning(of: rule))"))
            }
        }
        found.sort { $0.position < $1.position }
        for entry in found { explained.insert(entry.key) }
        return found.map(\.line)
    }

    /// Where `token` first occurs in `text` as a whole word: not preceded or followed by a
    /// letter, digit, `_` or `-` (so `SK` is not found inside `SKV`, nor `R-SIG` inside `R-SIGX`).
    static func firstToken(_ token: String, in text: String) -> String.Index? {
        var searchFrom = text.startIndex
        while let range = text[searchFrom...].range(of: token) {
            let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
            let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
            if !isWordCharacter(before, token.first), !isWordCharacter(after, token.last) { return range.lowerBound }
            searchFrom = text.index(after: range.lowerBound)
        }
        return nil
    }

    /// True when `neighbour` would glue onto the token's `edge` character to make a longer word.
    private static func isWordCharacter(_ neighbour: Character?, _ edge: Character?) -> Bool {
        guard let neighbour, let edge else { return false }
        let edgeIsWord = edge.isLetter || edge.isNumber || edge == "_"
        guard edgeIsWord else { return false }
        return neighbour.isLetter || neighbour.isNumber || neighbour == "_" || neighbour == "-"
    }
}
