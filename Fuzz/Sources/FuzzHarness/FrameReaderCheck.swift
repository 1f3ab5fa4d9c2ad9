import enum TelemedTransport.FrameError
import struct TelemedTransport.FrameReader

// MARK: - FrameReaderCheck
//
// Drives `FrameReader.receive`, the object both transports run on every inbound chunk: the
// TCP handler (`ConnectionHandler.channelRead`, raw-buffer overload) and the in-memory
// network (`InMemoryNetwork.receive`, array overload). One stream is fed in the chunks given,
// through one of the two overloads, and every chunk's reports are compared with what
// `FrameStreamModel` derives from the bytes:
//
//   * the frames and the refusal are the stream's, the same as the one-chunk decode;
//   * per chunk, exactly the units finishing in it, in order, then `.frameStarted` if a unit
//     became open at its end: so one `.frameStarted` per frame (or refused / cut prefix) that
//     spans a chunk boundary, none for a frame inside one chunk;
//   * nothing after `.refused`, in that chunk or later ones, and `refusal` keeps the error;
//   * `isInsideFrame` after each chunk is true exactly while a unit is open (what a transport
//     reads to tell a cut frame from a clean close).
// The reader's buffer is its `FrameDecoder`'s; `FrameDecoderCheck` bounds that one per chunk
// (`partialByteCount` ≤ limit + 4), fed the same chunks.

/// The frame reader's fuzz driver (called by `FrameDecoderCheck.run`).
enum FrameReaderCheck {
    /// Which `receive` overload feeds the chunks.
    enum Path: CustomStringConvertible {
        /// `receive(UnsafeRawBufferPointer)`: the TCP handler's.
        case socketBuffer
        /// `receive([UInt8])`: the in-memory network's.
        case array

        var description: String {
            switch self {
            case .socketBuffer: "raw-buffer (TCP)"
            case .array: "array (in-memory)"
            }
        }
    }

    /// Feeds `stream` in `chunks` (sizes; the last may overshoot) and checks every report.
    static func run(_ stream: [UInt8], limit: Int, chunks: [Int], path: Path,
                    model: FrameStreamModel) throws(FuzzViolation) {
        var reader = FrameReader(maxBodyLength: limit)
        let context = "limit \(limit), \(chunks.count) chunks, \(path)"
        var frames: [[UInt8]] = []
        var refusal: FrameError?
        var started = 0
        var boundaries: [Int] = []
        var offset = 0
        for (index, size) in chunks.enumerated() {
            let end = min(stream.count, offset + size)
            let reports: [FrameReader.Report]
            switch path {
            case .socketBuffer:
                // As NIO hands the handler a view of its buffer: no copy.
                reports = stream.withUnsafeBytes { reader.receive(UnsafeRawBufferPointer(rebasing: $0[offset..<end])) }
            case .array:
                reports = reader.receive(Array(stream[offset..<end]))
            }
            for report in reports {
                try fuzzCheck(refusal == nil, "a report after .refused (chunk \(index), \(context))")
                switch report {
                case .frameStarted: started += 1
                case let .frame(body):
                    try fuzzCheck((1...limit).contains(body.count), "a \(body.count)-byte frame (\(context))")
                    frames.append(body)
                case let .refused(error): refusal = error
                }
            }
            let expected = model.expectedReports(from: offset, to: end)
            try fuzzCheck(reports == expected,
                          "chunk \(index) [\(offset), \(end)) reported \(summary(reports)), expected \(summary(expected)) (\(context))")
            try fuzzCheck(reader.isInsideFrame == (model.openUnit(at: end) != nil),
                          "isInsideFrame \(reader.isInsideFrame) after chunk \(index) ending at \(end) (\(context))")
            try fuzzCheck(reader.refusal == refusal, "reader.refusal \(String(describing: reader.refusal)) (\(context))")
            boundaries.append(end)
            offset = end
        }
        try fuzzCheck(frames == model.frames, "the frames differ from the stream's (\(context))")
        try fuzzCheck(refusal == model.refusal,
                      "refusal \(String(describing: refusal)), the stream's \(String(describing: model.refusal)) (\(context))")
        let spanning = model.unitsSpanningABoundary(boundaries)
        try fuzzCheck(started == spanning, "\(started) × .frameStarted for \(spanning) frames spanning a boundary (\(context))")
        if refusal != nil {
            // A refused reader reads nothing more, whatever arrives.
            let after = reader.receive([0, 0, 0, 1, 65, 0, 0])
            try fuzzCheck(after.isEmpty, "a refused reader reported \(summary(after))")
            try fuzzCheck(!reader.isInsideFrame, "a refused reader is inside a frame")
        }
    }

    static func summary(_ reports: [FrameReader.Report]) -> String {
        let parts = reports.map { report -> String in
            switch report {
            case .frameStarted: "started"
            case let .frame(body): "frame(\(body.count))"
            case let .refused(error): "refused(\(error.declaredLength))"
            }
        }
        return "[" + parts.joined(separator: ", ") + "]"
    }
}
