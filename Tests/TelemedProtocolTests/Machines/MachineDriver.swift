@_spi(Testing) import TelemedCrypto
import TelemedProtocol

// MARK: - MachineDriver
//
// Theory of operation
//
// The one pump of doctor and patient *machines* in the package. It holds a `DoctorMachine`
// and the `PatientMachine`s behind its connections, plays the host around them (the clocks,
// one seeded generator, the frames in flight, the scheduled timers) and carries out every
// action the machines return, as `DoctorNode` and `PatientNode` would:
//
//   * frames travel one FIFO queue; `pump` delivers them in order until none is left (bounded),
//     through an optional hook that may drop, replace or duplicate a frame in flight;
//   * the doctor's `.close` first writes what it queued for that connection (the patient reads
//     it), then the patient sees the end of stream; a patient's `.close` first writes what it
//     queued, then the doctor is told the peer closed (`.closedByPeer`) unless it closed the
//     connection itself meanwhile; once a connection ended, no frame and no close report
//     about it reaches either machine (its doctor timers stay scheduled, as `DoctorNode`
//     leaves them, and fire to no effect);
//   * timers are kept per machine; due timers fire in (due, connection, kind) order, so ties
//     never depend on dictionary order, and a timer cancelled by an earlier one does not fire.
//   * the doctor runs with `handshakeJobs = .byHost` (set on every `open`, so a doctor replaced
//     after a restart too): its handshake jobs (`.verify`) come to the driver. In the `.inline`
//     job mode the driver runs each job as soon as the batch that emitted it is carried out and
//     feeds the result back (what `DoctorNode` does without a pool, and what a pool does when
//     nothing else happens meanwhile): the doctor answers exactly as the serial machine. In the
//     `.held` mode jobs wait in `heldJobs` until the test completes them (`completeJob`), in
//     any order and interleaved with any other input, to replay the races of a pool.
//
// Three users: the machine tests' `Harness` (this driver unobserved, plus the test cast's
// conveniences), the model-based tests' `ModelRunner` (which compares it with `DoctorModel`) and
// the doctor fuzz scripts (`DoctorScript`, whose invariant checker observes every action list
// and may stop the run). The fuzz package compiles this same file through a symlink
// (Fuzz/Sources/FuzzHarness/MachineDriver.swift), so it uses only the public API of
// TelemedProtocol and the Testing SPI of TelemedCrypto (the seeded generator).
//
// What it is not: the simulator (Simulations/TelemedSimulation/Runtime) and the in-memory
// cluster of the node tests (Tests/TelemedNodeTests/Support/InMemoryCluster.swift) drive the
// production `DoctorNode` and `PatientNode` over the in-memory transport, with their real
// framing, timer schedulers and security store: the code that runs in production, one level
// above the machines. They are no machine pumps and keep their own loops on purpose.

/// Watches everything a ``MachineDriver`` does and may stop it by throwing.
///
/// Every requirement has a default that watches nothing; ``Unobserved`` takes all defaults and
/// cannot fail, so an unobserved driver needs no `try`.
protocol MachineObserver {
    /// What the observer throws (`Never` for an observer that only watches).
    associatedtype Failure: Error

    /// The driver opened `connection`; called before the doctor answers it.
    mutating func opened(_ connection: ConnectionID) throws(Failure)
    /// The peer of `connection` closed it; called before the doctor answers it.
    mutating func peerClosed(_ connection: ConnectionID) throws(Failure)
    /// The doctor returned `actions` (it is already in the state they come from); called before
    /// the driver carries them out.
    mutating func doctorActed(_ actions: [DoctorAction], doctor: DoctorMachine, now: Instant) throws(Failure)
    /// The patient on `connection` returned `actions`; called before the driver carries them out.
    mutating func patientActed(_ actions: [PatientAction], on connection: ConnectionID) throws(Failure)
    /// `pump` delivered everything; `patients` are those on open connections.
    mutating func settled(doctor: DoctorMachine, patients: [ConnectionID: PatientMachine]) throws(Failure)
    /// `pump` was still delivering after `deliveries` frames.
    func didNotSettle(after deliveries: Int) throws(Failure)
}

