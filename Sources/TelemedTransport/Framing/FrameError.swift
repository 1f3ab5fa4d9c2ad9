// MARK: - FrameError

/// Why a byte stream cannot be cut into frames (PROTOCOL.md §4 "Framing"; R-FRAME).
/// Both are detected from the 4 length bytes alone, before any body byte is buffered.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The length prefix was 0; a frame body has at least one byte.
    case emptyFrame
    /// The length prefix exceeded the decoder's limit (65536 by default).
    case oversize(declared: UInt32)

    /// The length prefix the peer sent (0 for an empty frame).
    public var declaredLength: UInt32 {
        switch self {
        case .emptyFrame: 0
        case let .oversize(declared): declared
        }
    }

    /// `frame length 0 outside 1...65536`, for audit text and logs.
    public var description: String {
        "frame length \(declaredLength) outside 1...\(Framing.maxBodyLength)"
    }
}
