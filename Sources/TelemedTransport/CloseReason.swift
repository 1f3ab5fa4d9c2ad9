// MARK: - CloseReason

/// Why a connection ended, as the transport saw it.
///
/// The transport closes a connection by itself only when it cannot go on: the stream ended
/// (cleanly or inside a frame), a write deadline passed, the outbound bound was hit, or the
/// system reported an error. Everything else (bad length prefixes, slow frames, handshakes
/// that take too long) is reported as an event and answered by the runtime.
public enum CloseReason: Sendable, Hashable, CustomStringConvertible {
    /// The peer ended the byte stream between two frames (an orderly close or a reset).
    case byPeer
    /// This side asked for the close (after flushing what it had queued), or shut the transport down.
    case byLocal
    /// The byte stream ended (or was reset) in the middle of a frame.
    case cutFrame
    /// Queued outbound frames could not be written within the write timeout.
    case writeTimeout
    /// A send would have queued more outbound bytes than the per-connection bound allows.
    case outboundQueueFull
    /// The transport already held its maximum number of connections.
    case connectionLimit
    /// The connection could not be made, or the operating system reported an error on it.
    case error(String)
    /// A listener that expects the HAProxy PROXY protocol v2 turned the connection away before
    /// any frame: its header was missing, malformed or too long, or the connection did not come
    /// from a configured proxy. The text says which (never any byte the peer sent).
    case proxyHeader(String)

    /// A short human-readable name with the detail, for logs and traces.
    public var description: String {
        switch self {
        case .byPeer: "closed by peer"
        case .byLocal: "closed locally"
        case .cutFrame: "stream ended inside a frame"
        case .writeTimeout: "outbound frames not written within the write timeout"
        case .outboundQueueFull: "outbound queue full"
        case .connectionLimit: "connection limit reached"
        case .error(let text): "error: \(text)"
        case .proxyHeader(let text): "PROXY protocol header refused: \(text)"
        }
    }
}
