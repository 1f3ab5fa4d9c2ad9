import enum TelemedTransport.Framing
import struct TelemedTransport.FrameDecoder
import Foundation
import TelemedCrypto
import TelemedTestSupport
import XCTest
@testable import TelemedProtocol

/// Seeded property tests (R-FRAME): random bytes, JSON-like token soup and mutated valid frames
/// never trap; every input ends in a typed error, an incomplete frame, or a message that
/// re-encodes and decodes to itself.
///
/// A failure prints its case seed and `replay: TELEMED_SEED=<seed> swift test --filter
/// CodecPropertyTests/<test>` (`ReplaySeed`), which reruns only that case; if a case traps,
/// `TELEMED_CODEC_TRACE=1` prints each seed before it runs, so the last one is the culprit.
/// A case that fails is kept as a named test over its input bytes (as in
/// `FuzzFindingsRegressionTests`), not as a seed: a seed names the same input only while the
/// generators stay unchanged. None of these loops has failed so far.
final class CodecPropertyTests: XCTestCase {
    /// The kinds of generated input.
    enum Kind: String, CaseIterable {
        case randomBytes, tokenSoup, mutatedFrame
    }

    static let baseSeed: UInt64 = 0x7e1e_3ed0_c0de_0001
    static let casesPerKind = 1200
    static let codec = CodecFixtures.codec

    /// The seed of case `index` of `kind`.
    static func caseSeed(_ kind: Kind, _ index: Int) -> UInt64 {
        let kindIndex = UInt64(Kind.allCases.firstIndex(of: kind) ?? 0)
        return baseSeed &+ kindIndex << 32 &+ UInt64(index) &* 0x9e37_79b9_7f4a_7c15
    }

    // MARK: - Tests

    func testRandomBytesNeverTrap() throws {
        let stats = try runMany(.randomBytes)
        guard !replaying else { return }  // one replayed case; the outcome counts need the whole loop
        XCTAssertGreaterThan(stats.outcomes["invalidUTF8", default: 0], 0)
    }

    func testTokenSoupNeverTraps() throws {
        let stats = try runMany(.tokenSoup)
        guard !replaying else { return }  // one replayed case; the outcome counts need the whole loop
        // The soup must reach past the grammar into the field rules, or it tests little.
        XCTAssertGreaterThanOrEqual(stats.outcomes.count, 6, "\(stats.outcomes)")
    }

    func testMutatedFramesNeverTrap() throws {
        let stats = try runMany(.mutatedFrame)
        guard !replaying else { return }  // one replayed case; the outcome counts need the whole loop
        XCTAssertGreaterThan(stats.outcomes["message", default: 0], 0, "\(stats.outcomes)")
        XCTAssertGreaterThanOrEqual(stats.outcomes.count, 10, "\(stats.outcomes)")
    }

