// MARK: - PeerAddress

/// The far end of a connection as the transport sees it: a normalised IP address and a port.
///
/// The runtime derives its notion of "source" from ``ip`` (for instance
/// `ip.masked(toPrefixLength: 64)` for IPv6); the port only tells connections apart.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    /// The normalised address.
    public let ip: IPAddress
    /// The TCP port, 0...65535.
    public let port: Int

    /// Pairs an address with a port.
    ///
    /// - Precondition: `port` is in 0...65535.
    public init(ip: IPAddress, port: Int) {
        precondition((0...65_535).contains(port), "A port must be in 0...65535, not \(port).")
        self.ip = ip
        self.port = port
    }

    /// Parses address text (see ``IPAddress/init(_:)``); nil when it is not an IP address or
    /// the port is out of range.
    public init?(host: String, port: Int) {
        guard let ip = IPAddress(host), (0...65_535).contains(port) else { return nil }
        self.init(ip: ip, port: port)
    }

    /// The normalised address text (`10.0.0.1`, `2001:db8::1`).
    public var host: String { ip.description }

    /// `10.0.0.1:7000` or `[2001:db8::1]:7000`.
    public var description: String {
        ip.isIPv4 ? "\(host):\(port)" : "[\(host)]:\(port)"
    }
}
