import TelemedCrypto

/// Verified (id, rn) pairs, each remembered for 2·ΔTS on the monotonic clock (R-REPLAY).
///
/// Bounded twice (PROTOCOL.md §7.3): in all (`capacity`) and per patient id (`quotaPerID`).
/// An insert that would exceed either bound fails and the caller rejects the request (fail
/// closed, R-LIMIT). Entries leave in insertion order, which is also expiry order because the
/// monotonic clock never steps back. The live count of each id is kept in a dictionary that
/// is updated on every insert and every expiry, so neither needs a scan.
struct ReplayCache: Sendable {
    struct Key: Hashable, Sendable {
        let patient: PeerID
        let nonce: Bytes32
    }

    let capacity: Int
    let quotaPerID: Int
    let lifetime: UInt64
    private var expiries: [Key: UInt64] = [:]
    private var order: [(key: Key, expiry: UInt64)] = []
    private var head = 0
    /// Live entries per id (an id with none has no key).
    private var perID: [PeerID: Int] = [:]

    init(capacity: Int, quotaPerID: Int, lifetime: UInt64) {
        self.capacity = capacity
        self.quotaPerID = quotaPerID
        self.lifetime = lifetime
    }

    var count: Int { expiries.count }

    /// The entries `patient` holds (live ones, once ``purge(now:)`` has run).
    func count(of patient: PeerID) -> Int { perID[patient] ?? 0 }

    /// True when (id, rn) was seen within its lifetime.
    func contains(_ patient: PeerID, _ nonce: Bytes32, now: UInt64) -> Bool {
        guard let expiry = expiries[Key(patient: patient, nonce: nonce)] else { return false }
        return expiry > now
    }

    /// The outcome of ``insert(_:_:now:)``, in the order the checks run.
    enum InsertResult: Equatable {
        /// Recorded.
        case inserted
        /// (id, rn) is already live (R-REPLAY).
        case duplicate
        /// The id already holds its quota of live entries (R-LIMIT).
        case quotaExceeded
        /// The whole cache is full of live entries (R-LIMIT).
        case full
    }

    /// Atomic check-and-insert: duplicate, then the id's quota, then the whole cache. A
    /// refused insert changes nothing but the expiry of entries whose lifetime had ended.
    mutating func insert(_ patient: PeerID, _ nonce: Bytes32, now: UInt64) -> InsertResult {
        purge(now: now)
        let key = Key(patient: patient, nonce: nonce)
        if let expiry = expiries[key], expiry > now { return .duplicate }
        guard count(of: patient) < quotaPerID else { return .quotaExceeded }
        guard expiries.count < capacity else { return .full }
        let expiry = now &+ lifetime
        expiries[key] = expiry
        order.append((key, expiry))
        perID[patient, default: 0] += 1
        return .inserted
    }

    /// Forgets every entry of `patient` (it was revoked or its key replaced: a request of an id
    /// that is not enrolled must meet an empty cache, as an unknown id's does). Scans the cache
    /// once; an operator action, not a per-request cost.
    mutating func remove(_ patient: PeerID) {
        guard perID[patient] != nil else { return }
        for key in expiries.keys where key.patient == patient { expiries[key] = nil }
        perID[patient] = nil
    }

    /// Drops entries whose lifetime has ended.
    mutating func purge(now: UInt64) {
        while head < order.count, order[head].expiry <= now {
            let entry = order[head]
            if expiries[entry.key] == entry.expiry {
                expiries[entry.key] = nil
                let left = (perID[entry.key.patient] ?? 1) - 1
                perID[entry.key.patient] = left > 0 ? left : nil
            }
            head += 1
        }
        if head > 1_024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
