import enum TelemedTransport.Framing
import struct TelemedTransport.FrameDecoder
import enum TelemedTransport.FrameError
import TelemedProtocol

// MARK: - FrameDecoderCheck
//
// The `frame` fuzz target's driver. It exercises the package's one length-prefix decoder as
// production runs it: `FrameDecoder` directly, and `FrameReader.receive` — the entry point of
// both transports, called by the TCP handler's `ConnectionHandler.channelRead` (raw-buffer
// overload) and by `InMemoryNetwork.receive` (array overload) — through both overloads.
//
// Input: byte 0 picks the body limit (small limits reach `oversize` quickly), byte 1 seeds
// the chunking, the rest is the stream. The stream is fed three ways: in one chunk, in chunks
// of 0–8 bytes, and in mixed chunks (0–8 or 0–299 bytes) from the seed.
//
// Decoder: every chunking gives the same frames, error and `hasPartialFrame`; each frame is
// the stream's bytes (header then body) in order; a failed decoder keeps failing with the same
// error; after every chunk the partial bytes are exactly the unfinished frame's (header bytes,
// then body bytes), never more than limit + 4, and the capacity follows the bytes received,
// not the declared length.
// Reader (`FrameReaderCheck`): the same frames and refusal as one chunk, per chunk exactly
// the expected reports (one `.frameStarted` per frame spanning a chunk boundary, none
// otherwise), nothing after `.refused`, `isInsideFrame` right after every chunk.
// `FrameStreamModel` holds the expectations, computed from the bytes without the decoder.

/// The frame decoder's (and reader's) fuzz driver.
public enum FrameDecoderCheck {
    /// Runs one input; throws on the first violated property.
    public static func run(_ data: [UInt8]) throws(FuzzViolation) {
        var input = FuzzInput(data)
        let limits = [1, 2, 7, 64, 300, 4_096, Framing.maxBodyLength, Int(UInt32.max)]
        let limit = limits[Int(input.byte() % UInt8(limits.count))]
        let seed = UInt64(input.byte()) | 1
        let stream = input.take(input.remaining)
        let model = FrameStreamModel(stream, limit: limit)

        let oneChunk = [stream.count]
        let small = chunking(stream.count, seed: seed) { $0 % 9 }   // 0 (an empty append) … 8 bytes
        let mixed = chunking(stream.count, seed: seed ^ 0x9e37_79b9) { $0 & 3 == 0 ? ($0 >> 2) % 300 : ($0 >> 2) % 9 }

        let whole = try decode(stream, limit: limit, chunks: oneChunk, model: model)
        for chunks in [small, mixed] {
            let pieces = try decode(stream, limit: limit, chunks: chunks, model: model)
            try fuzzCheck(whole.frames == pieces.frames, "chunking changed the frames (limit \(limit))")
            try fuzzCheck(whole.error == pieces.error, "chunking changed the error: \(String(describing: whole.error)) vs \(String(describing: pieces.error))")
            try fuzzCheck(whole.partial == pieces.partial, "chunking changed hasPartialFrame")
        }
        try checkAgainstStream(model, streamLength: stream.count, whole)

        // One chunk through both overloads; the small chunks through the TCP handler's (NIO
        // hands it whatever the socket read), the mixed ones through the in-memory network's.
        let readerRuns: [([Int], FrameReaderCheck.Path)] = [
            (oneChunk, .socketBuffer), (oneChunk, .array), (small, .socketBuffer), (mixed, .array),
        ]
        for (chunks, path) in readerRuns {
            try FrameReaderCheck.run(stream, limit: limit, chunks: chunks, path: path, model: model)
        }
    }

    /// Chunk sizes covering `length` bytes, drawn from a linear congruential sequence.
    static func chunking(_ length: Int, seed: UInt64, size: (UInt64) -> UInt64) -> [Int] {
        var state = seed
        var chunks: [Int] = []
        var covered = 0
        while covered < length {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let next = Int(size(state >> 33))
            chunks.append(next)
            covered += next
        }
        return chunks
    }

    struct Outcome {
        var frames: [[UInt8]] = []
        var error: FrameError?
        var partial = false
    }

    static func decode(_ stream: [UInt8], limit: Int, chunks: [Int],
                       model: FrameStreamModel) throws(FuzzViolation) -> Outcome {
        var decoder = FrameDecoder(maxBodyLength: limit)
        var outcome = Outcome()
        var offset = 0
        for size in chunks {
            let end = min(stream.count, offset + size)
            decoder.append(stream[offset..<end])
            offset = end
            try checkPartial(decoder, at: end, limit: limit, model: model)
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

    /// After a chunk: the decoder holds exactly the open unit's bytes (≤ limit + 4), and the
    /// body's capacity follows the bytes received (doubling growth plus allocator rounding),
    /// never the length the peer declared.
    static func checkPartial(_ decoder: FrameDecoder, at boundary: Int, limit: Int,
                             model: FrameStreamModel) throws(FuzzViolation) {
        let held = decoder.partialByteCount
        let expected = model.partialBytes(at: boundary)
        try fuzzCheck(held == expected, "\(held) partial bytes held at \(boundary), expected \(expected) (limit \(limit))")
        try fuzzCheck(UInt64(held) <= UInt64(limit) + 4, "\(held) partial bytes over limit \(limit) + 4")
        try fuzzCheck(decoder.hasPartialFrame == (model.openUnit(at: boundary) != nil),
                      "hasPartialFrame \(decoder.hasPartialFrame) at \(boundary)")
        let capacity = decoder.partialBodyCapacity
        try fuzzCheck(capacity <= 2 * held + 4_160,
                      "partial body capacity \(capacity) for \(held) bytes held (limit \(limit))")
    }

    /// The frames must be exactly the stream's header+body runs, and the error and the
    /// leftover must match the first header that is bad or incomplete.
    static func checkAgainstStream(_ model: FrameStreamModel, streamLength: Int, _ outcome: Outcome) throws(FuzzViolation) {
        try fuzzCheck(outcome.frames == model.frames, "the frames differ from the stream's header+body runs")
        switch model.units.last?.kind {
        case let .refused(error)?:
            try fuzzCheck(outcome.error == error, "prefix \(error.declaredLength) not refused as \(error), got \(String(describing: outcome.error))")
            try fuzzCheck(!outcome.partial, "a failed decoder reports a partial frame")
        case .incomplete?:
            try fuzzCheck(outcome.error == nil && outcome.partial, "an incomplete header or body is not a partial frame")
        case .frame?, nil:
            try fuzzCheck(outcome.error == nil, "an error without a bad header")
            try fuzzCheck(!outcome.partial, "hasPartialFrame with no bytes left over")
        }
    }
}
