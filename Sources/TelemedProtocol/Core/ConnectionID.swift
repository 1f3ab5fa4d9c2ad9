/// The host's name for one connection. The machines never interpret it.
public struct ConnectionID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The host-assigned number.
    public let rawValue: UInt64

    /// Wraps a host-assigned number.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    public static func < (lhs: ConnectionID, rhs: ConnectionID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "conn#\(rawValue)" }
}
