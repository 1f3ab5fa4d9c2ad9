// MARK: - TransportEventStream

/// The events of an ``AsyncTransport`` as an async sequence, with read-side flow control.
///
/// It wraps an `AsyncStream` and tells the transport each time the consumer takes an event,
/// so a transport can stop reading from a connection whose frames pile up unconsumed instead
/// of buffering without bound. There must be a single consumer.
public struct TransportEventStream: AsyncSequence, Sendable {
    /// The events.
    public typealias Element = TransportEvent
    /// The stream ends (returns `nil`) when the transport has shut down; it never throws.
    public typealias Failure = Never

    private let base: AsyncStream<TransportEvent>
    private let taken: @Sendable (TransportEvent) -> Void

    /// Wraps a stream; `taken` is called, on the consumer's task, with each event as it is
    /// handed to the consumer.
    public init(_ base: AsyncStream<TransportEvent>, taken: @escaping @Sendable (TransportEvent) -> Void) {
        self.base = base
        self.taken = taken
    }

    /// Starts the (single) iteration.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), taken: taken)
    }

    /// Iterates the events, reporting each one taken.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<TransportEvent>.Iterator
        let taken: @Sendable (TransportEvent) -> Void

        /// The next event, or `nil` once the transport has shut down.
        public mutating func next() async -> TransportEvent? {
            guard let event = await base.next() else { return nil }
            taken(event)
            return event
        }
    }
}
