// Theory of operation
// ===================
// A `Simulation` runs one scenario with one seed, single-threaded, over the real node runtime
// (`DoctorNode`, `PatientNode`), the real codec and the in-memory transport. Nothing reads a
// wall clock, spawns a thread or opens a socket, so the same scenario and seed produce the
// same trace bytes on any machine.
//
//   time        `VirtualTime` (ms since the scenario began) moves only when the loop takes
//               the next event; each actor reads it through its own `ActorClock` (a skew).
//   events      one `EventQueue` ordered by (time, insertion order): deliveries of traffic in
//               flight and node timers. Every piece of traffic the network puts in flight is
//               noticed at once (`registerDeliveries`), recorded on the wiretap, offered to
//               the step's intercepts and the seeded faults, and given a seeded latency.
//   randomness  one seed: `SeededRandom(seed)` forked per purpose and actor (keys, doctor run,
//               patient connection, network, faults, crafting).
//   bounds      the queue, the wiretap, the trace, every settle/advance loop and every pump
//               loop are bounded, in proportion to the cast (`Bounds`); hitting a bound fails
//               the scenario with a message, never hangs.
//   threads     the nodes and the loop run on the calling thread; only the harness's own pure
//               crypto (decrypting what it recovers, re-verifying members' signatures) runs on
//               `ParallelMap`'s workers, its results used in a fixed order.
//
// A step performs its action, pumps the network's queued events into the nodes, and (unless
// it says `wait: false`) settles: it runs events until no delivery is in flight. Then its
// expectations and the global invariants are checked.

import Logging
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport

/// Why a scenario could not go on (a bound was hit, the doctor could not start, a script
/// named something that does not exist at run time).
struct SimulationFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// One scenario's world. See the theory of operation above.
final class Simulation {
    // MARK: Bounds

    //
    // Each bound is the larger of a floor and a per-patient allowance times the cast (group
    // members included), so a 10,000-patient login storm fits where a 12-patient scenario's
    // bounds would stop it, and a runaway scenario still stops.

    /// The bounds of one run: each `max(floor, perPatient × patients)`.
    struct Bounds {
        /// Events waiting in the queue (floor 1,000,000; 100 per patient).
        let queue: Int
        /// Frames on the wiretap (floor 500,000; 100 per patient).
        let wiretap: Int
        /// Trace lines (floor 2,000,000; 400 per patient).
        let traceLines: Int
        /// Events one settle or advance may run (floor 2,000,000; 200 per patient).
        let eventsPerLoop: Int
        /// Rounds of one pump without quiet (floor 1,000,000; 100 per patient).
        let pumpRounds: Int

        init(patients: Int) {
            func scaled(_ floor: Int, _ perPatient: Int) -> Int { max(floor, perPatient * patients) }
            queue = scaled(1_000_000, 100)
            wiretap = scaled(500_000, 100)
            traceLines = scaled(2_000_000, 400)
            eventsPerLoop = scaled(2_000_000, 200)
            pumpRounds = scaled(1_000_000, 100)
        }
    }
    static let settleHorizonMillis: UInt64 = 6 * 3_600_000
    /// The in-memory network gives each address the ephemeral ports 49152...65535 once each.
    static let ephemeralPortsPerAddress = 65_535 - 49_152 + 1

    // MARK: World

    let scenario: Scenario
    let seed: UInt64
    let root: SeededRandom
    let keys: KeyRing
    let codec: MessageCodec
    let time = VirtualTime()
    let bounds: Bounds
    let queue: EventQueue
    let network = InMemoryNetwork()
    let logs = LogSink()
    var trace: TraceRecorder
    var secrets = SecretBook()
    var wiretap: Wiretap

    // MARK: Doctor

