// Theory of operation: the doctor's blocking rules (PROTOCOL.md §5, "Sources and counters";
// R-SRC, R-BLOCK, R-SKV, R-LIMIT). All times are the doctor's wall clock in ms. Every
// mutation returns the `SecurityChange`s it made, in order, so the machine can emit them as
// persist actions ahead of the answer that depends on them. Expired entries are removed
// lazily; nothing here is driven by a peer's timestamp.

/// An operator-facing alert. Alerts carry no secrets.
public enum SecurityAlert: Sendable, Equatable {
    /// The failure-counter table was full of live entries: a failure went uncounted.
    case failureTableFull(SourceAddress)
    /// The source-block table could not take even a prefix block: unauthenticated requests
    /// are refused until it has room.
    case sourceBlockTableSaturated
    /// One id was device-blocked from this many distinct sources within 24 h.
    case repeatedDeviceBlocks(PeerID, sources: Int)
    /// The wall clock reads more than ΔTS before T0: new connections are refused.
    case clockBehindStart(clock: UInt64, startTime: UInt64)
}

/// The blocking rules over a ``SecurityState``.
struct SecurityPolicy: Sendable {
    private(set) var state: SecurityState
    let configuration: DoctorConfiguration
    /// Set while a source block could not be recorded at all.
    private(set) var saturated = false
    /// The device-block table's bound: `deviceBlocksPerPatient` × enrolled patients (at least one).
    private(set) var deviceCapacity: Int
    /// When each entry of `state` may expire (see ExpiryQueue.swift): purges pop it instead of
    /// scanning the tables.
    private var expiries = ExpiryQueue()

    init(state: SecurityState, configuration: DoctorConfiguration, enrolledPatients: Int) {
        self.state = state
        self.configuration = configuration
        self.deviceCapacity = max(1, enrolledPatients) * configuration.deviceBlocksPerPatient
        rebuildExpiries()
    }

    // MARK: - Expiry index

    /// The wall time from which a failure list may hold a time outside the window.
    private func failuresDue(_ times: [UInt64]) -> UInt64? {
        times.min().map { $0 &+ configuration.failureWindowMillis &+ 1 }
    }

    /// The wall time from which a device-block history may hold a record 24 h old.
    private static func historyDue(_ records: [DeviceBlockRecord]) -> UInt64? {
        records.map(\.at).min().map { $0 &+ 24 * 3_600_000 }
    }

    /// Re-indexes every entry of `state` (at start, and when stale items outnumber entries).
    private mutating func rebuildExpiries() {
        expiries.removeAll()
        for (source, until) in state.sourceBlocks { expiries.schedule(.source(source), at: until) }
        for (prefix, until) in state.prefixBlocks { expiries.schedule(.prefix(prefix), at: until) }
        for (device, until) in state.deviceBlocks { expiries.schedule(.device(device), at: until) }
        for (source, times) in state.failures {
            if let due = failuresDue(times) { expiries.schedule(.failures(source), at: due) }
        }
        for (id, records) in state.deviceBlockHistory {
            if let due = Self.historyDue(records) { expiries.schedule(.history(id), at: due) }
        }
    }

    /// Indexes one written entry; rebuilds the index when it holds far more items than the
    /// tables hold entries (stale items of lifted or extended entries).
    private mutating func index(_ entry: ExpiringEntry, at due: UInt64) {
        expiries.schedule(entry, at: due)
        let live = state.sourceBlocks.count + state.prefixBlocks.count + state.deviceBlocks.count
            + state.failures.count + state.deviceBlockHistory.count
        if expiries.count > 4 * live + 1_024 { rebuildExpiries() }
    }

    /// Resizes the device-block table to `enrolledPatients` × `deviceBlocksPerPatient` (an
    /// enrollment or revocation changed the count) and, when the table now holds more blocks
    /// than that, drops expired ones and then evicts the blocks closest to expiry, as a full
    /// table does (PROTOCOL.md §5).
    mutating func resizeDeviceTable(enrolledPatients: Int, now: UInt64) -> [SecurityChange] {
        deviceCapacity = max(1, enrolledPatients) * configuration.deviceBlocksPerPatient
        guard state.deviceBlocks.count > deviceCapacity else { return [] }
        var changes = purgeExpired(now: now)
        while state.deviceBlocks.count > deviceCapacity,
              let victim = state.deviceBlocks.min(by: { ($0.value, $0.key) < ($1.value, $1.key) })?.key {
            state.deviceBlocks[victim] = nil
            changes.append(.unblocked(.device(victim), reason: .evicted))
        }
        return changes
    }

