import struct TelemedTransport.FrameReader
@_spi(Testing) import TelemedCrypto
import TelemedProtocol

// MARK: - DoctorScript
//
// Theory of operation
//
// A fuzz input is a script for one DoctorMachine and the host around it. Each step is one
// opcode byte (taken modulo the number of operations) and its operands; reading past the end
// yields zeros, so every byte string is a valid script. Four connection slots; a slot is
// opened on a fresh ConnectionID, so ids are never reused. A slot may carry an honest
// PatientMachine (driven by the same script) whose frames and the doctor's answers are
// pumped to quiescence after every step, or only raw bytes from the script (an attacker).
//
// The host model keeps what a real host sees: open and closed connections, scheduled timers
// (fired in due order when the clock advances), the frames sent. After every step the
// invariants of `DoctorScriptChecker` are checked, and the first violation is thrown.

/// Runs one doctor script.
public struct DoctorScript {
    /// Number of connection slots.
    public static let slotCount = 4
    /// Honest handshakes per script at most (each costs tens of modular exponentiations).
    public static let maxHonestHandshakes = 6
    /// Steps per script at most.
    public static let maxSteps = 256

    struct Slot {
        var connection: ConnectionID
        var patient: PatientMachine?
        var patientTimerDue: UInt64?
        /// The production frame reader (the one both transports run), so raw stream bytes reach
        /// the machine as `frameStarted`, `frame` and `frameRefused` exactly as `DoctorNode.handle`
        /// feeds them.
        var reader = FrameReader()
    }

    let world: DoctorScriptWorld
    var doctor: DoctorMachine
    var checker: DoctorScriptChecker
    var now: Instant
    var rng = SeededRandom(seed: 0x5eed)
    var slots: [Slot?] = Array(repeating: nil, count: DoctorScript.slotCount)
    var nextConnection: UInt64 = 1
    var honestHandshakes = 0
    /// Frames honest patients sent, for replays (bounded).
    var patientFrames: [[UInt8]] = []
    var timers: [DoctorTimer: UInt64] = [:]
    var queue: [(to: ConnectionID, toDoctor: Bool, body: [UInt8])] = []

    /// A script over the shared world.
    public init(world: DoctorScriptWorld = .shared) {
        self.world = world
        doctor = world.template
        checker = DoctorScriptChecker(configuration: world.configuration, group: world.group)
        now = Instant(wall: DoctorScriptWorld.startWall, monotonic: 0)
    }

    /// Runs `data` as a script; throws the first violated invariant.
    public static func run(_ data: [UInt8]) throws(FuzzViolation) {
        var script = DoctorScript()
        try script.run(data)
    }

    mutating func run(_ data: [UInt8]) throws(FuzzViolation) {
        var input = FuzzInput(data)
        var steps = 0
        while !input.isAtEnd, steps < Self.maxSteps {
            steps += 1
            try step(&input)
            try pump()
            try checker.checkState(doctor)
        }
    }

    // MARK: - Steps