    let store: SecurityStore
    let audit: AuditLog
    let doctorClock: ActorClock
    let doctorEndpoint: InMemoryEndpoint
    let doctorAddress: PeerAddress
    var doctor: DoctorNode
    var doctorRun = 1
    var doctorTimers: SimulatedTimers
    /// Where the doctor's handshake jobs wait for their seeded latency (one per doctor run).
    var doctorJobs: SimulatedJobs
    /// The randomness the doctor's handshake jobs draw (the answer phase's), per doctor run.
    var jobRandom: SeededRandom
    var doctorDown = false
    let doctorRelay = Relay<DoctorEvent>()

    // MARK: Clients

    var clocks: [String: ActorClock] = [:]
    var endpoints: [String: InMemoryEndpoint] = [:]
    var sessions: [WireConnection: PatientSession] = [:]
    var latestSession: [String: WireConnection] = [:]
    var flowsByClient: [WireConnection: Flow] = [:]
    var flowsByServer: [WireConnection: Flow] = [:]
    var attackerLabels: [String: WireConnection] = [:]
    /// Connections opened from each address (bounded by ``ephemeralPortsPerAddress``).
    var connectionsFrom: [IPAddress: Int] = [:]
    var counters: [String: Int] = [:]
    /// Keys named by `enroll` steps, generated from the seed on first use (`key/named/<name>`).
    var namedKeys: [String: PrivateKey] = [:]
    /// The named keys by their public key's bytes (the first name wins).
    var namedKeysByPublic: [[UInt8]: PrivateKey] = [:]
    /// Every patient of the cast by id (group members included).
    let patientSpecs: [String: PatientSpec]
    /// The key each patient's device holds now, when an `enroll` step gave it another than its
    /// cast key.
    var deviceKeys: [String: PrivateKey] = [:]

    // MARK: Randomness and traffic

    var networkRandom: SeededRandom
    var faultRandom: SeededRandom
    var craftRandom: SeededRandom
    var lastSeenDelivery: UInt64 = 0
    var lastDue: [WireConnection: UInt64] = [:]
    var exempt: Set<DeliveryID> = []
    var injected: Set<DeliveryID> = []
    var intercepts: [(intercept: Intercept, seen: Int, done: Bool)] = []
    var floodCiphertext: (ElementBytes, ElementBytes)?
    var flooding = false
    /// K recovered per request ciphertext (a replayed or flooded ciphertext is decrypted once). Bounded.
    var decryptedRequests: [[UInt8]: [UInt8]] = [:]
    /// Decryptions queued for the next batch (see Simulation+Recovery.swift), and the trace
    /// length when the first of them was queued.
    var pendingRecoveries: [PendingRecovery] = []
    /// The words the doctor's latest handshake job drew on each connection (by raw id), kept
    /// until that connection's answer is noticed: the insider route to b (DrawRecorder.swift).
    var doctorDraws: [UInt64: [UInt64]] = [:]
    /// Every dh_gwn the doctor sent, with the digest of the answer that carried it (R-FS: never twice).
    var sentShares: [[UInt8]: Bytes32] = [:]
    var recoveryTraceMark = 0
    /// Runs the harness's own decryptions and signature checks on several cores.
    let parallel: ParallelMap

    // MARK: Observations

    var window = StepWindow()
    var broadcastLabels: [String: BroadcastKey] = [:]
    var sentBroadcasts: [BroadcastKey: SentBroadcast] = [:]
    var heldGroupKeys: [String: [(run: Int, epoch: UInt64, key: GroupKey)]] = [:]
    var readBy: [String: Set<BroadcastKey>] = [:]
    var rulesExercised: Set<RuleID> = []
    var violations: [String] = []
    /// The store's registry as last read by the invariants, and whether a step may have
    /// written it since (see `revokedPatientsHoldNoSession`).
    var storedRegistry: [EnrolledPatient]?
    var registryChanged = true

    // MARK: - Setup

