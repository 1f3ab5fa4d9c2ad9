// MARK: - TransportEvent

/// What a transport tells its runtime.
///
/// For every connection a transport reports exactly one ``opened(_:_:)``, then any number of
/// ``frame(_:_:)`` events in arrival order, then exactly one ``closed(_:_:)``; nothing follows
/// the close. ``refused(_:_:)`` stands alone: it reports a peer that was never given a
/// connection identifier.
public enum TransportEvent: Sendable, Equatable {
    /// A connection was accepted (inbound) or completed (outbound); the address is the far end's.
    case opened(ConnectionID, PeerAddress)
    /// One complete frame body arrived (the 4-byte length prefix already removed).
    case frame(ConnectionID, [UInt8])
    /// The connection is gone; sends on it are ignored from now on.
    case closed(ConnectionID, CloseReason)
    /// A peer connected but was turned away without a connection being reported (e.g. the
    /// connection cap); it is accepted and closed at once.
    case refused(PeerAddress, CloseReason)

    /// The connection the event is about, if any.
    public var connection: ConnectionID? {
        switch self {
        case .opened(let id, _), .frame(let id, _), .closed(let id, _): id
        case .refused: nil
        }
    }
}
