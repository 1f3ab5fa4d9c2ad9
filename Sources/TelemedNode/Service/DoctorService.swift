import Logging
import TelemedCrypto
import TelemedProtocol
import TelemedTransport

// MARK: - DoctorService

/// The doctor over a live transport (TCP): an actor that owns one ``DoctorNode`` and
/// serialises every input to it — transport events (taken one at a time, so the transport's
/// read-side flow control still works), timers (tasks sleeping on the monotonic clock),
/// operator commands, and the results of handshake jobs, which run on a
/// ``HandshakeJobPool`` (one worker per core by default) so that logins use every core.
///
/// The node's writes are group-committed on a dedicated writer thread
/// (``StoreCommitMode/background(progress:)``), never on the actor: an input returns as soon as
/// the machine has answered, frames that depend on a change wait for its commit, and the
/// service takes no further transport event while more than ``maxUncommittedInputs`` inputs
/// wait for theirs (back-pressure on a slow disk).
public actor DoctorService {
    /// A point-in-time view for the console's `list`.
    public struct Status: Sendable {
        /// The doctor's id.
        public var identity: String
        /// The current epoch (0 before the first join).
        public var epoch: UInt64
        /// Active patients in ascending id order, with their last receipt in this session
        /// (`DoctorMachine.lastReceipt(of:)`).
        public var members: [(id: String, lastReceipt: DoctorMachine.MemberReceipt?)]
        /// Every enrolled id (the live registry: enrollments and revocations included).
        public var enrolled: [String]
        /// Connections still in their handshake.
        public var pendingHandshakes: Int
    }

    private let configuration: DoctorConfiguration
    private let keys: DoctorKeyMaterial
    private let storage: Storage
    private let transport: any AsyncTransport
    private let clock: any NodeClock
    private let logger: Logger
    private let observer: (@Sendable (DoctorEvent) -> Void)?
    private var node: DoctorNode?
    private var timers: TaskTimerScheduler?
    private var audit: AuditLog?
    private var pump: Task<Void, Never>?
    private var progressWaiters: [CheckedContinuation<Void, Never>] = []

    /// Inputs whose writes may wait for a commit before the service stops taking transport
    /// events until the store catches up.
    public static let maxUncommittedInputs = 4_096
    private var uncommittedLimit = DoctorService.maxUncommittedInputs

    /// Lowers the back-pressure threshold (tests reach it with a handful of inputs).
    package func setUncommittedLimit(_ limit: Int) {
        uncommittedLimit = max(1, limit)
    }

    private enum Storage {
        case path(String?)
        case store(any DoctorStore)
    }
    private let handshakeWorkers: Int
    private var jobPool: HandshakeJobPool?
    private let metrics: DoctorMetrics

    /// A service that will run over `transport`; nothing happens until ``start()``.
    ///
    /// - Parameters:
    ///   - configuration: the doctor's limits, windows and timeouts (also the transport's
    ///     bounds, see `DoctorConfiguration.transportBounds`).
    ///   - keys: the doctor's group, id and private key.
    ///   - databasePath: the SQLite file of the security store and audit log (nil: in memory,
    ///     for tests).
    ///   - handshakeWorkers: threads verifying KEY_VERIFICATIONs concurrently
    ///     (``HandshakeJobPool``; default one per active core); 0 runs them inline on the
    ///     service's own executor.
    ///   - transport: the listening transport (`TCPServerTransport` of TelemedTCP, say).
    ///   - clock: the wall and monotonic clocks (the system's by default).
    ///   - logger: where events are logged (never secrets).
    ///   - observer: sees every `DoctorEvent`, in order (the console, a test).
    ///   - metrics: where the node reports its metrics (see ``DoctorMetrics``); sample the
    ///     gauges with ``sampleMetrics()``.
    public init(configuration: DoctorConfiguration, keys: DoctorKeyMaterial, databasePath: String?,
                transport: any AsyncTransport, clock: any NodeClock = SystemClock(), logger: Logger,
                observer: (@Sendable (DoctorEvent) -> Void)? = nil,
                handshakeWorkers: Int = HandshakeJobPool.defaultWorkers, metrics: DoctorMetrics = DoctorMetrics()) {
        self.init(configuration: configuration, keys: keys, storage: .path(databasePath), transport: transport,
                  clock: clock, logger: logger, observer: observer, handshakeWorkers: handshakeWorkers, metrics: metrics)
    }

    /// A service over a store of the host's choosing (any ``DoctorStore``; the databasePath
    /// initializer opens a ``SecurityStore``).
    public init(configuration: DoctorConfiguration, keys: DoctorKeyMaterial, store: any DoctorStore,
                transport: any AsyncTransport, clock: any NodeClock = SystemClock(), logger: Logger,
                observer: (@Sendable (DoctorEvent) -> Void)? = nil,
                handshakeWorkers: Int = HandshakeJobPool.defaultWorkers, metrics: DoctorMetrics = DoctorMetrics()) {
        self.init(configuration: configuration, keys: keys, storage: .store(store), transport: transport,
                  clock: clock, logger: logger, observer: observer, handshakeWorkers: handshakeWorkers, metrics: metrics)
    }

    private init(configuration: DoctorConfiguration, keys: DoctorKeyMaterial, storage: Storage,
                 transport: any AsyncTransport, clock: any NodeClock, logger: Logger,
                 observer: (@Sendable (DoctorEvent) -> Void)?, handshakeWorkers: Int, metrics: DoctorMetrics) {
        precondition(handshakeWorkers >= 0, "handshakeWorkers must not be negative")
        self.metrics = metrics
        self.handshakeWorkers = handshakeWorkers
        self.configuration = configuration
        self.keys = keys
        self.storage = storage
        self.transport = transport
        self.clock = clock
        self.logger = logger
        self.observer = observer
    }

    /// Opens the store, restores the security state, records T0 durably and starts taking
    /// transport events.
    public func start() throws(DoctorNodeError) {
        precondition(node == nil, "start() is called once")
        let store: any DoctorStore
        do {
            switch storage {
            case let .path(path?): store = try SecurityStore(path: path)
            case .path(nil): store = try SecurityStore.inMemory()
            case let .store(given): store = given
            }
        } catch {
            throw .store(error)
        }
        let audit = AuditLog(store: store)
        let timers = TaskTimerScheduler { [weak self] key, token in await self?.wake(key, token: token) }
        let observer = self.observer
        let progress: @Sendable () -> Void = { [weak self] in
            guard let self else { return }
            Task { await self.storeProgressed() }
        }
        let pool = handshakeWorkers == 0 ? nil : HandshakeJobPool(workers: handshakeWorkers) { [weak self] result in
            Task { await self?.jobFinished(result) }
        }
        let node: DoctorNode
        do {
            node = try DoctorNode(configuration: configuration, keys: keys, securityStore: store, audit: audit,
                                  transport: transport, clock: clock, timers: timers, rng: .system,
                                  logger: logger, observer: observer.map { callback in { callback($0) } },
                                  commits: .background(progress: progress), jobRunner: pool, metrics: metrics)
        } catch {
            pool?.stop()
            throw error
        }
        self.jobPool = pool
        try node.start()
        self.node = node
        self.timers = timers
        self.audit = audit
        let events = transport.events
        pump = Task { [weak self] in
            for await event in events {
                guard let self else { return }
                await self.handle(event)
            }
        }
    }

    /// Waits until the transport's event stream ends (after the transport shut down).
    public func waitUntilTransportEnds() async {
        await pump?.value
    }

    deinit {
        jobPool?.stop()
    }

    // MARK: - Inputs

    private func handle(_ event: TransportEvent) async {
        node?.handle(event)
        // Back-pressure: while too many inputs wait for their commit, take no more events (the
        // transport stops reading, as it does when the actor is busy).
        while let node, node.uncommittedInputs >= uncommittedLimit {
            await withCheckedContinuation { progressWaiters.append($0) }
        }
    }

    /// Commits completed on the writer thread: send what waited for them.
    private func storeProgressed() {
        node?.storeProgressed()
        let waiters = progressWaiters
        progressWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    private func jobFinished(_ result: HandshakeJobResult) {
        node?.jobFinished(result)
    }

    private func wake(_ key: NodeTimerKey, token: UInt64) {
        guard let timers, timers.claim(key, token: token) else { return }
        node?.timerFired(key)
    }

    private func running() -> DoctorNode {
        guard let node else { preconditionFailure("call start() before sending commands to the doctor service") }
        return node
    }

    // MARK: - Commands

    /// Sends a broadcast to every member.
    public func broadcast(_ text: String) throws(DoctorCommandError) {
        try running().broadcast(text)
    }

    /// Kicks one member.
    public func kick(_ patient: PeerID) throws(DoctorCommandError) {
        try running().kick(patient)
    }

    /// A new epoch for the same members.
    public func rekey() throws(DoctorCommandError) {
        try running().rekey()
    }

    /// Sets the minimum protocol version (see `DoctorNode.setMinimumVersion(_:)`).
    public func setMinimumVersion(_ version: ProtocolVersion) {
        running().setMinimumVersion(version)
    }

    /// Lifts a block named by operator text (see `DoctorNode.unblock(_:)`).
    public func unblock(_ target: String) throws(DoctorCommandError) {
        try running().unblock(target)
    }

    /// Lifts a block (see `DoctorNode.unblock(_:)`).
    public func unblock(_ target: UnblockTarget) throws(DoctorCommandError) {
        try running().unblock(target)
    }

    /// Enrolls a patient's public key while the doctor runs (persisted and audited first, then
    /// fed to the machine; see ``DoctorNode/enroll(_:publicKey:replace:)``). With `replace`, an
    /// enrolled id gets the new key and its old key's session ends.
    @discardableResult
    public func enroll(_ patient: PeerID, publicKey: PublicKey, replace: Bool = false) throws(StoreError) -> EnrollmentKind {
        try running().enroll(patient, publicKey: publicKey, replace: replace)
    }

    /// Revokes a patient while the doctor runs: its session ends at once (DISCONNECT
    /// "revoked", close, one new epoch for the rest) and it is refused like an unknown id from
    /// then on (see ``DoctorNode/revoke(_:)``).
    public func revoke(_ patient: PeerID) throws(StoreError) {
        try running().revoke(patient)
    }

    /// Every id in the registry, revoked ones included, with its fingerprint, status and
    /// whether it is connected (the console's `patients`).
    public func patients() throws(StoreError) -> [PatientListing] {
        try running().patients()
    }

    /// Disconnects everyone (the console's `disconnect`: DISCONNECT `restarting`, so patients
    /// come back; `close` would say `shutdown`).
    public func disconnectAll(kind: ShutdownKind = .restarting) {
        running().disconnectAll(kind: kind)
    }

    /// Shutdown: DISCONNECT to every member (reason `restarting` or `shutdown`, as `kind` says:
    /// whether patients should come back), REJECTED to pending handshakes, timers stopped, the
    /// stop audited with `reason`, every pending commit completed and what waited for it sent.
    /// The caller then shuts its transport down (which flushes).
    public func shutdown(reason: String, kind: ShutdownKind) {
        guard let node else { return }
        node.disconnectAll(kind: kind)
        node.recordStop(reason)
        timers?.cancelAll()
        jobPool?.stop()
        node.finishStore()
        storeProgressed()
    }

    /// What the node's commit pipeline did so far (commits, durable commits = fsyncs of the
    /// SQLite WAL, batches per commit).
    public func commitStatistics() -> StoreCommitStatistics {
        running().commitStatistics
    }

    // MARK: - Introspection

    /// Members, epoch and receipts.
    public func status() -> Status {
        let node = running()
        let machine = node.machine
        return Status(identity: machine.identity.value, epoch: machine.epoch,
                      members: machine.activePatients.map { id in (id.value, machine.lastReceipt(of: id)) },
                      enrolled: machine.enrolledPatients.map(\.value),
                      pendingHandshakes: machine.pendingHandshakes)
    }

    /// The sizes of every table the doctor keeps in memory (for monitoring and soak runs:
    /// each must stay bounded however long the doctor runs).
    public struct Counters: Sendable, Codable, Equatable {
        /// Connections the machine tracks (pending and active).
        public var connections: Int
        /// Active patients.
        public var members: Int
        /// Connections still in their handshake.
        public var pendingHandshakes: Int
        /// (id, rn) entries in the replay cache (expired ones leave at the next insert).
        public var replayCacheEntries: Int
        /// Source blocks held (expired ones are purged lazily).
        public var sourceBlocks: Int
        /// Prefix blocks held.
        public var prefixBlocks: Int
        /// Device blocks held.
        public var deviceBlocks: Int
        /// Sources with failures inside the R-SRC window.
        public var failureSources: Int
        /// Ids with device-block history (kept 24 h for the repeated-block alert).
        public var deviceBlockHistoryIDs: Int
        /// Members with a last receipt (kept in the member's entry, so never more than `members`).
        public var lastReceipts: Int
        /// Timers scheduled and not yet fired or cancelled.
        public var timers: Int
        /// The current epoch.
        public var epoch: UInt64
        /// Frames, closes and reports waiting for the commit they depend on.
        public var heldEffects: Int = 0
        /// Inputs whose writes are not committed yet (at most about
        /// ``DoctorService/maxUncommittedInputs``: beyond it the service stops reading).
        public var uncommittedInputs: Int = 0
    }

    /// Samples the gauges of ``DoctorMetrics`` (table sizes, members, pending handshakes,
    /// epoch) from the running machine; an exporter calls it before each scrape. Does nothing
    /// before ``start()``.
    public func sampleMetrics() {
        node?.sampleMetrics(timers: timers?.scheduledCount ?? 0)
    }

    /// The current table sizes.
    public func counters() -> Counters {
        let node = running()
        let machine = node.machine
        let state = machine.securityState
        return Counters(connections: machine.connectionCount, members: machine.activePatients.count,
                        pendingHandshakes: machine.pendingHandshakes, replayCacheEntries: machine.replayCacheCount,
                        sourceBlocks: state.sourceBlocks.count, prefixBlocks: state.prefixBlocks.count,
                        deviceBlocks: state.deviceBlocks.count, failureSources: state.failures.count,
                        deviceBlockHistoryIDs: state.deviceBlockHistory.count, lastReceipts: machine.membersWithReceipt,
                        timers: timers?.scheduledCount ?? 0, epoch: machine.epoch,
                        heldEffects: node.heldEffects, uncommittedInputs: node.uncommittedInputs)
    }

    /// Active blocks, as `(target description, expiry wall ms)`.
    public func blocks() -> [(target: String, until: UInt64)] {
        running().activeBlocks().map { ($0.target.description, $0.until) }
    }

    /// Audit rows (most recent `limit`), optionally of one kind.
    ///
    /// Reads its own writes: every batch submitted before the call is committed first (audit
    /// rows are group-committed on the writer thread and may trail the frames they explain), so
    /// a row for anything the doctor has already answered is there.
    public func auditRows(kind: AuditKind? = nil, limit: Int = 10_000) throws(StoreError) -> [AuditRow] {
        guard let audit else { return [] }
        node?.waitForStore()
        return try audit.rows(kind: kind, limit: limit)
    }
}