    mutating func step(_ input: inout FuzzInput) throws(FuzzViolation) {
        let op = input.byte() % 12
        switch op {
        case 0: // open a slot from a source
            let index = Int(input.byte()) % Self.slotCount
            let source = world.sources[Int(input.byte()) % world.sources.count]
            guard slots[index] == nil else { return }
            let connection = ConnectionID(nextConnection)
            nextConnection += 1
            slots[index] = Slot(connection: connection)
            checker.opened(connection)
            try applyDoctor(doctor.connectionOpened(connection, from: source, now: now))
        case 1: // an honest patient starts its handshake on a slot
            let index = Int(input.byte()) % Self.slotCount
            let who = world.patients[Int(input.byte()) % world.patients.count]
            guard var slot = slots[index], slot.patient == nil, honestHandshakes < Self.maxHonestHandshakes else { return }
            honestHandshakes += 1
            let patient: PatientMachine
            do {
                patient = try PatientMachine(configuration: PatientConfiguration(), identity: who.id, privateKey: who.key,
                                             doctorID: world.doctorID, doctorKey: world.doctorKey.publicKey)
            } catch {
                throw FuzzViolation("default patient configuration refused: \(error)")
            }
            slot.patient = patient
            slots[index] = slot
            try patientDo(index) { machine, now, rng in machine.connected(now: now, using: &rng) }
        case 2: // a raw frame body on a slot
            let index = Int(input.byte()) % Self.slotCount
            let body = input.take(input.u16())
            try rawFrame(body, slot: index)
        case 3: // raw stream bytes on a slot, through the host's frame decoder
            let index = Int(input.byte()) % Self.slotCount
            let bytes = input.take(Int(input.byte()))
            try rawStream(bytes, slot: index)
        case 4: // the peer closes a slot
            let index = Int(input.byte()) % Self.slotCount
            let ends: [ConnectionEnd] = [.closedByPeer, .cutFrame, .writeTimeout, .outboundQueueFull, .transportFailure]
            let end = ends[Int(input.byte()) % ends.count]
            guard let slot = slots[index] else { return }
            slots[index] = nil
            let wasOpen = checker.isOpen(slot.connection)
            checker.peerClosed(slot.connection)
            let actions = doctor.connectionClosed(slot.connection, end, now: now, using: &rng)
            if !wasOpen {
                try fuzzCheck(actions.allSatisfy(Self.isHarmless),
                              "connectionClosed on \(slot.connection), already closed, produced \(actions)")
            }
            try applyDoctor(actions)
        case 5: // time passes on both clocks; due timers fire
            let steps: [UInt64] = [1, 250, 1_000, 9_999, 10_001, 31_000, 300_000, 16 * 60_000, 25 * 3_600_000]
            try advance(by: steps[Int(input.byte()) % steps.count])
        case 6: // the wall clock steps (NTP) while the monotonic clock does not
            let steps: [UInt64] = [1_000, 30_001, 3_600_000, 25 * 3_600_000]
            let amount = steps[Int(input.byte()) % steps.count]
            if input.byte() & 1 == 0 { now.wall &+= amount } else { now.wall = now.wall >= amount ? now.wall - amount : 0 }
        case 7: // replay a frame an honest patient sent, on a slot
            let index = Int(input.byte()) % Self.slotCount
            let pick = Int(input.byte())
            guard !patientFrames.isEmpty else { return }
            try rawFrame(patientFrames[pick % patientFrames.count], slot: index)
        case 8: // the honest patient on a slot leaves
            let index = Int(input.byte()) % Self.slotCount
            try patientDo(index) { machine, _, _ in machine.leave() }
        case 9: // operator commands
            try operatorCommand(input.byte(), input.byte())
        case 10: // a patient timer fires early (its handshake timeout)
            let index = Int(input.byte()) % Self.slotCount
            try patientDo(index) { machine, now, _ in machine.timerFired(.handshake, now: now) }
        default: // 11: a scheduled doctor timer of a slot (handshake or frame completion) fires now
            let index = Int(input.byte()) % Self.slotCount
            guard let slot = slots[index] else { return }
            let timer: DoctorTimer = input.byte() % 2 == 0 ? .handshake(slot.connection) : .frameCompletion(slot.connection)
            guard timers[timer] != nil else { return }
            timers[timer] = nil
            try applyDoctor(doctor.timerFired(timer, now: now, using: &rng))
        }
    }

    mutating func operatorCommand(_ which: UInt8, _ argument: UInt8) throws(FuzzViolation) {
        switch which % 8 {
        case 0, 1, 2:
            let texts = ["Dr. Müller is unavailable 14:00–15:00 UTC; next slot 15:30.", "x",
                         String(repeating: "é", count: 8_192)]
            if let actions = try? doctor.broadcast(texts[Int(argument) % texts.count], now: now, using: &rng) {
                try applyDoctor(actions)
            }
        case 3:
            let id = world.patients[Int(argument) % world.patients.count].id
            if let actions = try? doctor.kick(id, now: now, using: &rng) { try applyDoctor(actions) }
        case 4:
            if let actions = try? doctor.rekey(now: now, using: &rng) { try applyDoctor(actions) }
        case 5:
            let source = world.sources[Int(argument) % world.sources.count]
            let target: BlockTarget = argument & 0x80 == 0 ? .source(source) : .prefix(source.prefix)
            if let actions = try? doctor.unblock(target) { try applyDoctor(actions) }
        case 6:
            let id = world.patients[Int(argument) % world.patients.count].id
            if let actions = try? doctor.unblockDevices(of: id) { try applyDoctor(actions) }
        default:
            guard argument & 7 == 0 else { return }   // rare: it ends everything
            try applyDoctor(doctor.disconnectAll(now: now))
        }
    }

