// MARK: - TCPTransportError

/// Why a TCP transport could not start or connect.
public enum TCPTransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server could not listen at the address (in use, not local, not resolvable, …).
    case bindFailed(host: String, port: Int, reason: SocketFailure)
    /// The client could not reach the address.
    case connectFailed(host: String, port: Int, reason: SocketFailure)
    /// The connection came up but its peer address could not be read (it closed at once).
    case peerAddressUnavailable
    /// The transport has been shut down.
    case shutDown

    /// The system error behind a failed listen or connect (`EADDRINUSE`, `ECONNREFUSED`, …).
    public var errno: Int32? {
        switch self {
        case let .bindFailed(_, _, reason), let .connectFailed(_, _, reason): reason.errno
        case .peerAddressUnavailable, .shutDown: nil
        }
    }

    /// The problem in one line: what, where and why (`cannot listen on 127.0.0.1:8000:
    /// address already in use (EADDRINUSE)`).
    public var description: String {
        switch self {
        case let .bindFailed(host, port, reason): "cannot listen on \(Self.address(host, port)): \(reason)"
        case let .connectFailed(host, port, reason): "cannot connect to \(Self.address(host, port)): \(reason)"
        case .peerAddressUnavailable: "the peer address of a new connection could not be read"
        case .shutDown: "the transport is shut down"
        }
    }

    /// `127.0.0.1:8000`, `[::1]:8000`.
    static func address(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