    /// `storePath`: keep the doctor's security store in this SQLite file instead of in memory
    /// (the erasure scan reads the file's bytes; the run is the same either way).
    init(scenario: Scenario, seed: UInt64, workers: Int = 1, storePath: String? = nil) throws(SimulationFailure) {
        self.scenario = scenario
        self.seed = seed
        parallel = ParallelMap(workers: workers)
        var specs: [String: PatientSpec] = [:]
        for patient in scenario.patients where specs[patient.id] == nil { specs[patient.id] = patient }
        patientSpecs = specs
        bounds = Bounds(patients: scenario.patients.count)
        queue = EventQueue(capacity: bounds.queue)
        trace = TraceRecorder(capacity: bounds.traceLines)
        wiretap = Wiretap(capacity: bounds.wiretap)
        root = SeededRandom(seed: seed)
        do {
            keys = try KeyRing(scenario: scenario, seed: root)
        } catch {
            throw SimulationFailure(message: "\(error)")
        }
        codec = MessageCodec(groupName: keys.group.name, elementLength: keys.group.elementLength)
        networkRandom = root.fork("network/latency")
        faultRandom = root.fork("network/faults")
        craftRandom = root.fork("attackers")
        do {
            if let storePath {
                store = try SecurityStore(path: storePath)
            } else {
                store = try SecurityStore.inMemory()
            }
        } catch {
            throw SimulationFailure(message: "the in-memory security store could not be opened: \(error)")
        }
        audit = AuditLog(store: store)
        doctorEndpoint = network.addEndpoint(named: "doctor", host: scenario.doctor.host)
        doctorAddress = doctorEndpoint.listen(port: scenario.doctor.port)
        doctorClock = ActorClock(time: time, startWall: scenario.startWall, offset: 0)
        doctorTimers = SimulatedTimers(owner: .doctor(run: 1), queue: queue, time: time)
        doctorJobs = SimulatedJobs(run: 1, queue: queue, time: time, doctor: scenario.doctor,
                                   random: root.fork("doctor/job-latency-run-1"))
        jobRandom = root.fork("doctor/jobs-run-1")
        doctor = try Simulation.makeDoctor(scenario: scenario, keys: keys, store: store, audit: audit,
                                           transport: doctorEndpoint, clock: doctorClock, timers: doctorTimers,
                                           jobs: doctorJobs, random: root.fork("doctor/run-1"), logs: logs,
                                           relay: doctorRelay)
        for patient in scenario.patients {
            clocks[patient.id] = ActorClock(time: time, startWall: scenario.startWall, offset: patient.clockOffsetMillis)
        }
        for attacker in scenario.attackers {
            clocks[attacker.name] = ActorClock(time: time, startWall: scenario.startWall, offset: 0)
        }
        learnStaticSecrets()
        doctorRelay.handler = { [unowned self] event in self.doctorEvent(event) }
        emit("start", [("scenario", .string(scenario.name)), ("seed", .uint(seed)),
                       ("group", .string(keys.group.name)), ("patients", .int(scenario.patients.count)),
                       ("attackers", .int(scenario.attackers.count))])
        do {
            try doctor.start()
        } catch {
            throw SimulationFailure(message: "the doctor could not start: \(error)")
        }
        drainLogs()
    }

    static func makeDoctor(scenario: Scenario, keys: KeyRing, store: SecurityStore, audit: AuditLog,
                           transport: InMemoryEndpoint, clock: ActorClock, timers: SimulatedTimers,
                           jobs: SimulatedJobs, random: SeededRandom, logs: LogSink,
                           relay: Relay<DoctorEvent>) throws(SimulationFailure) -> DoctorNode {
        let material = DoctorKeyMaterial(group: keys.group, identity: keys.doctorID, privateKey: keys.doctorKey,
                                         registry: keys.registry)
        do {
            return try DoctorNode(configuration: scenario.doctorConfiguration, keys: material, securityStore: store,
                                  audit: audit, transport: transport, clock: clock, timers: timers,
                                  rng: NodeRandom(random), logger: CapturingLogHandler.logger("doctor", sink: logs),
                                  observer: { event in relay.send(event) }, jobRunner: jobs)
        } catch {
            throw SimulationFailure(message: "the doctor node could not be built: \(error)")
        }
    }