    // MARK: - Raw input

    mutating func rawFrame(_ body: [UInt8], slot index: Int) throws(FuzzViolation) {
        guard let slot = slots[index] else { return }
        let actions = doctor.frameReceived(body, on: slot.connection, now: now, using: &rng)
        if !checker.isOpen(slot.connection) {
            try fuzzCheck(actions.isEmpty, "a frame on closed \(slot.connection) produced \(actions)")
        }
        try applyDoctor(actions)
    }

    mutating func rawStream(_ bytes: [UInt8], slot index: Int) throws(FuzzViolation) {
        guard var slot = slots[index] else { return }
        let reports = slot.reader.receive(bytes)
        slots[index] = slot
        for report in reports where checker.isOpen(slot.connection) {
            switch report {
            case .frameStarted:
                try applyDoctor(doctor.frameStarted(on: slot.connection, now: now))
            case let .frame(body):
                try rawFrame(body, slot: index)
            case let .refused(error):
                try applyDoctor(doctor.frameRefused(on: slot.connection, declaredLength: error.declaredLength,
                                                    now: now, using: &rng))
                try fuzzCheck(!checker.isOpen(slot.connection), "a refused frame length left \(slot.connection) open")
                return
            }
        }
    }

    // MARK: - Time

    mutating func advance(by millis: UInt64) throws(FuzzViolation) {
        let target = now.monotonic + millis
        let wallTarget = now.wall &+ millis
        while true {
            let doctorDue = timers.filter { $0.value <= target }
                .min { ($0.value, Self.order($0.key).0, Self.order($0.key).1) < ($1.value, Self.order($1.key).0, Self.order($1.key).1) }
            let patientDue = slots.indices.compactMap { index -> (Int, UInt64)? in
                guard let due = slots[index]?.patientTimerDue, due <= target else { return nil }
                return (index, due)
            }.min { $0.1 < $1.1 }
            let next = [doctorDue?.value, patientDue?.1].compactMap { $0 }.min()
            guard let next else { break }
            now.wall &+= next - now.monotonic
            now.monotonic = next
            if let (timer, due) = doctorDue, due == next {
                timers[timer] = nil
                try applyDoctor(doctor.timerFired(timer, now: now, using: &rng))
            } else if let (index, _) = patientDue {
                slots[index]?.patientTimerDue = nil
                try patientDo(index) { machine, now, _ in machine.timerFired(.handshake, now: now) }
            }
            try pump()
        }
        now.monotonic = target
        now.wall = wallTarget
    }

    /// Due timers with equal deadlines fire in (connection, kind) order: deterministic.
    static func order(_ timer: DoctorTimer) -> (UInt64, Int) {
        switch timer {
        case let .handshake(connection): (connection.rawValue, 0)
        case let .frameCompletion(connection): (connection.rawValue, 1)
        case .epochWindow: (.max, 2)
        }
    }

    // MARK: - Actions

    static func isHarmless(_ action: DoctorAction) -> Bool {
        switch action {
        case .cancelTimer, .persist, .event: return true
        case .send, .close, .scheduleTimer: return false
        }
    }

    mutating func applyDoctor(_ actions: [DoctorAction]) throws(FuzzViolation) {
        try checker.check(actions, doctor: doctor, now: now)
        for action in actions {
            switch action {
            case let .send(connection, body):
                if slotIndex(of: connection).flatMap({ slots[$0]?.patient }) != nil {
                    queue.append((connection, false, body))
                }
            case let .close(connection):
                timers[.handshake(connection)] = nil
                timers[.frameCompletion(connection)] = nil
                guard let index = slotIndex(of: connection) else { continue }
                // The host writes what is queued, then the patient sees EOF.
                try deliverQueued(to: connection)
                if var patient = slots[index]?.patient { _ = patient.connectionLost() }
                slots[index] = nil
            case let .scheduleTimer(timer, after):
                timers[timer] = now.monotonic + after
            case let .cancelTimer(timer):
                timers[timer] = nil
            case .persist, .event:
                continue
            }
        }
    }