extension MachineObserver {
    mutating func opened(_ connection: ConnectionID) throws(Failure) {}
    mutating func peerClosed(_ connection: ConnectionID) throws(Failure) {}
    mutating func doctorActed(_ actions: [DoctorAction], doctor: DoctorMachine, now: Instant) throws(Failure) {}
    mutating func patientActed(_ actions: [PatientAction], on connection: ConnectionID) throws(Failure) {}
    mutating func settled(doctor: DoctorMachine, patients: [ConnectionID: PatientMachine]) throws(Failure) {}
    func didNotSettle(after deliveries: Int) throws(Failure) {
        preconditionFailure("pump did not settle within \(deliveries) deliveries")
    }
}

/// The observer of a driver nobody watches: it never fails.
struct Unobserved: MachineObserver {
    typealias Failure = Never
}

/// A doctor machine and the patient machines behind its connections, driven in one process
/// (see the theory of operation above). Every loop is bounded.
struct MachineDriver<Observer: MachineObserver> {
    /// Which way a frame travels.
    enum Direction: Equatable, Sendable { case toDoctor, toPatient }

    /// One frame in flight.
    struct Flight: Equatable, Sendable {
        var connection: ConnectionID
        var direction: Direction
        var body: [UInt8]
    }

    /// What the ``hook`` does with a frame in flight.
    enum Verdict {
        case deliver
        case drop
        case replace([UInt8])
        case duplicate
    }

    // MARK: The cast

    /// The doctor's key pair: patient machines trust its public half; a host restart rebuilds
    /// the doctor with it.
    let doctorKey: PrivateKey
    /// Credentials of the patients the doctor enrolled (its registry holds their public halves).
    var keys: [PeerID: PrivateKey]

    // MARK: The machines and the host around them

    var doctor: DoctorMachine
    /// The patient machine behind each connection that has one (kept after the connection ends).
    var patients: [ConnectionID: PatientMachine] = [:]
    /// Where each connection came from.
    var sources: [ConnectionID: SourceAddress] = [:]
    /// Connections that ended, by either side; nothing is delivered on them.
    var closed: Set<ConnectionID> = []
    var now: Instant
    /// The one generator every machine input draws from.
    var rng: SeededRandom
    /// Frames in flight, oldest first.
    var queue: [Flight] = []
    /// The doctor's scheduled timers and their due monotonic time.
    var timers: [DoctorTimer: UInt64] = [:]
    /// Each patient's scheduled timers and their due monotonic time.
    var patientTimers: [ConnectionID: [PatientTimer: UInt64]] = [:]
    /// The next connection `open` assigns (ids are never reused).
    var nextConnection: UInt64 = 1
    /// Sees every frame `pump` takes from the queue, and decides its fate.
    var hook: ((Flight) -> Verdict)?
    var observer: Observer
    /// Frames `pump` delivers at most before it reports the run as not settling.
    var maxDeliveries = 10_000

    /// How the driver runs the doctor's handshake jobs.
    enum JobMode: Equatable, Sendable {
        /// Each job runs as soon as the batch that emitted it is carried out.
        case inline
        /// Jobs wait in ``heldJobs`` until ``completeJob(at:)`` runs them.
        case held
    }

    /// How the doctor's handshake jobs run (see the theory of operation).
    var jobMode: JobMode = .inline
    /// Handshake jobs emitted and not yet run, oldest first (`.held` mode).
    var heldJobs: [HandshakeJob] = []
    /// The number of handshake jobs the driver ran.
    var jobsRun = 0

    // MARK: The record

    /// Whether actions are appended to the logs (a fuzz run turns it off to save the copies).
    var recording = true
    /// Every action of the doctor, in order.
    var doctorLog: [DoctorAction] = []
    /// Every action of each connection's patient, in order.
    var patientLog: [ConnectionID: [PatientAction]] = [:]

    /// A driver around `doctor` (already started, or started by the caller through
    /// ``applyDoctor(_:)``) at `now`.
    init(doctor: DoctorMachine, doctorKey: PrivateKey, keys: [PeerID: PrivateKey], now: Instant,
         rng: SeededRandom, observer: Observer) {
        self.doctor = doctor
        self.doctorKey = doctorKey
        self.keys = keys
        self.now = now
        self.rng = rng
        self.observer = observer
    }

    // MARK: - Connections

    /// Opens a connection from `source` (a fresh id) and gives the doctor `connectionOpened`.
    mutating func open(from source: SourceAddress) throws(Observer.Failure) -> ConnectionID {
        let connection = ConnectionID(nextConnection)
        nextConnection += 1
        sources[connection] = source
        if doctor.handshakeJobs != .byHost { doctor.handshakeJobs = .byHost }
        try observer.opened(connection)
        try applyDoctor(doctor.connectionOpened(connection, from: source, now: now))
        return connection
    }

