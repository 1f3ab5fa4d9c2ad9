// MARK: - TCPTransportError

/// Why a TCP transport could not start or connect.
public enum TCPTransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server could not listen at the address (in use, not local, not resolvable, …).
    case bindFailed(host: String, port: Int, reason: String)
    /// The client could not reach the address.
    case connectFailed(host: String, port: Int, reason: String)
    /// The connection came up but its peer address could not be read (it closed at once).
    case peerAddressUnavailable
    /// The transport has been shut down.
    case shutDown

    /// The problem in one line.
    public var description: String {
        switch self {
        case let .bindFailed(host, port, reason): "cannot listen on \(host):\(port): \(reason)"
        case let .connectFailed(host, port, reason): "cannot connect to \(host):\(port): \(reason)"
        case .peerAddressUnavailable: "the peer address of a new connection could not be read"
        case .shutDown: "the transport is shut down"
        }
    }
}
