import TelemedCrypto

/// Verified (id, rn) pairs, each remembered for 2·ΔTS on the monotonic clock (R-REPLAY).
///
/// Bounded: when it is full of live entries an insert fails, and the caller rejects the
/// request (fail closed). Entries leave in insertion order, which is also expiry order
/// because the monotonic clock never steps back.
struct ReplayCache: Sendable {
    struct Key: Hashable, Sendable {
        let patient: PeerID
        let nonce: Bytes32
    }

    let capacity: Int
    let lifetime: UInt64
    private var expiries: [Key: UInt64] = [:]
    private var order: [(key: Key, expiry: UInt64)] = []
    private var head = 0

    init(capacity: Int, lifetime: UInt64) {
        self.capacity = capacity
        self.lifetime = lifetime
    }

    var count: Int { expiries.count }

    /// True when (id, rn) was seen within its lifetime.
    func contains(_ patient: PeerID, _ nonce: Bytes32, now: UInt64) -> Bool {
        guard let expiry = expiries[Key(patient: patient, nonce: nonce)] else { return false }
        return expiry > now
    }

    enum InsertResult: Equatable { case inserted, duplicate, full }

    /// Atomic check-and-insert.
    mutating func insert(_ patient: PeerID, _ nonce: Bytes32, now: UInt64) -> InsertResult {
        purge(now: now)
        let key = Key(patient: patient, nonce: nonce)
        if let expiry = expiries[key], expiry > now { return .duplicate }
        guard expiries.count < capacity else { return .full }
        let expiry = now &+ lifetime
        expiries[key] = expiry
        order.append((key, expiry))
        return .inserted
    }

    /// Drops entries whose lifetime has ended.
    mutating func purge(now: UInt64) {
        while head < order.count, order[head].expiry <= now {
            let entry = order[head]
            if expiries[entry.key] == entry.expiry { expiries[entry.key] = nil }
            head += 1
        }
        if head > 1_024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