    /// The loop must be able to fail: a deliberately broken invariant is caught.
    func testCheckerDetectsABrokenRoundTrip() {
        let message = Message.rejected
        XCTAssertNotNil(Self.checkDecoded(message, reEncoded: Array(#"{"opcode":11}"#.utf8)))
        XCTAssertNil(Self.checkDecoded(message, reEncoded: Self.codec.encode(message)))
        XCTAssertNotNil(Self.checkErrorText(.unknownKey(String(repeating: "k", count: 200))))
    }

    // MARK: - Loop

    /// How the cases of one loop ended: "message", a `DecodeError` case name, or "frame error".
    struct Stats {
        var outcomes: [String: Int] = [:]

        mutating func record(_ outcome: String) { outcomes[outcome, default: 0] += 1 }
    }

    /// True when `TELEMED_SEED` names one case to replay.
    private var replaying: Bool { (try? ReplaySeed.current()) != nil }

    /// Runs every case of `kind`, or only the case `TELEMED_SEED` names; a failure prints its
    /// replay line for `test` (the calling test method).
    @discardableResult
    private func runMany(_ kind: Kind, test: String = #function) throws -> Stats {
        let trace = ProcessInfo.processInfo.environment["TELEMED_CODEC_TRACE"] != nil
        var stats = Stats()
        var failures = 0
        let seeds = try ReplaySeed.seeds((0..<Self.casesPerKind).lazy.map { Self.caseSeed(kind, $0) })
        for seed in seeds {
            if trace { print("\(kind) seed \(seed)") }
            if let failure = Self.runCase(kind, seed: seed, stats: &stats) {
                failures += 1
                XCTFail("""
                    \(kind) seed \(seed): \(failure)
                    \(ReplaySeed.hint(seed, in: self, function: test))
                    """)
                if failures >= 5 { break }
            }
        }
        if ProcessInfo.processInfo.environment["TELEMED_CODEC_STATS"] != nil { print("\(kind): \(stats.outcomes)") }
        return stats
    }

    /// Runs one case; nil when every invariant held, else what broke.
    static func runCase(_ kind: Kind, seed: UInt64, stats: inout Stats) -> String? {
        var rng = SplitMix64(seed: seed)
        switch kind {
        case .randomBytes:
            let body = rng.bytes(count: Int(rng.next() % 400))
            return checkBody(body, &stats) ?? checkStream(Framing.frame(body.isEmpty ? [0] : body) + body, &stats, using: &rng)
        case .tokenSoup:
            let body = tokenSoup(using: &rng)
            return checkBody(body, &stats) ?? checkStream(Framing.frame(body.isEmpty ? [0] : body), &stats, using: &rng)
        case .mutatedFrame:
            let message = CodecFixtures.all[Int(rng.next() % UInt64(CodecFixtures.all.count))]
            let body = codec.encode(message)
            if rng.next() % 2 == 0 {
                // Mutate the body and frame it correctly, so the JSON layer sees the damage.
                var mutated = body
                mutate(&mutated, using: &rng)
                guard !mutated.isEmpty, mutated.count <= Framing.maxBodyLength else { return checkBody(mutated, &stats) }
                return checkBody(mutated, &stats) ?? checkStream(Framing.frame(mutated), &stats, using: &rng)
            }
            // Mutate the framed stream (header included), followed by a valid frame.
            var stream = Framing.frame(body)
            mutate(&stream, using: &rng)
            return checkStream(stream + Framing.frame(body), &stats, using: &rng)
        }
    }

    // MARK: - Invariants

    /// Decoding `body` either throws (typed, with bounded peer text) or gives a message that
    /// re-encodes to a body decoding to the same message.
    static func checkBody(_ body: [UInt8], _ stats: inout Stats) -> String? {
        do {
            let message = try codec.decode(body)
            stats.record("message")
            return checkDecoded(message, reEncoded: codec.encode(message))
        } catch {
            stats.record(String(describing: error).prefix { $0 != "(" }.description)
            return checkErrorText(error)
        }
    }

    static func checkDecoded(_ message: Message, reEncoded: [UInt8]) -> String? {
        do {
            let again = try codec.decode(reEncoded)
            return again == message ? nil : "re-encoded message decodes to a different message"
        } catch {
            return "re-encoded message fails to decode: \(error)"
        }
    }

    static func checkErrorText(_ error: DecodeError) -> String? {
        let limit = DecodeError.maxEchoedBytes + "…".utf8.count
        switch error {
        case .duplicateKey(let text), .unknownKey(let text), .unexpectedGroup(let text):
            return text.utf8.count <= limit ? nil : "error echoes \(text.utf8.count) bytes of peer text"
        default:
            return nil
        }
    }

    /// Feeds `stream` to a frame decoder in random chunks and checks every frame it yields.
    static func checkStream(_ stream: [UInt8], _ stats: inout Stats, using rng: inout SplitMix64) -> String? {
        var decoder = FrameDecoder()
        var index = 0
        while index < stream.count {
            let end = min(stream.count, index + Int(rng.next() % 700) + 1)
            decoder.append(stream[index..<end])
            index = end
            if decoder.partialByteCount > Framing.maxBodyLength + 4 { return "frame buffer over the bound" }
            while true {
                let frame: [UInt8]?
                do {
                    frame = try decoder.nextFrame()
                } catch {
                    stats.record("frame error")
                    return nil  // A typed frame error ends the connection; that is a valid outcome.
                }
                guard let frame else { break }
                if frame.isEmpty || frame.count > Framing.maxBodyLength { return "frame of \(frame.count) bytes" }
                if let failure = checkBody(frame, &stats) { return failure }
            }
        }
        return nil
    }

    // MARK: - Generators

    static func mutate(_ bytes: inout [UInt8], using rng: inout SplitMix64) {
        let significant = Array(#"{}[]":,\-.0123456789eEu "#.utf8)
        for _ in 0..<(Int(rng.next() % 4) + 1) {
            let position = bytes.isEmpty ? 0 : Int(rng.next() % UInt64(bytes.count))
            switch rng.next() % 7 {
            case 0 where !bytes.isEmpty:
                bytes[position] ^= UInt8(1) << (rng.next() % 8)
            case 1:
                bytes.removeLast(bytes.count - position)
            case 2:
                bytes.insert(contentsOf: rng.bytes(count: Int(rng.next() % 4) + 1), at: position)
            case 3:
                bytes.insert(significant[Int(rng.next() % UInt64(significant.count))], at: position)
            case 4 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int(rng.next() % 16) + 1)
                bytes.removeSubrange(position..<end)
            case 5 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int(rng.next() % 80) + 1)
                let slice = Array(bytes[position..<end])
                bytes.insert(contentsOf: slice, at: Int(rng.next() % UInt64(bytes.count + 1)))
            case 6 where bytes.count >= 4:
                let value = rng.next()
                for offset in 0..<4 { bytes[offset] = UInt8(truncatingIfNeeded: value >> (8 * offset)) }
            default:
                break
            }
        }
    }

    /// A mostly well-formed object whose keys come from the schema (plus a few strays) and
    /// whose values are drawn from plausible and implausible field values, with rare noise.
    static func tokenSoup(using rng: inout SplitMix64) -> [UInt8] {
        let keys = ["opcode", "group", "id_i", "id_gwn", "ts_i", "ts_gwn", "ts", "rn_i", "rn_gwn", "skv", "c1", "c2",
                    "sig_r", "sig_s", "epoch", "seq", "members", "ct", "x", #"\u0069d_i"#, #"\ud800"#]
        let values = ["11", "30", "50", "60", "70", "0", "7", "-1", "1.5", "1e3", "9007199254740991",
                      "9007199254740992", "true", "null", "[]", "{}", #""p1""#, #""a b""#, #""telemed-2048-256""#,
                      #""\u0070""#, #""\ud800""#, "\"\(CodecFixtures.hex(bytes: 16))\"", "\"\(CodecFixtures.hex(bytes: 32))\"",
                      "\"\(CodecFixtures.hex(bytes: 48))\"", "\"\(CodecFixtures.hex(bytes: 256))\"", #""ABCD""#, #""abc""#]
        let noise = ["", " ", "\n", ",", ":", "{", "}", "\"", "\\", "0", "é", "\u{10FFFF}"]
        func pick(_ list: [String], _ rng: inout SplitMix64) -> String { list[Int(rng.next() % UInt64(list.count))] }
        var text = "{"
        for index in 0..<Int(rng.next() % 8) {
            if index > 0 { text += "," }
            let key = index == 0 && rng.next() % 4 != 0 ? "opcode" : pick(keys, &rng)
            text += "\"" + key + "\":" + pick(values, &rng)
            if rng.next() % 25 == 0 { text += pick(noise, &rng) }
        }
        text += "}"
        var out = Array(text.utf8)
        if rng.next() % 30 == 0, !out.isEmpty {
            out[Int(rng.next() % UInt64(out.count))] = UInt8(truncatingIfNeeded: rng.next())
        }
        return out
    }
}

