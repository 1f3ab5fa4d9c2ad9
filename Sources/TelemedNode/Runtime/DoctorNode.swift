// Theory of operation
// ===================
// `DoctorNode` runs one `DoctorMachine` for real. It is synchronous and single-threaded: the
// async `DoctorService` (TCP) or the simulator (in-memory transport, virtual clock) calls one
// method at a time. Each input reads the injected clock once, feeds the machine, and applies
// the returned actions in order:
//
//   .persist   the input's changes, with the audit rows of its events, go to the
//              `DoctorStore` as one batch (one transaction, or part of a group commit)
//   .send      transport.send, once every change the frame depends on is durable
//   .close     transport.close, in order with the frames of its connection
//   timers     the injected TimerScheduler (which calls timerFired back later)
//   .event     a log line, then the observer (console, trace), once its audit rows are
//              committed, in order
//   .verify    the handshake job goes to the node's `HandshakeJobRunner` (HandshakeJobPool.swift)
//              at once (it reads no state the store holds); its result comes back through
//              `jobFinished`. A node built without a runner lets the machine run every job inline.
//
// With `StoreCommitMode.inline` every batch is committed before the input returns, so this is
// exactly "persist, then everything after it". With `.background` (DoctorService) commits run
// on a writer thread and only the dependent frames wait (DoctorNode+Commit.swift). If the
// store cannot be written the node fails closed for the inputs of that commit: it still closes
// their connections but sends none of their dependent frames, and it reports the failure loudly.

import Logging
import TelemedCrypto
import TelemedProtocol
import TelemedTransport

/// Why a doctor node could not be built or started.
public enum DoctorNodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The configuration is out of bounds.
    case configuration(ConfigurationError)
    /// The security store could not be read or written.
    case store(StoreError)

    /// One line describing the problem.
    public var description: String {
        switch self {
        case let .configuration(error): return "invalid configuration: \(error)"
        case let .store(error): return "\(error)"
        }
    }
}

/// The doctor's runtime around its machine. Not thread-safe: one caller at a time.
public final class DoctorNode {
    // MARK: Collaborators

    /// The machine (read-only introspection: members, their last receipts, epoch, blocks).
    public internal(set) var machine: DoctorMachine
    let store: any DoctorStore
    let audit: AuditLog?
    let commits: CommitPipeline
    var outbox = Outbox()
    let transport: any Transport
    let clock: any NodeClock
    let timers: any TimerScheduler
    var rng: NodeRandom
    let logger: Logger
    let observer: ((DoctorEvent) -> Void)?
    /// Where handshake jobs run; nil: inline in the machine.
    let jobRunner: (any HandshakeJobRunner)?
    /// The runtime's metrics (DoctorMetrics.swift), derived from the machine's events.
    let metrics: DoctorMetrics
    /// Connections in their handshake, with the monotonic millisecond they opened (for the
    /// login latency and the handshake outcome of a rejection); an entry leaves at the
    /// connection's verdict or close.
    var handshakesInProgress: [WireConnection: UInt64] = [:]

    /// What the one-time import of `keys.registry` into the store did when this node was built
    /// (audited row by row); nil when the store had imported before. The host may report it.
    public let legacyImport: LegacyImport?

    /// True once a security change could not be written (the inputs of that commit failed
    /// closed).
    public internal(set) var storeFailed = false

    // MARK: - Building

