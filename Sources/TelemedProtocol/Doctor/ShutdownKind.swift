// MARK: - ShutdownKind

/// Whether a doctor that disconnects every patient is coming back: the reason text of the
/// DISCONNECT it sends to each member (PROTOCOL.md §4 leaves the reason free UTF-8 text; these
/// two values are this implementation's choice, documented in the wire protocol article).
///
/// A patient that reads `restarting` reconnects with backoff; one that reads `shutdown` stops.
public enum ShutdownKind: String, Sendable, Equatable, CaseIterable {
    /// The doctor will be back (a restart, an upgrade, the operator's `disconnect`): reconnect.
    case restarting
    /// The doctor closed for good: do not reconnect.
    case shutdown

    /// The DISCONNECT reason text (`restarting` or `shutdown`).
    public var reason: String { rawValue }

    /// The kind a DISCONNECT reason names, or nil for any other reason (`kicked`, `revoked`, …).
    public init?(reason: String) {
        self.init(rawValue: reason)
    }
}