    // MARK: - Queries

    /// True when `source` lies in one of the configuration's trusted sources: its failures are
    /// not counted and no source or prefix block refuses it (device blocks still do).
    func isTrusted(_ source: SourceAddress) -> Bool {
        configuration.trustedSources.contains { $0.contains(source) }
    }

    /// The expiry of a block that covers `source` now, if any. A trusted source is covered by
    /// none: a block recorded before it was trusted, or a prefix block earned by untrusted
    /// neighbours, stays in the table (and in `blocks`) but does not refuse it.
    func sourceBlockExpiry(_ source: SourceAddress, now: UInt64) -> UInt64? {
        if isTrusted(source) { return nil }
        let exact = state.sourceBlocks[source].flatMap { $0 > now ? $0 : nil }
        let prefix = state.prefixBlocks[source.prefix].flatMap { $0 > now ? $0 : nil }
        switch (exact, prefix) {
        case let (a?, b?): return max(a, b)
        case let (a?, nil): return a
        case let (nil, b?): return b
        case (nil, nil): return nil
        }
    }

    /// The expiry of a device block on (id, source) now, if any.
    func deviceBlockExpiry(_ device: DeviceKey, now: UInt64) -> UInt64? {
        state.deviceBlocks[device].flatMap { $0 > now ? $0 : nil }
    }

    /// True while the source-block table cannot take a new block: unauthenticated requests
    /// are refused (after expired entries are purged by ``purgeExpired(now:)``).
    var refusesUnauthenticated: Bool { saturated }

    /// True when an unauthenticated request from `source` is refused because the source-block
    /// table is saturated. Never for a trusted source: its failures would not be recorded, so
    /// refusing it protects nothing.
    func refusesUnauthenticated(from source: SourceAddress) -> Bool {
        saturated && !isTrusted(source)
    }

    // MARK: - Start time

    mutating func recordStart(wallClock: UInt64) -> [SecurityChange] {
        guard wallClock > state.startTime else { return [] }
        state.startTime = wallClock
        return [.startTimeRecorded(wallClock)]
    }

    // MARK: - Expiry

    /// Drops expired blocks and failure times; clears saturation when room appears.
    mutating func purgeExpired(now: UInt64) -> [SecurityChange] {
        // This runs on every accept and every first frame, so it does not scan the tables: it
        // pops the entries whose expiry is due from the index (usually none) and re-checks each
        // against its table. The expired keys are sorted per table, so the emitted changes come
        // in the same deterministic order a full scan would give.
        var sources: Set<SourceAddress> = [], prefixes: Set<SourcePrefix> = [], devices: Set<DeviceKey> = []
        var failing: Set<SourceAddress> = [], histories: Set<PeerID> = []
        for entry in expiries.popDue(atOrBefore: now) {
            switch entry {
            case let .source(source): if let until = state.sourceBlocks[source], until <= now { sources.insert(source) }
            case let .prefix(prefix): if let until = state.prefixBlocks[prefix], until <= now { prefixes.insert(prefix) }
            case let .device(device): if let until = state.deviceBlocks[device], until <= now { devices.insert(device) }
            case let .failures(source): if state.failures[source] != nil { failing.insert(source) }
            case let .history(id): if state.deviceBlockHistory[id] != nil { histories.insert(id) }
            }
        }
        var changes: [SecurityChange] = []
        for source in sources.sorted() {
            state.sourceBlocks[source] = nil
            changes.append(.unblocked(.source(source), reason: .expired))
        }
        for prefix in prefixes.sorted() {
            state.prefixBlocks[prefix] = nil
            changes.append(.unblocked(.prefix(prefix), reason: .expired))
        }
        for device in devices.sorted() {
            state.deviceBlocks[device] = nil
            changes.append(.unblocked(.device(device), reason: .expired))
        }
        for source in failing.sorted() {
            let times = state.failures[source] ?? []
            guard times.contains(where: { isOutsideWindow($0, now: now) }) else {
                // Not yet (the clock stepped back since the item was due): look again later.
                if let due = failuresDue(times) { expiries.schedule(.failures(source), at: max(due, now &+ 1)) }
                continue
            }
            let live = times.filter { !isOutsideWindow($0, now: now) }
            if live.isEmpty {
                state.failures[source] = nil
                changes.append(.failuresCleared(source))
            } else {
                state.failures[source] = live
                if let due = failuresDue(live) { expiries.schedule(.failures(source), at: due) }
            }
        }
        for id in histories {
            let records = state.deviceBlockHistory[id] ?? []
            let live = records.filter { now < $0.at &+ 24 * 3_600_000 }
            state.deviceBlockHistory[id] = live.isEmpty ? nil : live
            if let due = Self.historyDue(live) { expiries.schedule(.history(id), at: max(due, now &+ 1)) }
        }
        if saturated && state.sourceTableCount < configuration.sourceBlockCapacity { saturated = false }
        return changes
    }

