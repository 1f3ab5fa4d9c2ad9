// MARK: - CloseReason

/// Why a connection ended, as the transport saw it.
///
/// Framing violations and timeouts name what the peer did; the runtime decides what each one
/// means (for instance, whether it counts against the peer's source address).
public enum CloseReason: Sendable, Hashable, CustomStringConvertible {
    /// The peer ended the byte stream between two frames (an orderly close or a reset).
    case byPeer
    /// This side asked for the close (after flushing what it had queued), or shut the transport down.
    case byLocal
    /// The peer announced a frame longer than ``FrameFormat/maximumBodyLength``; no body byte was awaited.
    case oversizeFrame(UInt32)
    /// The peer announced a frame of length zero.
    case emptyFrame
    /// The byte stream ended (or was reset) in the middle of a frame.
    case cutFrame
    /// No complete frame arrived within the handshake timeout after the connection opened.
    case handshakeTimeout
    /// A frame began to arrive but did not complete within the frame timeout.
    case frameTimeout
    /// Nothing arrived from the peer within the idle timeout.
    case idleTimeout
    /// Queued outbound frames could not be written within the write timeout.
    case writeTimeout
    /// A send would have queued more outbound bytes than the per-connection bound allows.
    case outboundQueueFull
    /// The transport already held its maximum number of connections.
    case connectionLimit
    /// The connection could not be made, or the operating system reported an error on it.
    case error(String)

    /// A short human-readable name with the detail, for logs and traces.
    public var description: String {
        switch self {
        case .byPeer: "closed by peer"
        case .byLocal: "closed locally"
        case .oversizeFrame(let length): "oversize frame (announced \(length) bytes)"
        case .emptyFrame: "empty frame announced"
        case .cutFrame: "stream ended inside a frame"
        case .handshakeTimeout: "no complete frame within the handshake timeout"
        case .frameTimeout: "frame not completed within the frame timeout"
        case .idleTimeout: "idle timeout"
        case .writeTimeout: "outbound frames not written within the write timeout"
        case .outboundQueueFull: "outbound queue full"
        case .connectionLimit: "connection limit reached"
        case .error(let text): "error: \(text)"
        }
    }
}