    /// Builds the node, restoring the saved security state and the patient registry from
    /// `securityStore`. Call ``start()`` before feeding it any transport event.
    ///
    /// The registry the machine starts with is the store's (``SecurityStore/registry(group:)``):
    /// `keys.registry` only seeds it, through the store's one-time
    /// ``SecurityStore/importLegacyRegistry(_:group:at:)`` on the first node built over a
    /// database. After that, enrollments and revocations (``enroll(_:publicKey:replace:)``,
    /// ``revoke(_:)``, or the offline commands) are the only changes, and they survive restarts.
    ///
    /// - Parameters:
    ///   - configuration: the doctor's limits, windows and timeouts.
    ///   - keys: the doctor's group, id and private key (and legacy registry, see above).
    ///   - securityStore: where T0, blocks, counters, the registry and the audit log live.
    ///   - audit: nil to keep no audit log; otherwise the log of `securityStore` (each input's
    ///     rows are written with its changes, in the same batch).
    ///   - commits: ``StoreCommitMode/inline`` (each input committed before it returns) or
    ///     ``StoreCommitMode/background(progress:)`` (group commit on a writer thread; the host
    ///     then calls ``storeProgressed()`` whenever `progress` fires).
    ///   - transport: the listening transport whose events the host feeds to the node.
    ///   - clock: the wall and monotonic clocks.
    ///   - timers: schedules the machine's timers; the host fires them back into the node.
    ///   - rng: the cryptographic generator for nonces, K_GWN and signatures.
    ///   - logger: where events are logged (never secrets).
    ///   - observer: sees every `DoctorEvent`, in order.
    ///   - jobRunner: runs the handshake jobs (a ``HandshakeJobPool``); nil runs them inline.
    ///   - metrics: where the node reports its metrics (default: handles of the process's
    ///     `MetricsSystem.factory`, no-ops unless the host bootstrapped a backend).
    public init(configuration: DoctorConfiguration, keys: DoctorKeyMaterial, securityStore: any DoctorStore,
                audit: AuditLog?, transport: any Transport, clock: any NodeClock, timers: any TimerScheduler,
                rng: NodeRandom, logger: Logger, observer: ((DoctorEvent) -> Void)? = nil,
                commits: StoreCommitMode = .inline,
                jobRunner: (any HandshakeJobRunner)? = nil,
                metrics: DoctorMetrics = DoctorMetrics()) throws(DoctorNodeError) {
        precondition(audit.map { $0.store === securityStore } ?? true, "the audit log must be the node's own store's")
        let restored: SecurityState
        let registry: [PeerID: PublicKey]
        do {
            restored = try securityStore.load()
            legacyImport = try securityStore.importLegacyRegistry(keys.registry, group: keys.group, at: clock.now().wall)
            registry = try securityStore.registry(group: keys.group)
        } catch {
            throw .store(error)
        }
        do {
            machine = try DoctorMachine(configuration: configuration, group: keys.group, identity: keys.identity,
                                        privateKey: keys.privateKey, registry: registry, restoring: restored)
        } catch {
            throw .configuration(error)
        }
        self.store = securityStore
        self.audit = audit
        self.commits = CommitPipeline(store: securityStore, mode: commits, metrics: metrics)
        self.metrics = metrics
        self.transport = transport
        self.clock = clock
        self.timers = timers
        self.rng = rng
        self.logger = logger
        self.observer = observer
        self.jobRunner = jobRunner
        machine.handshakeJobs = jobRunner == nil ? .inline : .byHost
    }

    /// Records T0 = max(saved T0, wall clock) durably and purges expired blocks, in one
    /// durable transaction with the start row and the audit rows of the machine's start events;
    /// only after it returns may the host accept connections. The start events (the alert of a
    /// source-block table that is still saturated after the restart, PROTOCOL.md §7.5) are then
    /// reported like any other event — log line, observer — in order.
    public func start() throws(DoctorNodeError) {
        let now = clock.now()
        let actions = machine.start(now: now)
        let changes = actions.compactMap { action -> SecurityChange? in
            if case let .persist(change) = action { return change }
            return nil
        }
        let events = actions.compactMap { action -> DoctorEvent? in
            if case let .event(event) = action { return event }
            return nil
        }
        let state = machine.securityState
        var rows: [AuditRow] = []
        if audit != nil {
            rows = [AuditRow(wall: now.wall, kind: .start, detail:
                "T0 \(state.startTime); restored \(state.sourceBlocks.count) source, \(state.prefixBlocks.count) prefix, "
                + "\(state.deviceBlocks.count) device blocks; minimum protocol version \(machine.minimumVersion)")]
            rows += events.flatMap { AuditLog.rows(for: $0, at: now.wall) }
        }
        do {
            try store.commit([StoreBatch(wall: now.wall, changes: changes, audit: rows)], durability: .durable)
        } catch {
            throw .store(error)
        }
        logger.info("doctor started", metadata: ["T0": "\(state.startTime)", "enrolled": "\(machine.enrolledCount)"])
        for event in events {
            metrics.record(event, inHandshake: false)
            report(event, now: now)
        }
    }

    // MARK: - Transport events