    /// Saturation as a function of the tables alone (PROTOCOL.md §7.5), for a restart: a
    /// source-block table at or over its capacity (expired blocks already dropped) refuses
    /// unauthenticated requests at once. Returns the alert to raise again, if saturated.
    mutating func recomputeSaturation() -> [SecurityAlert] {
        saturated = state.sourceTableCount >= configuration.sourceBlockCapacity
        return saturated ? [.sourceBlockTableSaturated] : []
    }

    private func isOutsideWindow(_ time: UInt64, now: UInt64) -> Bool {
        now > time && now - time > configuration.failureWindowMillis
    }

    // MARK: - Failures (R-SRC)

    /// Counts one failure against `source`; blocks it when the window holds the threshold. A
    /// failure of a trusted source is not counted: nothing changes.
    mutating func countFailure(_ source: SourceAddress, now: UInt64) -> (changes: [SecurityChange], alerts: [SecurityAlert], blockedUntil: UInt64?) {
        if isTrusted(source) { return ([], [], nil) }
        var changes: [SecurityChange] = []
        var times = (state.failures[source] ?? []).filter { !isOutsideWindow($0, now: now) }
        if times.isEmpty && state.failures[source] == nil && state.failures.count >= configuration.failureTableCapacity {
            changes += purgeExpired(now: now)
            if state.failures.count >= configuration.failureTableCapacity {
                return (changes, [.failureTableFull(source)], nil)
            }
        }
        times.append(now)
        if times.count > configuration.failureThreshold { times.removeFirst(times.count - configuration.failureThreshold) }
        let earlierDue = state.failures[source].flatMap(failuresDue)
        state.failures[source] = times
        if let due = failuresDue(times), due != earlierDue { index(.failures(source), at: due) }
        changes.append(.failureCounted(source, at: now))
        guard times.count >= configuration.failureThreshold else { return (changes, [], nil) }
        state.failures[source] = nil
        changes.append(.failuresCleared(source))
        let (blockChanges, alerts, until) = blockSource(source, now: now)
        return (changes + blockChanges, alerts, until)
    }

