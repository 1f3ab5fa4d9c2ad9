// Durable before dependent
// ========================
// Each input's writes (its `.persist` changes and the audit rows of its events) go to the
// store as one batch with one ticket (CommitPipeline). What the input's actions do then:
//
//   timers              at once (they stay inside the doctor)
//   send / close        at once, unless the frame depends on a change not yet committed:
//                       it waits for the ticket of the latest change that touches its
//                       connection's source — the source's failures and blocks, a device
//                       block at that source, a prefix block covering it, T0 — whether that
//                       change came from this input or an earlier one still in flight. A
//                       connection whose source the node does not know waits for the latest
//                       change of all. Frames on one connection keep their order: a frame
//                       never overtakes an earlier one that waits.
//   event               after the input's own batch is committed (its audit rows are in it),
//                       and in order with every earlier event: log line, then observer. So
//                       what the console reports is already in the audit log.
//
// So the REJECTED that answers a counted failure, and everything a blocked source is told,
// leave only once the count or the block is durable, while an honest patient from another
// source is answered at once even when a flood's commits are in flight. When a commit fails,
// the frames waiting for it are dropped (their connections are still closed), the events are
// reported with an error that their rows are lost, and `storeFailed` is set: the node fails
// closed for those inputs, as it did when each input committed by itself.

import Logging
import TelemedProtocol
import TelemedTransport

// MARK: - Outbox

/// Frames, closes and reports held until the commits they depend on resolve, and what each
/// source's latest uncommitted change is. Pure bookkeeping; the node performs the effects.
struct Outbox {
    enum Effect {
        case send(WireConnection, [UInt8])
        case close(WireConnection)
        case report(DoctorEvent, Instant)

        var connection: WireConnection? {
            switch self {
            case let .send(connection, _), let .close(connection): return connection
            case .report: return nil
            }
        }
    }

    struct Held {
        let need: UInt64
        let effect: Effect
    }

    /// Every ticket up to this one is resolved (committed or failed).
    private(set) var resolved: UInt64 = 0
    /// Effects waiting, in the order they were emitted.
    private(set) var held: [Held] = []
    /// The source of each open connection (from `.opened` to `.closed`).
    private var sources: [WireConnection: SourceAddress] = [:]
    /// Latest uncommitted ticket touching a source, a prefix, or everything (T0).
    private var bySource: [SourceAddress: UInt64] = [:]
    private var byPrefix: [SourcePrefix: UInt64] = [:]
    private var global: UInt64 = 0
    /// Latest ticket holding any change (for a connection of unknown source).
    private var anyChange: UInt64 = 0
    /// The need of the last held effect per connection, and of the last held report.
    private var connectionNeed: [WireConnection: UInt64] = [:]
    private var reportNeed: UInt64 = 0

    // MARK: Connections

    mutating func opened(_ connection: WireConnection, from source: SourceAddress) {
        sources[connection] = source
    }

    /// The transport reported the connection closed: nothing more can be written to it, so
    /// its held frames and close are dropped.
    mutating func closed(_ connection: WireConnection) {
        sources[connection] = nil
        guard connectionNeed.removeValue(forKey: connection) != nil else { return }
        held.removeAll { $0.effect.connection == connection }
    }

    // MARK: Dependencies

    /// Notes that `change` is written under `ticket`.
    mutating func record(_ change: SecurityChange, ticket: UInt64) {
        anyChange = max(anyChange, ticket)
        switch change {
        case .startTimeRecorded:
            global = max(global, ticket)
        case let .failureCounted(source, _), let .failuresCleared(source):
            bySource[source] = ticket
        case let .blocked(target, _), let .unblocked(target, _):
            switch target {
            case let .source(source): bySource[source] = ticket
            case let .device(device): bySource[device.source] = ticket
            case let .prefix(prefix): byPrefix[prefix] = ticket
            }
        }
    }

