// MARK: - Faults
//
// The driver's tools for misbehaving networks and peers. Each works on traffic in flight (by
// `DeliveryID`) or on a connection end, and returns nil/false when the target is gone, so a
// scripted fault aimed at something that already happened is a no-op rather than a crash.

extension InMemoryNetwork {
    /// Removes traffic in flight without delivering it; false when it is not in flight.
    @discardableResult
    public func drop(_ id: DeliveryID) -> Bool {
        guard let index = pendingDeliveries.firstIndex(where: { $0.id == id }) else { return false }
        pendingDeliveries.remove(at: index)
        return true
    }

    /// Puts a copy of traffic in flight at the back of the queue (a replay) and returns the
    /// copy's identifier; nil when the original is not in flight.
    @discardableResult
    public func duplicate(_ id: DeliveryID) -> DeliveryID? {
        guard let original = pendingDeliveries.first(where: { $0.id == id }) else { return nil }
        let copy = InMemoryDelivery(
            id: allocateDeliveryID(), connection: original.connection, from: original.from, to: original.to,
            payload: original.payload)
        pendingDeliveries.append(copy)
        return copy.id
    }

    /// Cuts a frame or raw bytes in flight into two raw-byte deliveries, the first `count`
    /// bytes of the stream and the rest, which take the original's place in the queue.
    /// Returns their identifiers; nil when the delivery is not in flight, carries no stream
    /// bytes, or `count` does not fall strictly inside them.
    @discardableResult
    public func split(_ id: DeliveryID, at count: Int) -> (DeliveryID, DeliveryID)? {
        guard let index = pendingDeliveries.firstIndex(where: { $0.id == id }) else { return nil }
        let original = pendingDeliveries[index]
        let bytes = original.streamBytes
        guard count > 0, count < bytes.count else { return nil }
        let parts = [Array(bytes[..<count]), Array(bytes[count...])].map { part in
            InMemoryDelivery(
                id: allocateDeliveryID(), connection: original.connection, from: original.from, to: original.to,
                payload: .bytes(part))
        }
        pendingDeliveries.replaceSubrange(index...index, with: parts)
        return (parts[0].id, parts[1].id)
    }

    /// Replaces what a delivery in flight carries (tampering on the path); false when it is
    /// not in flight.
    @discardableResult
    public func replacePayload(of id: DeliveryID, with payload: InMemoryDelivery.Payload) -> Bool {
        guard let index = pendingDeliveries.firstIndex(where: { $0.id == id }) else { return false }
        pendingDeliveries[index].payload = payload
        return true
    }

    /// Puts traffic in flight towards the end `connection`, as if its peer had sent it (an
    /// on-path attacker writing into an existing connection). Returns the delivery's
    /// identifier; nil when that end is gone.
    @discardableResult
    public func inject(_ payload: InMemoryDelivery.Payload, into connection: ConnectionID) -> DeliveryID? {
        if case .frame(let body) = payload {
            precondition(
                (1...Framing.maxBodyLength).contains(body.count),
                "An injected frame body must be 1...65536 bytes (use .bytes for malformed framing)."
            )
        }
        return enqueue(payload, to: connection)
    }

    /// Ends a connection end at once with `reason` (a transport timeout, a reset, a dead
    /// peer), as the owner would see it; its peer gets the end of stream behind the traffic
    /// in flight. False when the end is gone.
    @discardableResult
    public func fail(_ connection: ConnectionID, reason: CloseReason) -> Bool {
        guard ends[connection] != nil else { return false }
        closeEnd(connection, reason: reason)
        return true
    }

    /// Whether a connection end exists and has opened.
    public func isOpen(_ connection: ConnectionID) -> Bool {
        ends[connection]?.state == .open
    }
}