    /// Records a source block, falling back to a prefix block when the table is full.
    private mutating func blockSource(_ source: SourceAddress, now: UInt64) -> ([SecurityChange], [SecurityAlert], UInt64?) {
        let until = now &+ configuration.blockDurationMillis
        let capacity = configuration.sourceBlockCapacity
        var changes: [SecurityChange] = []
        if state.sourceBlocks[source] == nil && state.sourceTableCount >= capacity {
            changes += purgeExpired(now: now)
        }
        if state.sourceBlocks[source] != nil || state.sourceTableCount < capacity {
            let newUntil = max(until, state.sourceBlocks[source] ?? 0)
            state.sourceBlocks[source] = newUntil
            index(.source(source), at: newUntil)
            changes.append(.blocked(.source(source), until: newUntil))
            return (changes, [], newUntil)
        }
        // Table full: record the /24 or /48 instead, replacing the finer blocks it covers.
        let prefix = source.prefix
        let covered = state.sourceBlocks.keys.filter { prefix.contains($0) }.sorted()
        let existing = state.prefixBlocks[prefix] != nil
        guard existing || !covered.isEmpty else {
            saturated = true
            return (changes, [.sourceBlockTableSaturated], nil)
        }
        var prefixUntil = max(until, state.prefixBlocks[prefix] ?? 0)
        for finer in covered {
            prefixUntil = max(prefixUntil, state.sourceBlocks[finer] ?? 0)
            state.sourceBlocks[finer] = nil
            changes.append(.unblocked(.source(finer), reason: .coveredByPrefix))
        }
        state.prefixBlocks[prefix] = prefixUntil
        index(.prefix(prefix), at: prefixUntil)
        changes.append(.blocked(.prefix(prefix), until: prefixUntil))
        return (changes, [], prefixUntil)
    }

    // MARK: - Device blocks (R-SKV)

    /// Blocks (id, source) for the block duration; evicts the entry closest to expiry when full.
    mutating func blockDevice(_ device: DeviceKey, now: UInt64) -> (changes: [SecurityChange], alerts: [SecurityAlert], until: UInt64) {
        var changes: [SecurityChange] = []
        let until = max(now &+ configuration.blockDurationMillis, state.deviceBlocks[device] ?? 0)
        if state.deviceBlocks[device] == nil && state.deviceBlocks.count >= deviceCapacity {
            changes += purgeExpired(now: now)
            if state.deviceBlocks.count >= deviceCapacity,
               let victim = state.deviceBlocks.min(by: { ($0.value, $0.key) < ($1.value, $1.key) })?.key {
                state.deviceBlocks[victim] = nil
                changes.append(.unblocked(.device(victim), reason: .evicted))
            }
        }
        state.deviceBlocks[device] = until
        index(.device(device), at: until)
        changes.append(.blocked(.device(device), until: until))
        let earlier = state.deviceBlockHistory[device.patient] ?? []
        var history = earlier.filter { now < $0.at &+ 24 * 3_600_000 }
        history.append(DeviceBlockRecord(source: device.source, at: now))
        state.deviceBlockHistory[device.patient] = history
        if let due = Self.historyDue(history), due != Self.historyDue(earlier) { index(.history(device.patient), at: due) }
        let distinct = Set(history.map(\.source)).count
        let alerts: [SecurityAlert] = distinct >= configuration.repeatedDeviceBlockAlertSources
            ? [.repeatedDeviceBlocks(device.patient, sources: distinct)] : []
        return (changes, alerts, until)
    }

    // MARK: - Operator

    /// Lifts a block by hand. Returns nil when nothing matched.
    mutating func unblock(_ target: BlockTarget) -> [SecurityChange]? {
        switch target {
        case let .source(source):
            if state.sourceBlocks.removeValue(forKey: source) != nil {
                state.failures[source] = nil
                saturated = false
                return [.unblocked(target, reason: .operatorUnblock), .failuresCleared(source)]
            }
            // A source inside a prefix block: the prefix is lifted as a whole.
            if state.prefixBlocks.removeValue(forKey: source.prefix) != nil {
                saturated = false
                return [.unblocked(.prefix(source.prefix), reason: .operatorUnblock)]
            }
            return nil
        case let .prefix(prefix):
            guard state.prefixBlocks.removeValue(forKey: prefix) != nil else { return nil }
            saturated = false
            return [.unblocked(target, reason: .operatorUnblock)]
        case let .device(device):
            guard state.deviceBlocks.removeValue(forKey: device) != nil else { return nil }
            return [.unblocked(target, reason: .operatorUnblock)]
        }
    }

    /// Lifts every device block of one patient id. Returns the changes (empty when none).
    mutating func unblockDevices(of patient: PeerID, reason: UnblockReason = .operatorUnblock) -> [SecurityChange] {
        let keys = state.deviceBlocks.keys.filter { $0.patient == patient }.sorted()
        for key in keys { state.deviceBlocks[key] = nil }
        return keys.map { .unblocked(.device($0), reason: reason) }
    }
}