    /// The ticket a frame or close on `connection` must wait for (0: none), counting the
    /// frames already waiting on it.
    func need(of connection: WireConnection) -> UInt64 {
        var need = max(global, connectionNeed[connection] ?? 0)
        if let source = sources[connection] {
            need = max(need, bySource[source] ?? 0, byPrefix[source.prefix] ?? 0)
        } else {
            need = max(need, anyChange)
        }
        return need
    }

    /// The ticket a report must wait for: its own input's, and every earlier report's.
    func reportNeed(own ticket: UInt64?) -> UInt64 {
        max(ticket ?? 0, reportNeed)
    }

    /// Keeps `effect` until `need` resolves.
    mutating func hold(_ effect: Effect, need: UInt64) {
        held.append(Held(need: need, effect: effect))
        if let connection = effect.connection {
            connectionNeed[connection] = need
        } else {
            reportNeed = need
        }
    }

    // MARK: Resolution

    /// Every ticket up to `through` is resolved: returns the effects that may go now, in the
    /// order they were emitted, and forgets dependencies that are no longer in flight.
    mutating func resolve(through ticket: UInt64) -> [Held] {
        guard ticket > resolved else { return [] }
        resolved = ticket
        var released: [Held] = []
        if held.contains(where: { $0.need <= ticket }) {
            var kept: [Held] = []
            kept.reserveCapacity(held.count)
            for entry in held {
                if entry.need <= ticket { released.append(entry) } else { kept.append(entry) }
            }
            held = kept
        }
        bySource = bySource.filter { $0.value > ticket }
        byPrefix = byPrefix.filter { $0.value > ticket }
        connectionNeed = connectionNeed.filter { $0.value > ticket }
        if global <= ticket { global = 0 }
        if anyChange <= ticket { anyChange = 0 }
        if reportNeed <= ticket { reportNeed = 0 }
        return released
    }
}

// MARK: - Applying actions

extension AuditRow {
    /// The same row with another detail.
    func withDetail(_ detail: String) -> AuditRow {
        AuditRow(id: id, wall: wall, kind: kind, rule: rule, patient: patient, source: source, connection: connection,
                 epoch: epoch, seq: seq, detail: detail)
    }
}

extension DoctorNode {
    /// PROTOCOL.md §8.7: a join's row names the session's version; an epoch's row counts its
    /// version-1 members and, when there is one, says "GK_e not forward-secret". Read from the
    /// machine after the input (a member of a started epoch is still a member then).
    func versionAudited(_ rows: [AuditRow], _ event: DoctorEvent) -> [AuditRow] {
        switch event {
        case let .patientAuthenticated(patient, _, _, _):
            guard let version = machine.sessionVersion(of: patient) else { return rows }
            return rows.map { row in
                row.kind == .join ? row.withDetail(row.detail + " (protocol version \(version))") : row
            }
        case let .epochStarted(epoch, members):
            let version1 = members.filter { machine.sessionVersion(of: $0) == .v1 }.count
            guard version1 > 0 else { return rows }
            return rows.map { row in
                row.withDetail(row.detail + "; version-1 members: \(version1) of \(members.count): GK_\(epoch) not forward-secret")
            }
        default:
            return rows
        }
    }

