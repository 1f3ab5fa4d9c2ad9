@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport

extension Simulation {
    // MARK: - Pumping the network's events into the nodes

    /// Hands every queued transport event to its node (which may queue more), noticing new
    /// traffic in flight after each round. Bounded.
    func pump() throws(SimulationFailure) {
        var rounds = 0
        while true {
            try registerDeliveries()
            let events = network.takeEvents()
            if events.isEmpty { break }
            rounds += 1
            guard rounds <= bounds.pumpRounds else {
                throw SimulationFailure(message: "bound hit: more than \(bounds.pumpRounds) event rounds without quiet")
            }
            for event in events { route(event) }
            guard !doctorJobs.overflowed else {
                throw SimulationFailure(message: "bound hit: the event queue holds \(queue.capacity) events (a handshake job was refused)")
            }
        }
        drainLogs()
    }

    func route(_ event: InMemoryEvent) {
        traceTransport(event)
        if event.endpoint == doctorEndpoint.name {
            if !doctorDown { doctor.handle(event.event) }
            return
        }
        guard let connection = event.event.connection else { return }
        if let session = sessions[connection] {
            session.node.handle(event.event)
        }
    }

    // MARK: - Traffic in flight

    /// Notices traffic the network put in flight since the last call: records it, applies
    /// intercepts and faults, and schedules its delivery.
    func registerDeliveries() throws(SimulationFailure) {
        while true {
            // The network appends new traffic at the end of its queue (enqueue, duplicate,
            // inject; the harness never splits a delivery), so the queue is in id order and the
            // fresh deliveries are its tail: found from the end, not by filtering every delivery
            // in flight after every event (a storm has tens of thousands in flight).
            let pending = network.pendingDeliveries
            var start = pending.endIndex
            while start > pending.startIndex, pending[start - 1].id.rawValue > lastSeenDelivery { start -= 1 }
            let fresh = pending[start...]
            guard !fresh.isEmpty else { return }
            for delivery in fresh {
                lastSeenDelivery = max(lastSeenDelivery, delivery.id.rawValue)
                try notice(delivery)
            }
        }
    }

    private func notice(_ delivery: InMemoryDelivery) throws(SimulationFailure) {
        var reordered = false
        if case let .frame(body) = delivery.payload, let (flow, towardsDoctor) = flow(for: delivery.connection) {
            // Flood requests are only counted, not decoded: their opcode is read from the prefix.
            let message = flooding && towardsDoctor ? nil : try? codec.decode(body)
            let frame = WireFrame(delivery: delivery.id, time: time.now, flow: flow, towardsDoctor: towardsDoctor,
                                  opcode: message?.opcode ?? Wiretap.opcode(of: body), body: body)
            let wasInjected = injected.contains(delivery.id)
            if !wasInjected {
                guard wiretap.record(frame) else {
                    throw SimulationFailure(message: "bound hit: the wiretap holds \(wiretap.capacity) frames")
                }
                if !towardsDoctor, let message { checkGroupKeyComesFirst(message, on: flow) }
                if let message { recover(message, in: frame) }
            }
            traceFrame(frame, injected: wasInjected)
            if !exempt.contains(delivery.id) {
                if try applyIntercepts(to: frame) == .held { return }
                switch applyFaults(to: frame) {
                case .dropped: return
                case .reordered: reordered = true
                case .none: break
                }
            }
        }
        try schedule(delivery, reordered: reordered)
    }

    /// PROTOCOL.md §7.1: after its SESSION_TOKEN a joiner is sent its GROUP_KEY before any
    /// other frame (a REJECTED, which ends the connection, excepted), however long the epoch
    /// window holds it back.
    func checkGroupKeyComesFirst(_ message: Message, on flow: Flow) {
        switch message {
        case .sessionToken, .sessionTokenV2: flow.sawSessionToken = true
        case .groupKey: flow.sawGroupKey = true
        case .encMsg, .disconnect:
            if flow.sawSessionToken && !flow.sawGroupKey {
                violations.append("invariant: \(ScenarioDecoder.name(of: message.opcode)) on conn \(flow.server.rawValue) before its first GROUP_KEY (PROTOCOL.md §7.1)")
            }
        default: break
        }
    }

    func flow(for connection: WireConnection) -> (Flow, Bool)? {
        if let flow = flowsByServer[connection] { return (flow, true) }
        if let flow = flowsByClient[connection] { return (flow, false) }
        return nil
    }

    private func schedule(_ delivery: InMemoryDelivery, reordered: Bool) throws(SimulationFailure) {
        let spec = scenario.network
        let span = spec.latencyMax - spec.latencyMin
        let latency = spec.latencyMin + (span == 0 ? 0 : networkRandom.next() % (span + 1))
        var due = time.now + latency
        if !reordered {
            due = max(due, lastDue[delivery.connection] ?? 0)
            lastDue[delivery.connection] = due
        }
        guard queue.push(.deliver(delivery.id), at: due) else {
            throw SimulationFailure(message: "bound hit: the event queue holds \(queue.capacity) events")
        }
    }

    enum FaultOutcome { case none, dropped, reordered }

