// MARK: - ConnectionID

/// Names one connection as one transport sees it.
///
/// Identifiers are handed out by the transport in increasing order and never reused while that
/// transport lives, so a runtime may key its per-connection state by them and a trace can sort
/// by them. The two ends of one in-memory connection have different identifiers.
public struct ConnectionID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The number behind the identifier.
    public let rawValue: UInt64

    /// Wraps a raw number (transports allocate these; tests may build them to compare).
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// Orders identifiers by allocation.
    public static func < (lhs: ConnectionID, rhs: ConnectionID) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// `conn#7`.
    public var description: String { "conn#\(rawValue)" }
}
