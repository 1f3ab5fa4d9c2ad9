import TelemedProtocol

// MARK: - Expectation

/// One thing that must hold once a step has settled. Each carries the JSON path it came
/// from, so a failure names the exact place in the file.
public struct Expectation: Sendable {
    /// `$.steps[3].expect.rejected`.
    public var path: String
    /// What is expected.
    public var kind: Kind

    /// The kinds of expectation a step can carry.
    public enum Kind: Sendable {
        /// The step's connection(s) became an authenticated session (true) or none did (false).
        case accepted(Bool)
        /// The doctor rejected something on the step's connection(s) under each of these rules.
        case rejected([RuleID])
        /// Exactly this many rejections under one rule on the step's connection(s).
        case rejectedCount(RuleID, Int)
        /// A patient dropped or closed on a doctor frame under each of these rules.
        case dropped([RuleID])
        /// Each rule fired somewhere during the step.
        case rules([RuleID])
        /// No rule fired during the step.
        case clean
        /// The doctor's epoch.
        case epoch(UInt64)
        /// The number of epochs the doctor started during the step lies in `atLeast...atMost`
        /// (a login storm's batched epochs, PROTOCOL.md §7.1).
        case epochsStarted(atLeast: UInt64, atMost: UInt64)
        /// The doctor's members, exactly.
        case members([String])
        /// These patients hold an active session.
        case active([String])
        /// These patients hold none.
        case inactive([String])
        /// Each target is blocked on the doctor's clock, optionally for at least/most this long from now.
        case blocked([BlockExpectation])
        /// None of these targets is blocked.
        case notBlocked([String])
        /// Who read broadcast `label` and who cannot (checked against every key each ever held).
        case readers(label: String, can: [String], cannot: [String])
        /// The doctor received a receipt for `label` from each.
        case receipts(label: String, from: [String])
        /// How each patient's latest session ended (`kicked`, `left`, `connectionLost`, a rule id, …).
        case ended([(String, String)])
        /// The doctor answered exactly this many KEY_VERIFICATIONs during the step.
        case sessionTokens(Int)
        /// The doctor raised these alerts (`clockBehindStart`, `repeatedDeviceBlocks`, …).
        case alerts([String])
        /// The operator command failed with this error (`nobodyConnected`, …).
        case commandError(String)
        /// R-ORACLE: the answer on the attacker connection reveals nothing of the victim's K.
        case oracle(victim: String, connection: String)
        /// Scan the trace so far for every secret the harness knows (R-NOLEAK).
        case noLeak
        /// Attack 30, key theft after the fact (PROTOCOL.md §8.8, §8.10): a thief who later holds
        /// `patient`'s private key, the doctor's and the recording of that patient's latest
        /// handshake recovers exactly `recovers` (of `K`, `K_GWN`, `SK`), and its best session
        /// key opens that session's GROUP_KEY (`opensSession`) or not.
        case keyTheft(patient: String, recovers: [String], opensSession: Bool)
    }
}

/// A block that must exist.
public struct BlockExpectation: Sendable {
    /// `203.0.113.7` (source), `alice@10.0.0.5` (device) or `203.0.113.0/24` (prefix), with the
    /// address normalised at load (see `HostText`).
    public var target: String
    /// The block must last at least this long from now (ms).
    public var minRemainingMillis: UInt64?
    /// And at most this long.
    public var maxRemainingMillis: UInt64?
}