    private func learnStaticSecrets() {
        secrets.add(keys.doctorKey.scalarBytes, "the doctor's private key")
        for (id, key) in keys.patientKeys.sorted(by: { $0.key < $1.key }) {
            secrets.add(key.scalarBytes, "\(id)'s private key")
        }
        secrets.add(KeySchedule.groupKeySecret(doctorKey: keys.doctorKey).withUnsafeBytes { Array($0) }, "k_gk")
    }

    // MARK: - Clocks and endpoints

    /// The clock of `actor` (`doctor`, the doctor's id, a patient or an attacker).
    func clock(of actor: String) -> ActorClock? {
        if actor == "doctor" || actor == keys.doctorID.value { return doctorClock }
        return clocks[actor]
    }

    /// The endpoint `owner` uses at `host` (created on first use; several may share an address).
    /// The endpoint is named by the normalised address, so every spelling of one address (the
    /// loader already normalises them, a flow's `clientAddress.host` is normalised too) finds
    /// the endpoint that owns its connections.
    func endpoint(owner: String, host: String) throws(SimulationFailure) -> InMemoryEndpoint {
        guard let address = IPAddress(host) else {
            throw SimulationFailure(message: "\(owner): \"\(host)\" is not an IP address")
        }
        let name = "\(owner)@\(address)"
        if let existing = endpoints[name] { return existing }
        let endpoint = network.addEndpoint(named: name, host: address.description)
        endpoints[name] = endpoint
        return endpoint
    }

    /// Opens a connection to the doctor and returns its flow (the connect is put in flight).
    /// Fails, rather than letting the network trap, when the address has no ephemeral port left.
    func openFlow(from endpoint: InMemoryEndpoint, owner: Flow.Owner) throws(SimulationFailure) -> Flow {
        let opened = connectionsFrom[endpoint.ip, default: 0]
        guard opened < Simulation.ephemeralPortsPerAddress else {
            throw SimulationFailure(message: "bound hit: \(endpoint.ip) opened \(opened) connections, every ephemeral port it has")
        }
        connectionsFrom[endpoint.ip] = opened + 1
        let client = endpoint.connect(to: doctorAddress)
        let request = network.pendingDeliveries.last { delivery in
            if case .connect = delivery.payload { return delivery.id.rawValue > lastSeenDelivery }
            return false
        }
        guard let request else { throw SimulationFailure(message: "the network did not put the connect in flight") }
        let flow = Flow(client: client, server: request.connection, clientAddress: request.from, owner: owner,
                        run: doctorRun)
        flowsByClient[client] = flow
        flowsByServer[request.connection] = flow
        window.connections.insert(request.connection)
        return flow
    }

    func nextCount(_ key: String) -> Int {
        let value = counters[key, default: 0] + 1
        counters[key] = value
        return value
    }
}

// MARK: - Relay

/// Forwards a node's observer calls to a handler installed after the node was built.
final class Relay<Value> {
    var handler: ((Value) -> Void)?
    func send(_ value: Value) { handler?(value) }
}

// MARK: - Broadcast bookkeeping

/// Names one broadcast: the doctor run that sealed it (1 for the first process, one more per
/// `restart`), its epoch and its seq. Epochs start again at 1 when the doctor restarts, so
/// (epoch, seq) alone names two different broadcasts once a scenario has restarted.
struct BroadcastKey: Hashable, Comparable, CustomStringConvertible {
    let run: Int
    let epoch: UInt64
    let seq: UInt64

    static func < (lhs: BroadcastKey, rhs: BroadcastKey) -> Bool {
        (lhs.run, lhs.epoch, lhs.seq) < (rhs.run, rhs.epoch, rhs.seq)
    }

    /// `1/0`, or `1/0 of doctor run 2` after a restart.
    var description: String { "\(epoch)/\(seq)" + (run == 1 ? "" : " of doctor run \(run)") }
}

/// A broadcast as the wire carried it, with the members at the time it was sent.
struct SentBroadcast {
    let message: BroadcastMessage
    let members: Set<String>
}