    /// Puts `patient` behind `connection` and gives it `connected` (it sends KEY_VERIFICATION).
    mutating func start(_ patient: PatientMachine, on connection: ConnectionID) throws(Observer.Failure) {
        patients[connection] = patient
        try patientInput(on: connection) { patient, now, rng in patient.connected(now: now, using: &rng) }
    }

    /// Gives the patient on an open `connection` one input and carries out its answer.
    mutating func patientInput(on connection: ConnectionID,
                               _ input: (inout PatientMachine, Instant, inout SeededRandom) -> [PatientAction]) throws(Observer.Failure) {
        guard !closed.contains(connection), var patient = patients[connection] else { return }
        let actions = input(&patient, now, &rng)
        patients[connection] = patient
        try applyPatient(connection, actions)
    }

    /// Delivers a raw frame body on `connection` to the doctor, past any patient machine (an
    /// attacker's frame). Nothing is delivered on a closed connection.
    mutating func inject(_ body: [UInt8], on connection: ConnectionID) throws(Observer.Failure) {
        try applyDoctor(doctor.frameReceived(body, on: connection, now: now, using: &rng))
    }

    /// The transport reports the open `connection` gone (`end`): the patient behind it loses
    /// it and the doctor is told. Nothing happens on a connection that already ended.
    mutating func transportClosed(_ connection: ConnectionID, _ end: ConnectionEnd) throws(Observer.Failure) {
        guard !closed.contains(connection) else { return }
        try patientLost(connection)
        try peerClosed(connection, end)
    }

    /// The host goes down: every open connection ends without the doctor hearing of it (the
    /// patients see the loss), nothing in flight arrives and no doctor timer fires. The caller
    /// then replaces ``doctor``.
    mutating func loseAllConnections() throws(Observer.Failure) {
        for connection in Set(sources.keys).union(patients.keys).sorted() {
            try patientLost(connection)
        }
        queue = []
        timers = [:]
        heldJobs = []
    }

    // MARK: - Carrying out actions

    /// Carries out the doctor's `actions` (after the observer saw them).
    mutating func applyDoctor(_ actions: [DoctorAction]) throws(Observer.Failure) {
        try observer.doctorActed(actions, doctor: doctor, now: now)
        if recording { doctorLog += actions }
        var ready: [HandshakeJob] = []
        for action in actions {
            switch action {
            case let .send(connection, body):
                guard !closed.contains(connection) else { continue }
                queue.append(Flight(connection: connection, direction: .toPatient, body: body))
            case let .close(connection):
                // The host flushes what it queued before closing; then the patient sees EOF.
                try flush(connection, .toPatient)
                try patientLost(connection)
            case let .scheduleTimer(timer, after):
                timers[timer] = now.monotonic + after
            case let .cancelTimer(timer):
                timers[timer] = nil
            case let .verify(job):
                switch jobMode {
                case .inline: ready.append(job)
                case .held: heldJobs.append(job)
                }
            case .persist, .event:
                continue
            }
        }
        for job in ready { try run(job) }
    }

    // MARK: - Handshake jobs

    /// Runs `job` with the driver's generator and gives the doctor its result.
    mutating func run(_ job: HandshakeJob) throws(Observer.Failure) {
        jobsRun += 1
        let result = job.run(using: &rng)
        try applyDoctor(doctor.jobFinished(result, now: now, using: &rng))
    }

    /// Runs the held job at `index` (any order: the races of a pool) and carries out the answer.
    mutating func completeJob(at index: Int) throws(Observer.Failure) {
        try run(heldJobs.remove(at: index))
    }

    /// Runs every held job, newest first when `reversed` (and any jobs their results emit, in
    /// the same order), until none is held.
    mutating func completeAllJobs(reversed: Bool = false) throws(Observer.Failure) {
        var rounds = 0
        while !heldJobs.isEmpty {
            rounds += 1
            if rounds > maxDeliveries { try observer.didNotSettle(after: maxDeliveries) }
            try completeJob(at: reversed ? heldJobs.count - 1 : 0)
        }
    }

