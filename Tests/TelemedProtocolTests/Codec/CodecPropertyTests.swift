import enum TelemedTransport.Framing
import struct TelemedTransport.FrameDecoder
import Foundation
import PropertyBased
import TelemedCrypto
import TelemedTestSupport
import Testing
@testable import TelemedProtocol

/// Property checks (R-FRAME) of `MessageCodec.decode` and `FrameDecoder`, on swift-property-based
/// through `forAll`: random bytes, JSON-like token soup and mutated valid frames never trap;
/// every input ends in a typed error, an incomplete frame, or a message that re-encodes
/// (`MessageCodec.encode`) and decodes to itself.
///
/// A failure prints the (shrunk) input and its replay line, `replay: TELEMED_SEED=<seed> swift
/// test --filter CodecPropertyTests/<test>` (`ReplaySeed`), which reruns only that input; if an
/// input traps, `TELEMED_CODEC_TRACE=1` prints each input's bytes before it runs, so the last
/// one printed is the culprit. A failing input is kept as a named test over its bytes (as in
/// `FuzzFindingsRegressionTests`). `TELEMED_CODEC_STATS=1` prints how the cases ended.
@Suite struct CodecPropertyTests {
    static let casesPerKind = 1200
    static let codec = CodecFixtures.codec

    // MARK: - Tests

    /// Random bodies up to 400 bytes, each checked alone and framed in a stream cut into
    /// random chunks (the chunking from the second input).
    @Test func testRandomBytesNeverTrap() async {
        var stats = Stats()
        await forAll(count: Self.casesPerKind, zip(Gen.uint8().array(of: 0...399), Gen.uint64())) { body, chunking in
            Self.trace(body)
            var rng = SplitMix64(seed: chunking)
            let failure = Self.checkBody(body, &stats)
                ?? Self.checkStream(Framing.frame(body.isEmpty ? [0] : body) + body, &stats, using: &rng)
            #expect(failure == nil, "body \(TestHex.string(body))")
        }
        Self.report("randomBytes", stats)
        guard !ReplaySeed.isReplaying else { return }  // one replayed input; the outcome counts need the whole run
        #expect(stats.outcomes["invalidUTF8", default: 0] > 0)
    }

    /// Token soup (`tokenSoup(using:)`, drawn from the generated seed): mostly well-formed
    /// objects of schema keys and plausible and implausible values.
    @Test func testTokenSoupNeverTraps() async {
        var stats = Stats()
        await forAll(count: Self.casesPerKind, Gen.uint64()) { seed in
            var rng = SplitMix64(seed: seed)
            let body = Self.tokenSoup(using: &rng)
            Self.trace(body)
            let failure = Self.checkBody(body, &stats)
                ?? Self.checkStream(Framing.frame(body.isEmpty ? [0] : body), &stats, using: &rng)
            #expect(failure == nil, "body \(TestHex.string(body))")
        }
        Self.report("tokenSoup", stats)
        guard !ReplaySeed.isReplaying else { return }  // one replayed input; the outcome counts need the whole run
        // The soup must reach past the grammar into the field rules, or it tests little.
        #expect(stats.outcomes.count >= 6, "\(stats.outcomes)")
    }

    /// A valid frame of each message kind (`CodecFixtures.all`, the first input), mutated
    /// (`mutate(_:using:)`, from the seed) either in its body, framed correctly so the JSON layer
    /// sees the damage, or in the framed stream, header included, followed by a valid frame.
    @Test func testMutatedFramesNeverTrap() async {
        var stats = Stats()
        let input = zip(Gen.int(in: 0...(CodecFixtures.all.count - 1)), Gen.bool(), Gen.uint64())
        await forAll(count: Self.casesPerKind, input) { index, inBody, seed in
            var rng = SplitMix64(seed: seed)
            let body = Self.codec.encode(CodecFixtures.all[index])
            let failure: String?
            if inBody {
                var mutated = body
                Self.mutate(&mutated, using: &rng)
                Self.trace(mutated)
                if mutated.isEmpty || mutated.count > Framing.maxBodyLength {
                    failure = Self.checkBody(mutated, &stats)
                } else {
                    failure = Self.checkBody(mutated, &stats) ?? Self.checkStream(Framing.frame(mutated), &stats, using: &rng)
                }
                #expect(failure == nil, "body \(TestHex.string(mutated))")
            } else {
                var stream = Framing.frame(body)
                Self.mutate(&stream, using: &rng)
                Self.trace(stream)
                failure = Self.checkStream(stream + Framing.frame(body), &stats, using: &rng)
                #expect(failure == nil, "stream \(TestHex.string(stream))")
            }
        }
        Self.report("mutatedFrame", stats)
        guard !ReplaySeed.isReplaying else { return }  // one replayed input; the outcome counts need the whole run
        // The mutations must reach the frame layer, the JSON grammar and the field rules, and
        // leave some frames valid. (These kinds each come up dozens of times a run; rarer ones
        // such as integerOutOfRange come and go with the inputs, so they are not required.)
        let reached = ["message", "frame error", "invalidUTF8", "invalidJSON", "invalidHex", "wrongLength",
                       "missingKey", "unknownKey"]
        #expect(reached.allSatisfy { stats.outcomes[$0, default: 0] > 0 }, "\(stats.outcomes)")
        #expect(stats.outcomes.count >= reached.count, "\(stats.outcomes)")
    }

    /// The checks must be able to fail: a deliberately broken invariant is caught.
    @Test func testCheckerDetectsABrokenRoundTrip() {
        let message = Message.rejected
        #expect(Self.checkDecoded(message, reEncoded: Array(#"{"opcode":11}"#.utf8)) != nil)
        #expect(Self.checkDecoded(message, reEncoded: Self.codec.encode(message)) == nil)
        #expect(Self.checkErrorText(.unknownKey(String(repeating: "k", count: 200))) != nil)
    }

    // MARK: - Outcomes

    /// How the cases of one run ended: "message", a `DecodeError` case name, or "frame error".
    struct Stats {
        var outcomes: [String: Int] = [:]

        mutating func record(_ outcome: String) { outcomes[outcome, default: 0] += 1 }
    }

    /// Prints `bytes` before they run when `TELEMED_CODEC_TRACE` is set.
    static func trace(_ bytes: [UInt8]) {
        if ProcessInfo.processInfo.environment["TELEMED_CODEC_TRACE"] != nil { print("input \(TestHex.string(bytes))") }
    }

    /// Prints the outcome counts when `TELEMED_CODEC_STATS` is set.
    static func report(_ kind: String, _ stats: Stats) {
        if ProcessInfo.processInfo.environment["TELEMED_CODEC_STATS"] != nil { print("\(kind): \(stats.outcomes)") }
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