    func slotIndex(of connection: ConnectionID) -> Int? {
        slots.firstIndex { $0?.connection == connection }
    }

    mutating func deliverQueued(to connection: ConnectionID) throws(FuzzViolation) {
        let pending = queue.filter { !$0.toDoctor && $0.to == connection }
        queue.removeAll { !$0.toDoctor && $0.to == connection }
        for flight in pending { try deliver(flight) }
    }

    /// Runs one input of the honest patient on `index` and queues its output.
    mutating func patientDo(_ index: Int,
                            _ body: (inout PatientMachine, Instant, inout SeededRandom) -> [PatientAction]) throws(FuzzViolation) {
        guard var slot = slots[index], var patient = slot.patient else { return }
        let actions = body(&patient, now, &rng)
        slot.patient = patient
        slots[index] = slot
        try applyPatient(index, actions)
    }

    mutating func applyPatient(_ index: Int, _ actions: [PatientAction]) throws(FuzzViolation) {
        for action in actions {
            guard let slot = slots[index] else { return }
            switch action {
            case let .send(body):
                if patientFrames.count < 64 { patientFrames.append(body) }
                queue.append((slot.connection, true, body))
            case .close:
                // The patient's transport writes what it queued, then closes.
                let pending = queue.filter { $0.toDoctor && $0.to == slot.connection }
                queue.removeAll { $0.toDoctor && $0.to == slot.connection }
                for flight in pending { try deliver(flight) }
                guard let current = slots[index], current.connection == slot.connection else { return }
                slots[index] = nil
                let wasOpen = checker.isOpen(slot.connection)
                checker.peerClosed(slot.connection)
                let answer = doctor.connectionClosed(slot.connection, .closedByPeer, now: now, using: &rng)
                if !wasOpen {
                    try fuzzCheck(answer.allSatisfy(Self.isHarmless), "close of closed \(slot.connection) produced \(answer)")
                }
                try applyDoctor(answer)
            case let .scheduleTimer(_, after):
                slots[index]?.patientTimerDue = now.monotonic + after
            case .cancelTimer:
                slots[index]?.patientTimerDue = nil
            case .event:
                continue
            }
        }
    }

    mutating func deliver(_ flight: (to: ConnectionID, toDoctor: Bool, body: [UInt8])) throws(FuzzViolation) {
        if flight.toDoctor {
            guard checker.isOpen(flight.to) else { return }
            try applyDoctor(doctor.frameReceived(flight.body, on: flight.to, now: now, using: &rng))
        } else {
            guard let index = slotIndex(of: flight.to) else { return }
            try patientDo(index) { machine, now, rng in machine.frameReceived(flight.body, now: now, using: &rng) }
        }
    }

    /// Delivers queued frames in FIFO order until none is left (bounded), then checks that
    /// every honest patient holding a group key agrees with the doctor.
    mutating func pump() throws(FuzzViolation) {
        var steps = 0
        while !queue.isEmpty {
            steps += 1
            try fuzzCheck(steps <= 10_000, "frames kept flowing for 10,000 deliveries")
            try deliver(queue.removeFirst())
        }
        for slot in slots.compactMap({ $0 }) {
            guard let patient = slot.patient, patient.isActive else { continue }
            guard doctor.connection(of: patient.identity) == slot.connection else { continue }
            try fuzzCheck(patient.epoch == doctor.epoch,
                          "active \(patient.identity) on \(slot.connection) is in epoch \(patient.epoch), the doctor in \(doctor.epoch)")
            try fuzzCheck(patient.groupKeyFingerprint == doctor.groupKeyFingerprint,
                          "active \(patient.identity) holds another group key than the doctor's")
        }
    }
}
