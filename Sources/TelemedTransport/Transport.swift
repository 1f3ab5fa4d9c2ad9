// MARK: - Transport

/// The sending half that every transport offers: frame bodies out, closes, nothing else.
///
/// Transports move bytes between peers and know nothing of the protocol. Frames are bodies:
/// the transport adds and removes the 4-byte big-endian length prefix and enforces
/// 1 ≤ length ≤ ``Framing/maxBodyLength`` in both directions.
///
/// How events arrive depends on the driver: a transport that runs by itself (TCP) also
/// conforms to ``AsyncTransport``; the in-memory network queues events until its
/// single-threaded driver takes them (``InMemoryNetwork/takeEvents()``).
public protocol Transport: AnyObject {
    /// Queues one frame body on a connection. Sends on a closed or unknown connection are
    /// ignored (a close may race with the runtime's decision to send).
    ///
    /// - Precondition: `body.count` is in `1...Framing.maxBodyLength`.
    func send(_ body: [UInt8], on connection: ConnectionID)

    /// Closes a connection after the frames already queued on it are written. The runtime
    /// then receives `.closed(connection, .byLocal)` unless another reason came first.
    /// Closing a closed or unknown connection does nothing.
    func close(_ connection: ConnectionID)
}

// MARK: - AsyncTransport

/// A transport that runs on its own threads and reports events on an async sequence.
public protocol AsyncTransport: Transport, Sendable {
    /// The transport's events, in order per connection. Iterate it from a single task only.
    var events: TransportEventStream { get }
}
