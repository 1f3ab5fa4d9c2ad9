// MARK: - FrameReassembler
//
// Theory of operation: bytes go in as they arrive, in any split; complete frame bodies come
// out. The 4-byte length is judged as soon as it is complete, before any body byte is waited
// for, so a peer cannot make the reassembler hold more than one announced-legal frame. Once a
// violation is found the reassembler is finished: it keeps the reason and ignores further input.

/// Turns a byte stream into frame bodies (the pure form of the TCP module's decoder).
public struct FrameReassembler: Sendable {
    /// What one call to ``consume(_:)`` found.
    public struct Output: Sendable, Equatable {
        /// The complete bodies, in order.
        public var frames: [[UInt8]] = []
        /// Set when the stream broke the framing rules; the stream must be closed with it.
        public var violation: CloseReason?

        /// An output (tests compare against these).
        public init(frames: [[UInt8]] = [], violation: CloseReason? = nil) {
            self.frames = frames
            self.violation = violation
        }
    }

    private var buffer: [UInt8] = []
    /// The violation that ended this stream, if any.
    public private(set) var violation: CloseReason?

    /// An empty reassembler.
    public init() {}

    /// Whether some bytes of an unfinished frame are held (an EOF now is a cut frame).
    public var isInsideFrame: Bool { !buffer.isEmpty }

    /// Adds bytes and returns the frames they complete (and a violation, if one occurred).
    public mutating func consume(_ bytes: [UInt8]) -> Output {
        var output = Output()
        guard violation == nil else { return output }
        buffer.append(contentsOf: bytes)
        var start = 0
        while buffer.count - start >= FrameFormat.prefixLength {
            let length = buffer[start..<start + 4].reduce(UInt32(0)) { ($0 << 8) | UInt32($1) }
            if let reason = FrameFormat.violation(forAnnouncedLength: length) {
                violation = reason
                output.violation = reason
                buffer = []
                return output
            }
            let end = start + FrameFormat.prefixLength + Int(length)
            guard buffer.count >= end else { break }
            output.frames.append(Array(buffer[(start + FrameFormat.prefixLength)..<end]))
            start = end
        }
        buffer.removeFirst(start)
        return output
    }
}