    /// Feeds one transport event to the machine: every event of a connection becomes the
    /// machine input of the same name, so what the machine answers (REJECTED, close, audit,
    /// counting) is the only verdict. A transport-level refusal (`.refused`, the transport's
    /// connection cap) never reached the machine and is audited here.
    public func handle(_ event: TransportEvent) {
        let now = clock.now()
        switch event {
        case let .opened(connection, peer):
            guard let source = SourceAddress(peer: peer) else {
                logger.warning("closing a connection from an address that is not a source", metadata: ["peer": "\(peer)"])
                transport.close(connection)
                return
            }
            outbox.opened(connection, from: source)
            handshakesInProgress[connection] = now.monotonic
            apply(machine.connectionOpened(MachineConnection(connection), from: source, now: now), now: now)
        case let .frameStarted(connection):
            apply(machine.frameStarted(on: MachineConnection(connection), now: now), now: now)
        case let .frame(connection, body):
            apply(machine.frameReceived(body, on: MachineConnection(connection), now: now, using: &rng), now: now)
        case let .frameRefused(connection, error):
            apply(machine.frameRefused(on: MachineConnection(connection), declaredLength: error.declaredLength,
                                       now: now, using: &rng), now: now)
        case let .closed(connection, reason):
            let end = ConnectionEnd(reason)
            apply(machine.connectionClosed(MachineConnection(connection), end, now: now, using: &rng), now: now)
            outbox.closed(connection)
            if handshakesInProgress.removeValue(forKey: connection) != nil { metrics.recordAbandonedHandshake() }
        case let .refused(peer, reason):
            logger.notice("transport refused a connection", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
            metrics.recordTransportRefusal(reason)
            apply([], now: now, auditing: [AuditRow(wall: now.wall, kind: .refused, source: peer.host,
                                                    detail: reason.description)])
        }
    }

    /// A handshake job this node's machine emitted (and its ``HandshakeJobRunner`` ran) is
    /// done: the machine applies the result (`DoctorMachine.jobFinished(_:now:using:)`).
    public func jobFinished(_ result: HandshakeJobResult) {
        let now = clock.now()
        apply(machine.jobFinished(result, now: now, using: &rng), now: now)
    }

    /// A timer scheduled through the ``TimerScheduler`` is due.
    public func timerFired(_ key: NodeTimerKey) {
        guard case let .doctor(timer) = key else { return }
        let now = clock.now()
        apply(machine.timerFired(timer, now: now, using: &rng), now: now)
    }

    // MARK: - Metrics

    /// Counts an event when the machine emits it (before its commit, so that a connection's
    /// verdict is seen in the order the machine reached it, whatever the store does).
    func count(_ event: DoctorEvent, now: Instant) {
        switch event {
        case let .patientAuthenticated(_, connection, _, _):
            if let opened = handshakesInProgress.removeValue(forKey: connection.wire) {
                metrics.recordLogin(milliseconds: now.monotonic &- opened)
            }
            metrics.record(event, inHandshake: false)
        case let .rejected(connection, _, _, _, _):
            metrics.record(event, inHandshake: handshakesInProgress.removeValue(forKey: connection.wire) != nil)
        default:
            metrics.record(event, inHandshake: false)
        }
    }

    /// Samples the table sizes, members, pending handshakes and epoch into their gauges.
    public func sampleMetrics(timers scheduled: Int) {
        let state = machine.securityState
        metrics.record(tables: [
            "connections": machine.connectionCount, "replay_cache": machine.replayCacheCount,
            "source_blocks": state.sourceBlocks.count, "prefix_blocks": state.prefixBlocks.count,
            "device_blocks": state.deviceBlocks.count, "failure_sources": state.failures.count,
            "device_block_history": state.deviceBlockHistory.count, "timers": scheduled,
            "held_effects": heldEffects, "uncommitted_inputs": uncommittedInputs,
        ], members: machine.activePatients.count, pendingHandshakes: machine.pendingHandshakes, epoch: machine.epoch)
    }

    // MARK: - Reporting

    /// A log line, then the observer (the audit rows went with the input's batch).
    func report(_ event: DoctorEvent, now: Instant) {
        log(event)
        observer?(event)
    }

    private func log(_ event: DoctorEvent) {
        switch event {
        case let .patientAuthenticated(patient, connection, source, epoch):
            logger.info("patient authenticated", metadata: ["patient": "\(patient)", "conn": "\(connection.rawValue)",
                                                            "source": "\(source)", "epoch": "\(epoch)"])
        case let .patientLeft(patient, connection, reason):
            logger.info("patient left", metadata: ["patient": "\(patient)", "conn": "\(connection.rawValue)",
                                                   "reason": "\(reason.rawValue)"])
        case let .epochStarted(epoch, members):
            logger.info("new epoch", metadata: ["epoch": "\(epoch)", "members": "\(members.map(\.value))"])
        case let .rejected(connection, source, rule, reason, patient):
            logger.notice("rejected", metadata: ["conn": "\(connection.rawValue)", "source": "\(source)",
                                                 "rule": "\(rule)", "reason": "\(reason)",
                                                 "patient": "\(patient?.value ?? "-")"])
        case let .blocked(target, until, rule):
            logger.warning("blocked", metadata: ["target": "\(target)", "until": "\(ConsoleText.time(until))", "rule": "\(rule)"])
        case let .unblocked(target):
            logger.notice("unblocked by the operator", metadata: ["target": "\(target)"])
        case let .broadcastSent(epoch, seq, recipients):
            logger.info("broadcast sent", metadata: ["epoch": "\(epoch)", "seq": "\(seq)", "recipients": "\(recipients)"])
        case let .receipt(patient, epoch, seq, known):
            logger.info("receipt", metadata: ["patient": "\(patient)", "epoch": "\(epoch)", "seq": "\(seq)",
                                              "known": "\(known)"])
        case let .alert(alert):
            logger.error("security alert", metadata: ["alert": "\(alert.summary)"])
        case let .minimumVersionChanged(version):
            logger.notice("minimum protocol version changed", metadata: ["version": "\(version)"])
        }
    }
}
