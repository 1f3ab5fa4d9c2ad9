// Theory of operation
// ===================
// `DoctorNode` runs one `DoctorMachine` for real. It is synchronous and single-threaded: the
// async `DoctorService` (TCP) or the simulator (in-memory transport, virtual clock) calls one
// method at a time. Each input reads the injected clock once, feeds the machine, and applies
// the returned actions strictly in order:
//
//   .persist   consecutive changes are written to the SecurityStore in one transaction
//              BEFORE any later action is applied (so nothing that depends on a block or
//              counter is sent, closed or reported before the change is durable)
//   .send      transport.send            .close        transport.close
//   timers     the injected TimerScheduler (which calls timerFired back later)
//   .event     audit row(s), a log line, then the observer (console, trace)
//   .verify    the handshake job goes to the node's `HandshakeJobRunner` (HandshakeJobPool.swift);
//              its result comes back through `jobFinished`. A node built without a runner
//              lets the machine run every job inline.
//
// If the store cannot be written the node fails closed for the rest of that batch: it still
// closes connections but sends nothing more, and it reports the failure loudly.

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
    let store: SecurityStore
    let audit: AuditLog?
    let transport: any Transport
    let clock: any NodeClock
    let timers: any TimerScheduler
    var rng: NodeRandom
    let logger: Logger
    let observer: ((DoctorEvent) -> Void)?
    /// Where handshake jobs run; nil: inline in the machine.
    let jobRunner: (any HandshakeJobRunner)?

    /// What the one-time import of `keys.registry` into the store did when this node was built
    /// (audited row by row); nil when the store had imported before. The host may report it.
    public let legacyImport: LegacyImport?

    /// True once a security change could not be written (the node keeps failing closed).
    public private(set) var storeFailed = false

    // MARK: - Building

    /// Builds the node, restoring the saved security state and the patient registry from
    /// `securityStore`. Call ``start()`` before feeding it any transport event.
    ///
    /// The registry the machine starts with is the store's (``SecurityStore/registry(group:)``):
    /// `keys.registry` only seeds it, through the store's one-time
    /// ``SecurityStore/importLegacyRegistry(_:group:at:)`` on the first node built over a
    /// database. After that, enrollments and revocations (``enroll(_:publicKey:replace:)``,
    /// ``revoke(_:)``, or the offline commands) are the only changes, and they survive restarts.
    public init(configuration: DoctorConfiguration, keys: DoctorKeyMaterial, securityStore: SecurityStore,
                audit: AuditLog?, transport: any Transport, clock: any NodeClock, timers: any TimerScheduler,
                rng: NodeRandom, logger: Logger, observer: ((DoctorEvent) -> Void)? = nil,
                jobRunner: (any HandshakeJobRunner)? = nil) throws(DoctorNodeError) {
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
        self.transport = transport
        self.clock = clock
        self.timers = timers
        self.rng = rng
        self.logger = logger
        self.observer = observer
        self.jobRunner = jobRunner
        machine.handshakeJobs = jobRunner == nil ? .inline : .byHost
    }

    /// Records T0 = max(saved T0, wall clock) durably and purges expired blocks. Only after it
    /// returns may the host accept connections. The machine's start events (the alert of a
    /// source-block table that is still saturated after the restart, PROTOCOL.md §7.5) are
    /// reported like any other event — audit row, log line, observer — in order, after the
    /// changes are durable and the start row is written.
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
        do {
            try store.apply(changes, at: now.wall)
        } catch {
            throw .store(error)
        }
        let state = machine.securityState
        writeAudit([AuditRow(wall: now.wall, kind: .start, detail:
            "T0 \(state.startTime); restored \(state.sourceBlocks.count) source, \(state.prefixBlocks.count) prefix, "
            + "\(state.deviceBlocks.count) device blocks")])
        logger.info("doctor started", metadata: ["T0": "\(state.startTime)", "enrolled": "\(machine.enrolledCount)"])
        for event in events { report(event, now: now) }
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
        case let .refused(peer, reason):
            logger.notice("transport refused a connection", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
            writeAudit([AuditRow(wall: now.wall, kind: .refused, source: peer.host, detail: reason.description)])
        }
    }

    /// A handshake job this node's machine emitted (and its ``HandshakeJobRunner`` ran) is
    /// done: the machine applies the result (``DoctorMachine/jobFinished(_:now:using:)``).
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

    // MARK: - Applying actions

    func apply(_ actions: [DoctorAction], now: Instant) {
        var changes: [SecurityChange] = []
        var failedInBatch = false
        func flush() {
            guard !changes.isEmpty else { return }
            do {
                try store.apply(changes, at: now.wall)
            } catch {
                failedInBatch = true
                storeFailed = true
                logger.critical("security change not durable; failing closed", metadata: ["error": "\(error)"])
            }
            changes = []
        }
        for action in actions {
            if case let .persist(change) = action {
                changes.append(change)
                continue
            }
            flush()
            switch action {
            case let .send(connection, body):
                if !failedInBatch { transport.send(body, on: connection.wire) }
            case let .close(connection):
                transport.close(connection.wire)
            case let .scheduleTimer(timer, afterMillis):
                timers.schedule(.doctor(timer), afterMillis: afterMillis)
            case let .cancelTimer(timer):
                timers.cancel(.doctor(timer))
            case let .event(event):
                report(event, now: now)
            case let .verify(job):
                guard let jobRunner else { preconditionFailure("the machine emits jobs only for a node with a runner") }
                jobRunner.submit(job)
            case .persist:
                break
            }
        }
        flush()
    }

    func report(_ event: DoctorEvent, now: Instant) {
        if let audit {
            do {
                try audit.record(event, at: now.wall)
            } catch {
                logger.error("audit row not written", metadata: ["error": "\(error)"])
            }
        }
        log(event)
        observer?(event)
    }

    func writeAudit(_ rows: [AuditRow]) {
        guard let audit else { return }
        do {
            try audit.append(rows)
        } catch {
            logger.error("audit row not written", metadata: ["error": "\(error)"])
        }
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
            logger.warning("blocked", metadata: ["target": "\(target)", "until": "\(until)", "rule": "\(rule)"])
        case let .unblocked(target):
            logger.notice("unblocked by the operator", metadata: ["target": "\(target)"])
        case let .broadcastSent(epoch, seq, recipients):
            logger.info("broadcast sent", metadata: ["epoch": "\(epoch)", "seq": "\(seq)", "recipients": "\(recipients)"])
        case let .receipt(patient, epoch, seq, known):
            logger.info("receipt", metadata: ["patient": "\(patient)", "epoch": "\(epoch)", "seq": "\(seq)",
                                              "known": "\(known)"])
        case let .alert(alert):
            logger.error("security alert", metadata: ["alert": "\(alert.summary)"])
        }
    }
}
