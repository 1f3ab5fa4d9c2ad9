// MARK: - TransportEvent

/// What a transport tells its runtime.
///
/// For every connection a transport reports exactly one ``opened(_:_:)``, then any number of
/// ``frameStarted(_:)`` and ``frame(_:_:)`` events in arrival order, at most one
/// ``frameRefused(_:_:)`` (after which no frame of that connection is reported), then exactly
/// one ``closed(_:_:)``; nothing follows the close. ``refused(_:_:)`` stands alone: it reports a
/// peer that was never given a connection identifier.
///
/// The transport reports facts and decides nothing: it does not close a connection for a bad
/// length prefix or a slow frame. Its runtime (the protocol machine) answers them, and the
/// connection stays writable until the runtime closes it.
public enum TransportEvent: Sendable, Equatable {
    /// A connection was accepted (inbound) or completed (outbound); the address is the far end's.
    case opened(ConnectionID, PeerAddress)
    /// The first bytes of a frame arrived and the frame is not complete yet (reported once
    /// per frame, and only when a read ends inside it). Its deadline is the runtime's.
    case frameStarted(ConnectionID)
    /// One complete frame body arrived (the 4-byte length prefix already removed).
    case frame(ConnectionID, [UInt8])
    /// The peer sent a length prefix of 0 or over ``Framing/maxBodyLength``. No body byte was
    /// read and nothing more will be; the connection stays open and writable until the
    /// runtime closes it.
    case frameRefused(ConnectionID, FrameError)
    /// The connection is gone; sends on it are ignored from now on.
    case closed(ConnectionID, CloseReason)
    /// A peer connected but was turned away without a connection being reported (e.g. the
    /// connection cap); it is accepted and closed at once.
    case refused(PeerAddress, CloseReason)

    /// The connection the event is about, if any.
    public var connection: ConnectionID? {
        switch self {
        case .opened(let id, _), .frameStarted(let id), .frame(let id, _), .frameRefused(let id, _),
             .closed(let id, _): id
        case .refused: nil
        }
    }
}