    /// Applies one input's actions: its changes and audit rows (plus `extra` rows from the
    /// host) go to the store as one batch; each effect goes out at once or waits for the
    /// commit it depends on (see the theory of operation above).
    func apply(_ actions: [DoctorAction], now: Instant, auditing extra: [AuditRow] = []) {
        var batch = StoreBatch(wall: now.wall, audit: audit == nil ? [] : extra)
        for action in actions {
            switch action {
            case let .persist(change):
                batch.changes.append(change)
            case let .event(event):
                if audit != nil { batch.audit += versionAudited(AuditLog.rows(for: event, at: now.wall), event) }
            case .send, .close, .scheduleTimer, .cancelTimer, .verify:
                break
            }
        }
        let ticket = commits.submit(batch)
        // Inline, the batch is resolved already: learn whether it failed before the walk.
        var ownFailed = false
        if !commits.isBackground {
            let resolutions = commits.takeResolutions()
            ownFailed = resolutions.contains { r in ticket.map { r.from...r.through ~= $0 } == true && r.failure != nil }
            absorb(resolutions)
        }
        for action in actions {
            switch action {
            case let .persist(change):
                if let ticket { outbox.record(change, ticket: ticket) }
            case let .send(connection, body):
                emit(.send(connection.wire, body), need: outbox.need(of: connection.wire), own: ticket, ownFailed: ownFailed)
            case let .close(connection):
                emit(.close(connection.wire), need: outbox.need(of: connection.wire), own: ticket, ownFailed: ownFailed)
            case let .scheduleTimer(timer, afterMillis):
                timers.schedule(.doctor(timer), afterMillis: afterMillis)
            case let .cancelTimer(timer):
                timers.cancel(.doctor(timer))
            case let .event(event):
                count(event, now: now)
                emit(.report(event, now), need: outbox.reportNeed(own: ticket), own: ticket, ownFailed: ownFailed)
            case let .verify(job):
                // Stateless work: it waits for no commit (the machine applies its result, and
                // persists what that changes, when it comes back as an input).
                guard let jobRunner else { preconditionFailure("the machine emits jobs only for a node with a runner") }
                jobRunner.submit(job)
            }
        }
        if commits.isBackground { absorb(commits.takeResolutions()) }
    }

    private func emit(_ effect: Outbox.Effect, need: UInt64, own: UInt64?, ownFailed: Bool) {
        if need <= outbox.resolved {
            perform(effect, failed: ownFailed && need == own)
        } else {
            outbox.hold(effect, need: need)
        }
    }

    /// Takes the pipeline's resolutions and performs what they release.
    func absorb(_ resolutions: [CommitPipeline.Resolution]) {
        for resolution in resolutions {
            if let failure = resolution.failure {
                if resolution.durable {
                    storeFailed = true
                    logger.critical("security change not durable; failing closed", metadata: ["error": "\(failure)"])
                } else {
                    logger.error("audit rows not written", metadata: ["error": "\(failure)"])
                }
            }
            for held in outbox.resolve(through: resolution.through) {
                perform(held.effect, failed: resolution.failure != nil)
            }
        }
    }

    /// Performs an effect; when the commit it waited for failed, a frame is dropped (fail
    /// closed), a close still happens, and a report still goes out (its rows are lost).
    private func perform(_ effect: Outbox.Effect, failed: Bool) {
        switch effect {
        case let .send(connection, body):
            if !failed { transport.send(body, on: connection) }
        case let .close(connection):
            transport.close(connection)
        case let .report(event, now):
            report(event, now: now)
        }
    }

    // MARK: - Host entry points

    /// Sends what was waiting for commits that have completed since the last call. With
    /// ``StoreCommitMode/background(progress:)`` the host calls it on the node's context each
    /// time `progress` fires; inline it is never needed.
    public func storeProgressed() {
        absorb(commits.takeResolutions())
    }

    /// Blocks until every batch submitted so far is committed, then sends what waited for
    /// them (shutdown, tools, tests).
    public func waitForStore() {
        commits.waitUntilIdle()
        absorb(commits.takeResolutions())
    }

    /// Commits what is queued, ends the background writer thread and sends what waited; later
    /// inputs commit inline. The host calls it once, at shutdown.
    public func finishStore() {
        commits.stop()
        absorb(commits.takeResolutions())
    }

    /// Frames, closes and reports waiting for a commit.
    public var heldEffects: Int { outbox.held.count }

    /// Inputs whose batch is submitted and not yet committed.
    public var uncommittedInputs: Int { commits.inFlight }

    /// What the commit pipeline did so far.
    public var commitStatistics: StoreCommitStatistics { commits.statistics }
}
