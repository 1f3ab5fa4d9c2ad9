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
// opened on a fresh ConnectionID, so ids are never reused, and is free again once its
// connection ended. A slot may carry an honest PatientMachine (driven by the same script)
// whose frames and the doctor's answers are pumped to quiescence after every step, or only
// raw bytes from the script (an attacker).
//
// The machines are driven by the package's one `MachineDriver` (MachineDriver.swift, shared
// with the machine and model tests): it keeps what a real host sees (open and closed
// connections, frames in flight, scheduled timers, fired in due order when the clock
// advances). Its observer is the `DoctorScriptChecker`, which checks every action list before
// the driver carries it out; after every step the checker's state invariants are checked too,
// and the first violation is thrown.
//
// Handshake jobs (the crypto of a KEY_VERIFICATION, DoctorMachine+Jobs.swift) run inline by
// default: each as soon as it is emitted. `runWithHeldJobs` runs the same script with the jobs
// held, as a pool would: after every step a generator seeded from the script completes some of
// the held jobs, picked out of order, so closes, timeouts, blocks, replays, commands and clock
// steps land while requests are being verified; the rest complete at the end. The byte grammar
// is the same in both modes, so every corpus input explores both.

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
        /// The production frame reader (the one both transports run), so raw stream bytes reach
        /// the machine as `frameStarted`, `frame` and `frameRefused` exactly as `DoctorNode.handle`
        /// feeds them.
        var reader = FrameReader()
    }

    let world: DoctorScriptWorld
    var driver: MachineDriver<DoctorScriptChecker>
    var slots: [Slot?] = Array(repeating: nil, count: DoctorScript.slotCount)
    var honestHandshakes = 0
    /// Picks which held jobs complete after each step (`runWithHeldJobs` only).
    var jobOrder: SeededRandom?

    /// A script over the shared world.
    public init(world: DoctorScriptWorld = .shared) {
        self.world = world
        let enrolled = world.patients.prefix(2)
        driver = MachineDriver(doctor: world.template, doctorKey: world.doctorKey,
                               keys: Dictionary(enrolled.map { ($0.id, $0.key) }, uniquingKeysWith: { first, _ in first }),
                               now: Instant(wall: DoctorScriptWorld.startWall, monotonic: 0),
                               rng: SeededRandom(seed: 0x5eed),
                               observer: DoctorScriptChecker(configuration: world.configuration, group: world.group))
        driver.recording = false
    }

    /// Runs `data` as a script; throws the first violated invariant.
    public static func run(_ data: [UInt8]) throws(FuzzViolation) {
        var script = DoctorScript()
        try script.run(data)
    }

    /// Runs `data` as a script with the handshake jobs held and completed out of order (see
    /// the theory of operation); throws the first violated invariant.
    public static func runWithHeldJobs(_ data: [UInt8]) throws(FuzzViolation) {
        var script = DoctorScript()
        script.holdJobs(seed: data)
        try script.run(data)
    }

    /// Holds the handshake jobs from now on; `seed` seeds the order they complete in.
    mutating func holdJobs(seed: [UInt8]) {
        driver.jobMode = .held
        jobOrder = SeededRandom(seed: Array("held jobs".utf8) + seed)
    }

    mutating func run(_ data: [UInt8]) throws(FuzzViolation) {
        var input = FuzzInput(data)
        var steps = 0
        while !input.isAtEnd, steps < Self.maxSteps {
            steps += 1
            try step(&input)
            try completeSomeJobs()
            try driver.pump()
            try driver.observer.checkState(driver.doctor)
        }
        guard jobOrder != nil, !driver.heldJobs.isEmpty else { return }
        try driver.completeAllJobs()
        try driver.pump()
        try driver.observer.checkState(driver.doctor)
        try fuzzCheck(driver.doctor.retiredHandshakes == 0, "\(driver.doctor.retiredHandshakes) retired handshakes with no job held")
    }

    /// Completes some of the held jobs (none, some or all), each picked at random among them.
    mutating func completeSomeJobs() throws(FuzzViolation) {
        guard var order = jobOrder, !driver.heldJobs.isEmpty else { return }
        var count = Int(order.next() % UInt64(driver.heldJobs.count + 1))
        while count > 0, !driver.heldJobs.isEmpty {
            count -= 1
            try driver.completeJob(at: Int(order.next() % UInt64(driver.heldJobs.count)))
        }
        jobOrder = order
    }

    /// The slot at `index` while its connection is open.
    func live(_ index: Int) -> Slot? {
        guard let slot = slots[index], !driver.closed.contains(slot.connection) else { return nil }
        return slot
    }

    // MARK: - Steps

    mutating func step(_ input: inout FuzzInput) throws(FuzzViolation) {
        let op = input.byte() % 12
        switch op {
        case 0: // open a slot from a source
            let index = Int(input.byte()) % Self.slotCount
            let source = world.sources[Int(input.byte()) % world.sources.count]
            guard live(index) == nil else { return }
            slots[index] = Slot(connection: try driver.open(from: source))
        case 1: // an honest patient starts its handshake on a slot
            // The who byte: mod 4 the patient, bit 2 its version (0: 1, 1: 2, PROTOCOL.md §8.6.2).
            let index = Int(input.byte()) % Self.slotCount
            let whoByte = input.byte()
            let who = world.patients[Int(whoByte) % world.patients.count]
            guard let slot = live(index), driver.patients[slot.connection] == nil,
                  honestHandshakes < Self.maxHonestHandshakes else { return }
            honestHandshakes += 1
            var configuration = PatientConfiguration()
            configuration.version = whoByte & 4 == 0 ? .v1 : .v2
            let patient: PatientMachine
            do {
                patient = try PatientMachine(configuration: configuration, identity: who.id, privateKey: who.key,
                                             doctorID: world.doctorID, doctorKey: world.doctorKey.publicKey)
            } catch {
                throw FuzzViolation("patient configuration refused: \(error)")
            }
            try driver.start(patient, on: slot.connection)
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
            guard let slot = live(index) else { return }
            try driver.transportClosed(slot.connection, end)
        case 5: // time passes on both clocks; due timers fire
            let steps: [UInt64] = [1, 250, 1_000, 9_999, 10_001, 31_000, 300_000, 16 * 60_000, 25 * 3_600_000]
            try driver.run(for: steps[Int(input.byte()) % steps.count])
        case 6: // the wall clock steps (NTP) while the monotonic clock does not
            let steps: [UInt64] = [1_000, 30_001, 3_600_000, 25 * 3_600_000]
            let amount = steps[Int(input.byte()) % steps.count]
            if input.byte() & 1 == 0 {
                driver.now.wall &+= amount
            } else {
                driver.now.wall = driver.now.wall >= amount ? driver.now.wall - amount : 0
            }
        case 7: // replay a frame an honest patient sent, on a slot
            let index = Int(input.byte()) % Self.slotCount
            let pick = Int(input.byte())
            let sent = driver.observer.patientFrames
            guard !sent.isEmpty else { return }
            try rawFrame(sent[pick % sent.count], slot: index)
        case 8: // the honest patient on a slot leaves
            let index = Int(input.byte()) % Self.slotCount
            guard let slot = live(index) else { return }
            try driver.patientInput(on: slot.connection) { machine, _, _ in machine.leave() }
        case 9: // operator commands
            try operatorCommand(input.byte(), input.byte())
        case 10: // a patient timer fires early (its handshake timeout)
            let index = Int(input.byte()) % Self.slotCount
            guard let slot = live(index) else { return }
            try driver.patientInput(on: slot.connection) { machine, now, _ in machine.timerFired(.handshake, now: now) }
        default: // 11: a scheduled doctor timer of a slot (handshake or frame completion) fires now
            let index = Int(input.byte()) % Self.slotCount
            guard let slot = live(index) else { return }
            try driver.fire(input.byte() % 2 == 0 ? .handshake(slot.connection) : .frameCompletion(slot.connection))
        }
    }

    mutating func operatorCommand(_ which: UInt8, _ argument: UInt8) throws(FuzzViolation) {
        let now = driver.now
        switch which % 8 {
        case 0, 1, 2:
            let texts = ["Dr. Müller is unavailable 14:00–15:00 UTC; next slot 15:30.", "x",
                         String(repeating: "é", count: 8_192)]
            if let actions = try? driver.doctor.broadcast(texts[Int(argument) % texts.count], now: now, using: &driver.rng) {
                try driver.applyDoctor(actions)
            }
        case 3:
            let id = world.patients[Int(argument) % world.patients.count].id
            if let actions = try? driver.doctor.kick(id, now: now, using: &driver.rng) { try driver.applyDoctor(actions) }
        case 4:
            if let actions = try? driver.doctor.rekey(now: now, using: &driver.rng) { try driver.applyDoctor(actions) }
        case 5:
            let source = world.sources[Int(argument) % world.sources.count]
            let target: BlockTarget = argument & 0x80 == 0 ? .source(source) : .prefix(source.prefix)
            if let actions = try? driver.doctor.unblock(target) { try driver.applyDoctor(actions) }
        case 6:
            let id = world.patients[Int(argument) % world.patients.count].id
            if let actions = try? driver.doctor.unblockDevices(of: id) { try driver.applyDoctor(actions) }
        default:
            switch argument & 7 {
            case 0: // rare: it ends everything
                try driver.applyDoctor(driver.doctor.disconnectAll(now: now, kind: .shutdown))
            case 1, 2: // the minimum version (PROTOCOL.md §8.6.3): raising it ends version 1
                let version: ProtocolVersion = argument & 7 == 1 ? .v1 : .v2
                try driver.applyDoctor(driver.doctor.setMinimumVersion(version, now: now, using: &driver.rng))
            default:
                return
            }
        }
    }

    // MARK: - Raw input

    mutating func rawFrame(_ body: [UInt8], slot index: Int) throws(FuzzViolation) {
        guard let slot = live(index) else { return }
        driver.observer.frameToDoctor(body, on: slot.connection)
        try driver.inject(body, on: slot.connection)
    }

    mutating func rawStream(_ bytes: [UInt8], slot index: Int) throws(FuzzViolation) {
        guard var slot = live(index) else { return }
        let reports = slot.reader.receive(bytes)
        slots[index] = slot
        let connection = slot.connection
        for report in reports where !driver.closed.contains(connection) {
            switch report {
            case .frameStarted:
                try driver.applyDoctor(driver.doctor.frameStarted(on: connection, now: driver.now))
            case let .frame(body):
                driver.observer.frameToDoctor(body, on: connection)
                try driver.inject(body, on: connection)
            case let .refused(error):
                try driver.applyDoctor(driver.doctor.frameRefused(on: connection, declaredLength: error.declaredLength,
                                                                  now: driver.now, using: &driver.rng))
                try fuzzCheck(!driver.observer.isOpen(connection), "a refused frame length left \(connection) open")
                return
            }
        }
    }
}
