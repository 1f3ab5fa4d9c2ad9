// MARK: - FrameError

/// Why a byte stream cannot be cut into frames (PROTOCOL.md §4 "Framing"; R-FRAME).
/// Both are detected from the 4 length bytes alone, before any body byte is buffered.
public enum FrameError: Error, Equatable, Sendable {
    /// The length prefix was 0; a frame body has at least one byte.
    case emptyFrame
    /// The length prefix exceeded the decoder's limit (65536 by default).
    case oversize(declared: UInt32)
}