    /// Carries out the `actions` of the patient on `connection` (after the observer saw them).
    mutating func applyPatient(_ connection: ConnectionID, _ actions: [PatientAction]) throws(Observer.Failure) {
        try observer.patientActed(actions, on: connection)
        if recording { patientLog[connection, default: []] += actions }
        for action in actions {
            switch action {
            case let .send(body):
                guard !closed.contains(connection) else { continue }
                queue.append(Flight(connection: connection, direction: .toDoctor, body: body))
            case .close:
                // The patient's transport writes what it queued, then closes.
                // (If the doctor closed it meanwhile, for instance on the DISCONNECT just
                // written, the host already forgot the connection and reports nothing.)
                try flush(connection, .toDoctor)
                guard closed.insert(connection).inserted else { continue }
                try peerClosed(connection, .closedByPeer)
            case let .scheduleTimer(timer, after):
                patientTimers[connection, default: [:]][timer] = now.monotonic + after
            case let .cancelTimer(timer):
                patientTimers[connection]?[timer] = nil
            case .event:
                continue
            }
        }
    }

    /// Ends `connection` on the patient's side: it is closed, and its patient (if it was open
    /// and has one) sees the connection lost.
    mutating func patientLost(_ connection: ConnectionID) throws(Observer.Failure) {
        guard closed.insert(connection).inserted, var patient = patients[connection] else { return }
        let actions = patient.connectionLost()
        patients[connection] = patient
        try applyPatient(connection, actions)
    }

    /// Tells the doctor the peer of `connection` closed it (`end`) and carries out its answer.
    mutating func peerClosed(_ connection: ConnectionID, _ end: ConnectionEnd) throws(Observer.Failure) {
        try observer.peerClosed(connection)
        try applyDoctor(doctor.connectionClosed(connection, end, now: now, using: &rng))
    }

    // MARK: - Delivering

    /// Delivers one frame, unless its connection is closed or (towards a patient) has no
    /// patient machine.
    mutating func deliver(_ flight: Flight) throws(Observer.Failure) {
        guard !closed.contains(flight.connection) else { return }
        switch flight.direction {
        case .toDoctor:
            try inject(flight.body, on: flight.connection)
        case .toPatient:
            try patientInput(on: flight.connection) { patient, now, rng in
                patient.frameReceived(flight.body, now: now, using: &rng)
            }
        }
    }

    /// Delivers the queued frames in FIFO order, through ``hook``, until none is left; takes out
    /// undelivered the frames `holdBack` selects and returns them, in order. Stops the run
    /// (``MachineObserver/didNotSettle(after:)``) after ``maxDeliveries`` frames.
    @discardableResult
    mutating func pump(holdingBack holdBack: (Flight) -> Bool = { _ in false }) throws(Observer.Failure) -> [Flight] {
        var held: [Flight] = []
        var deliveries = 0
        while !queue.isEmpty {
            deliveries += 1
            if deliveries > maxDeliveries { try observer.didNotSettle(after: maxDeliveries) }
            let flight = queue.removeFirst()
            if holdBack(flight) {
                held.append(flight)
                continue
            }
            switch hook?(flight) ?? .deliver {
            case .drop:
                continue
            case let .replace(body):
                try deliver(Flight(connection: flight.connection, direction: flight.direction, body: body))
            case .duplicate:
                try deliver(flight)
                try deliver(flight)
            case .deliver:
                try deliver(flight)
            }
        }
        try observer.settled(doctor: doctor, patients: patients.filter { !closed.contains($0.key) })
        return held
    }

    /// Delivers the frames already queued on one connection in one direction (not through the hook).
    mutating func flush(_ connection: ConnectionID, _ direction: Direction) throws(Observer.Failure) {
        let pending = queue.filter { $0.connection == connection && $0.direction == direction }
        queue.removeAll { $0.connection == connection && $0.direction == direction }
        for flight in pending { try deliver(flight) }
    }

    // MARK: - Time

    /// Moves both clocks forward; no timer fires (see ``fireDueTimers()`` and ``run(for:)``).
    mutating func advance(by millis: UInt64) {
        now.wall += millis
        now.monotonic += millis
    }

    /// The deterministic order of doctor timers due at the same time: by connection, then the
    /// handshake timer before the frame-completion timer; the epoch window after all of them.
    static func tieOrder(_ timer: DoctorTimer) -> (UInt64, Int) {
        switch timer {
        case let .handshake(connection): (connection.rawValue, 0)
        case let .frameCompletion(connection): (connection.rawValue, 1)
        case .epochWindow: (.max, 2)
        }
    }

