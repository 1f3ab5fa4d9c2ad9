import enum TelemedTransport.Framing
import struct TelemedTransport.FrameDecoder
import enum TelemedTransport.FrameError
import TelemedProtocol

// MARK: - FrameDecoderCheck
//
// Input: byte 0 picks the body limit (small limits reach `oversize` quickly), byte 1 seeds
// the chunking, the rest is the stream. The stream is decoded twice — in one chunk, and in
// chunks whose sizes come from the seed — and both runs must give the same frames and the
// same error. Each frame must be the stream's bytes (header then body) in order, a failed
// decoder must keep failing with the same error, and `hasPartialFrame` must agree with the
// bytes left over.

/// The frame decoder's fuzz driver.
public enum FrameDecoderCheck {
    /// Runs one input; throws on the first violated property.
    public static func run(_ data: [UInt8]) throws(FuzzViolation) {
        var input = FuzzInput(data)
        let limits = [1, 2, 7, 64, 300, 4_096, Framing.maxBodyLength, Int(UInt32.max)]
        let limit = limits[Int(input.byte() % UInt8(limits.count))]
        var chunkSeed = UInt64(input.byte()) | 1
        let stream = input.take(input.remaining)

        let whole = try decode(stream, limit: limit, chunks: [stream.count])
        var chunks: [Int] = []
        var covered = 0
        while covered < stream.count {
            chunkSeed = chunkSeed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let size = Int((chunkSeed >> 33) % 9)   // 0 (an empty append) … 8 bytes
            chunks.append(size)
            covered += size
        }
        let pieces = try decode(stream, limit: limit, chunks: chunks)
        try fuzzCheck(whole.frames == pieces.frames, "chunking changed the frames (limit \(limit))")
        try fuzzCheck(whole.error == pieces.error, "chunking changed the error: \(String(describing: whole.error)) vs \(String(describing: pieces.error))")
        try fuzzCheck(whole.partial == pieces.partial, "chunking changed hasPartialFrame")
        try checkAgainstStream(stream, limit: limit, whole)
    }

    struct Outcome {
        var frames: [[UInt8]] = []
        var error: FrameError?
        var partial = false
    }

    static func decode(_ stream: [UInt8], limit: Int, chunks: [Int]) throws(FuzzViolation) -> Outcome {
        var decoder = FrameDecoder(maxBodyLength: limit)
        var outcome = Outcome()
        var offset = 0
        for size in chunks {
            let end = min(stream.count, offset + size)
            decoder.append(stream[offset..<end])
            offset = end
            try drain(&decoder, into: &outcome)
        }
        try drain(&decoder, into: &outcome)
        if let error = outcome.error {
            // A failed decoder ignores later input and repeats its error.
            decoder.append([0, 0, 0, 1, 65])
            do {
                let frame = try decoder.nextFrame()
                throw FuzzViolation("a failed decoder returned \(frame.map { "a \($0.count)-byte frame" } ?? "nil")")
            } catch let again as FrameError {
                try fuzzCheck(again == error, "a failed decoder changed its error")
            } catch let violation as FuzzViolation {
                throw violation
            } catch {
                throw FuzzViolation("unexpected error type")
            }
            try fuzzCheck(!decoder.hasPartialFrame, "a failed decoder reports a partial frame")
        }
        outcome.partial = decoder.hasPartialFrame
        return outcome
    }

    static func drain(_ decoder: inout FrameDecoder, into outcome: inout Outcome) throws(FuzzViolation) {
        guard outcome.error == nil else { return }
        var count = 0
        while true {
            count += 1
            try fuzzCheck(count <= 70_000, "nextFrame never returns nil")
            do {
                guard let frame = try decoder.nextFrame() else { return }
                try fuzzCheck((1...decoder.maxBodyLength).contains(frame.count),
                              "frame of \(frame.count) bytes outside 1...\(decoder.maxBodyLength)")
                outcome.frames.append(frame)
            } catch let error as FrameError {
                outcome.error = error
                return
            } catch let violation as FuzzViolation {
                throw violation
            } catch {
                throw FuzzViolation("unexpected error type")
            }
        }
    }

    /// The frames must be exactly the stream's header+body runs, and the error and the
    /// leftover must match the first header that is bad or incomplete.
    static func checkAgainstStream(_ stream: [UInt8], limit: Int, _ outcome: Outcome) throws(FuzzViolation) {
        var offset = 0
        var index = 0
        while offset + 4 <= stream.count {
            let declared = stream[offset..<(offset + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            if declared == 0 {
                try fuzzCheck(outcome.error == .emptyFrame, "zero length not reported as emptyFrame")
                try fuzzCheck(index == outcome.frames.count, "frames after a zero length")
                return
            }
            if UInt64(declared) > UInt64(limit) {
                try fuzzCheck(outcome.error == .oversize(declared: declared), "length \(declared) over \(limit) not refused")
                try fuzzCheck(index == outcome.frames.count, "frames after an oversize length")
                return
            }
            let end = offset + 4 + Int(declared)
            guard end <= stream.count else {
                try fuzzCheck(outcome.error == nil && outcome.partial, "an incomplete body is not a partial frame")
                try fuzzCheck(index == outcome.frames.count, "an incomplete body was returned")
                return
            }
            try fuzzCheck(index < outcome.frames.count && outcome.frames[index] == Array(stream[(offset + 4)..<end]),
                          "frame \(index) differs from the stream")
            index += 1
            offset = end
        }
        try fuzzCheck(outcome.error == nil, "an error without a bad header")
        try fuzzCheck(index == outcome.frames.count, "more frames than the stream holds")
        try fuzzCheck(outcome.partial == (offset < stream.count), "hasPartialFrame wrong for \(stream.count - offset) leftover header bytes")
    }
}
