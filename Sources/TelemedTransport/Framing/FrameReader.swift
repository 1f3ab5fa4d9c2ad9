// MARK: - FrameReader
//
// Theory of operation: the receiving side of one connection's byte stream, shared by the TCP
// transport's handler and the in-memory network, so both report the same events for the same
// bytes whatever the chunking. It wraps the one `FrameDecoder` and turns each chunk into
// reports, in stream order:
//
//   frameStarted  a frame began in this chunk and is still incomplete at its end (reported
//                 once per frame: the host runs the frame's deadline from here)
//   frame         a complete body
//   refused       a length prefix of 0 or over 65536; nothing after it is ever read
//
// The reader never decides anything: whether a refused prefix gets REJECTED, whether a begun
// frame has waited too long and what a cut frame means are the protocol machine's answers.

/// One connection's inbound frame layer: bytes in, frame reports out.
public struct FrameReader: Sendable {
    /// What a chunk of stream bytes produced.
    public enum Report: Sendable, Equatable {
        /// A frame began and has not completed yet.
        case frameStarted
        /// A complete frame body.
        case frame([UInt8])
        /// A refused length prefix (`FrameError.declaredLength` is 0 for an empty frame). The
        /// reader ignores every later byte; the connection can still be written.
        case refused(FrameError)
    }

    private var decoder: FrameDecoder
    private var startReported = false
    /// The refusal, once a bad prefix was read.
    public private(set) var refusal: FrameError?

    /// A reader refusing bodies over `maxBodyLength` (default 65536).
    public init(maxBodyLength: Int = Framing.maxBodyLength) {
        decoder = FrameDecoder(maxBodyLength: maxBodyLength)
    }

    /// Whether bytes of an unfinished frame are held: an end of stream now cuts a frame.
    public var isInsideFrame: Bool { decoder.hasPartialFrame }

    /// Reads a chunk from a raw buffer (the TCP handler's path).
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) -> [Report] {
        guard refusal == nil else { return [] }
        decoder.append(bytes)
        return drain()
    }

    /// Reads a chunk (the in-memory network's path).
    public mutating func receive(_ bytes: [UInt8]) -> [Report] {
        guard refusal == nil else { return [] }
        decoder.append(bytes)
        return drain()
    }

    private mutating func drain() -> [Report] {
        var reports: [Report] = []
        while true {
            do {
                guard let body = try decoder.nextFrame() else { break }
                startReported = false
                reports.append(.frame(body))
            } catch {
                refusal = error
                reports.append(.refused(error))
                return reports
            }
        }
        if decoder.hasPartialFrame && !startReported {
            startReported = true
            reports.append(.frameStarted)
        }
        return reports
    }
}