    /// The seeded faults of `network`: a lost frame resets its connection (TCP cannot lose one
    /// silently), a duplicated frame arrives twice, a reordered one may overtake.
    private func applyFaults(to frame: WireFrame) -> FaultOutcome {
        let spec = scenario.network
        guard spec.drop > 0 || spec.duplicate > 0 || spec.reorder > 0 else { return .none }
        let roll = { (random: inout SeededRandom) -> Double in Double(random.next() >> 11) / Double(1 << 53) }
        if roll(&faultRandom) < spec.drop {
            network.drop(frame.delivery)
            let end = frame.towardsDoctor ? frame.flow.server : frame.flow.client
            network.fail(end, reason: .error("connection reset"))
            emit("fault", [("fault", .string("lost")), ("delivery", .uint(frame.delivery.rawValue)),
                           ("flow", .string(frame.flow.name))])
            return .dropped
        }
        if roll(&faultRandom) < spec.duplicate, let copy = network.duplicate(frame.delivery) {
            exempt.insert(copy)
            emit("fault", [("fault", .string("duplicated")), ("delivery", .uint(frame.delivery.rawValue)),
                           ("copy", .uint(copy.rawValue)), ("flow", .string(frame.flow.name))])
        }
        if roll(&faultRandom) < spec.reorder {
            emit("fault", [("fault", .string("reordered")), ("delivery", .uint(frame.delivery.rawValue)),
                           ("flow", .string(frame.flow.name))])
            return .reordered
        }
        return .none
    }

    // MARK: - The event loop

    /// Runs one event from the queue.
    func process(_ entry: EventQueue.Entry) throws(SimulationFailure) {
        time.move(to: entry.time)
        switch entry.event {
        case let .deliver(id):
            if network.deliver(id) { emit("deliver", [("delivery", .uint(id.rawValue))]) }
        case let .timer(owner, key, generation):
            switch owner {
            case let .doctor(run):
                guard run == doctorRun, !doctorDown, doctorTimers.take(key, generation: generation) else { break }
                emit("timer", [("actor", .string("doctor")), ("timer", .string(key.description))])
                doctor.timerFired(key)
            case let .patient(connection):
                guard let session = sessions[connection], session.timers.take(key, generation: generation) else { break }
                emit("timer", [("actor", .string(session.patient)), ("timer", .string(key.description))])
                session.node.timerFired(key)
            }
        case let .job(run, job):
            // A job of an earlier doctor run died with it.
            guard run == doctorRun, !doctorDown else { break }
            // The job's draws are recorded (unchanged) for the insider route to b (DrawRecorder.swift).
            var recorder = RecordingRandom(base: jobRandom, log: DrawLog())
            let result = job.run(using: &recorder)
            jobRandom = recorder.base
            recordJobDraws(recorder.log, on: job.connection)
            emit("job", [("job", .uint(job.number)), ("phase", .string(job.phase.rawValue)),
                         ("conn", .uint(job.connection.rawValue)), ("result", .string(result.description))])
            doctor.jobFinished(result)
        }
        try pump()
    }

    /// Runs events until no traffic is in flight, no handshake job is running and the doctor
    /// holds no pending epoch (its epoch window, PROTOCOL.md §7.1, has fired and the GROUP_KEYs
    /// are delivered); timers due on the way fire. Bounded in events and in virtual time.
    func settle() throws(SimulationFailure) {
        let horizon = time.now + Simulation.settleHorizonMillis
        var count = 0
        while queue.pendingDeliveries > 0 || queue.pendingJobs > 0 || (!doctorDown && doctorTimers.isScheduled(.doctor(.epochWindow))) {
            guard let next = queue.nextTime, next <= horizon else {
                throw SimulationFailure(message: "bound hit: the network did not go quiet within \(Simulation.settleHorizonMillis / 3_600_000) h of virtual time")
            }
            count += 1
            guard count <= bounds.eventsPerLoop, let entry = queue.pop() else {
                throw SimulationFailure(message: "bound hit: more than \(bounds.eventsPerLoop) events while settling")
            }
            try process(entry)
        }
    }

    /// Runs every event due within `millis`, then sets the time to the end of the interval.
    func advance(by millis: UInt64) throws(SimulationFailure) {
        let target = time.now + millis
        var count = 0
        while let next = queue.nextTime, next <= target {
            count += 1
            guard count <= bounds.eventsPerLoop, let entry = queue.pop() else {
                throw SimulationFailure(message: "bound hit: more than \(bounds.eventsPerLoop) events while advancing")
            }
            try process(entry)
        }
        time.move(to: target)
    }

    // MARK: - Restart

    /// The doctor process dies (every connection it holds is reset, its timers die with it)
    /// and starts again with the same security store and keys.
    func restartDoctor() throws(SimulationFailure) {
        doctorDown = true
        for server in flowsByServer.keys.sorted() {
            network.fail(server, reason: .error("doctor restarted"))
        }
        try pump()
        doctorRun += 1
        doctorTimers = SimulatedTimers(owner: .doctor(run: doctorRun), queue: queue, time: time)
        doctorJobs = SimulatedJobs(run: doctorRun, queue: queue, time: time, doctor: scenario.doctor,
                                   random: root.fork("doctor/job-latency-run-\(doctorRun)"))
        jobRandom = root.fork("doctor/jobs-run-\(doctorRun)")
        doctor = try Simulation.makeDoctor(scenario: scenario, keys: keys, store: store, audit: audit,
                                           transport: doctorEndpoint, clock: doctorClock, timers: doctorTimers,
                                           jobs: doctorJobs, random: root.fork("doctor/run-\(doctorRun)"), logs: logs,
                                           relay: doctorRelay)
        doctorDown = false
        emit("restart", [("run", .int(doctorRun))])
        do {
            try doctor.start()
        } catch {
            throw SimulationFailure(message: "the doctor could not restart: \(error)")
        }
        drainLogs()
    }
}