    /// The doctor timer due first by `deadline`, ties in ``tieOrder(_:)``.
    func nextDoctorTimer(dueBy deadline: UInt64) -> (timer: DoctorTimer, due: UInt64)? {
        timers.filter { $0.value <= deadline }
            .min { a, b in
                let (x, y) = (Self.tieOrder(a.key), Self.tieOrder(b.key))
                return (a.value, x.0, x.1) < (b.value, y.0, y.1)
            }
            .map { ($0.key, $0.value) }
    }

    /// The patient timer due first by `deadline`, ties by connection.
    func nextPatientTimer(dueBy deadline: UInt64) -> (connection: ConnectionID, timer: PatientTimer, due: UInt64)? {
        var best: (connection: ConnectionID, timer: PatientTimer, due: UInt64)?
        for (connection, scheduled) in patientTimers {
            for (timer, due) in scheduled where due <= deadline {
                if let current = best, (current.due, current.connection) <= (due, connection) { continue }
                best = (connection, timer, due)
            }
        }
        return best
    }

    /// Fires one scheduled doctor timer now (nothing if it is not scheduled).
    mutating func fire(_ timer: DoctorTimer) throws(Observer.Failure) {
        guard timers.removeValue(forKey: timer) != nil else { return }
        try applyDoctor(doctor.timerFired(timer, now: now, using: &rng))
    }

    /// Fires one scheduled timer of the patient on `connection` now (nothing if it is not
    /// scheduled or the connection ended).
    mutating func fire(_ timer: PatientTimer, on connection: ConnectionID) throws(Observer.Failure) {
        guard patientTimers[connection]?.removeValue(forKey: timer) != nil else { return }
        try patientInput(on: connection) { patient, now, _ in patient.timerFired(timer, now: now) }
    }

    /// Fires, at the current time, every doctor timer due by now (also those the fired ones
    /// schedule), in due order with ties in ``tieOrder(_:)``. Patient timers do not fire.
    mutating func fireDueTimers() throws(Observer.Failure) {
        var fired = 0
        while let (timer, _) = nextDoctorTimer(dueBy: now.monotonic) {
            fired += 1
            if fired > maxDeliveries { try observer.didNotSettle(after: maxDeliveries) }
            try fire(timer)
        }
    }

    /// Lets `millis` pass: both clocks move to each due timer in turn (doctor and patient; at
    /// equal times the doctor's first, each side in its tie order), it fires and the frames it
    /// causes are pumped; then the clocks land `millis` after where they started.
    mutating func run(for millis: UInt64) throws(Observer.Failure) {
        let target = now.monotonic + millis
        let wallTarget = now.wall &+ millis
        var fired = 0
        while true {
            let doctorDue = nextDoctorTimer(dueBy: target)
            let patientDue = nextPatientTimer(dueBy: target)
            guard let next = [doctorDue?.due, patientDue?.due].compactMap({ $0 }).min() else { break }
            fired += 1
            if fired > maxDeliveries { try observer.didNotSettle(after: maxDeliveries) }
            now.wall &+= next - now.monotonic
            now.monotonic = next
            if let (timer, due) = doctorDue, due == next {
                try fire(timer)
            } else if let (connection, timer, _) = patientDue {
                try fire(timer, on: connection)
            }
            try pump()
        }
        now.monotonic = target
        now.wall = wallTarget
    }

    // MARK: - Reading the record

    var doctorEvents: [DoctorEvent] {
        doctorLog.compactMap { if case let .event(event) = $0 { return event }; return nil }
    }

    var rejections: [(rule: RuleID, reason: String)] {
        doctorEvents.compactMap {
            if case let .rejected(_, _, rule, reason, _) = $0 { return (rule, reason) }
            return nil
        }
    }

    func patientEvents(_ connection: ConnectionID) -> [PatientEvent] {
        (patientLog[connection] ?? []).compactMap { if case let .event(event) = $0 { return event }; return nil }
    }

    func framesSent(to connection: ConnectionID) -> [[UInt8]] {
        doctorLog.compactMap { if case let .send(c, body) = $0, c == connection { return body }; return nil }
    }

    func framesFromPatient(_ connection: ConnectionID) -> [[UInt8]] {
        (patientLog[connection] ?? []).compactMap { if case let .send(body) = $0 { return body }; return nil }
    }

    func received(_ connection: ConnectionID) -> [String] {
        patientEvents(connection).compactMap {
            if case let .broadcastReceived(_, _, _, text) = $0 { return text }
            return nil
        }
    }
}
