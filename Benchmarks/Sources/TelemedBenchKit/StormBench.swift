// The reconnect storm, in process (issue 14, "Storm, in process"): N patients reconnect at
// once to a restarted doctor. A real DoctorMachine under `BenchDoctorHost` and N real
// PatientMachines; no transport, no storage.
//
// What is modelled, and how:
// - The doctor is fresh (a restart: no member, no epoch) with the default configuration except
//   what `run` is given, and every patient connects from its own /24 (patients at home), so the
//   per-source and per-prefix pending limits (defaults 4 and 32) are not in play.
// - The doctor's pending-handshake table holds `pendingTotal` (default 1,024) handshakes, so the
//   patients come in waves of that size (a real storm's refused logins retry until there is
//   room; here the next wave arrives as soon as the previous one is admitted). In a wave, all
//   connections open, then all KEY_VERIFICATIONs arrive, then the KEY_CONFIRMATIONs: the order
//   in which a doctor's input queue receives them when every patient sends at once (a
//   confirmation can only be sent after its SESSION_TOKEN, behind the queued requests).
// - The clock (`BenchClock`) follows real elapsed time except the patients' own work, which
//   happens on the patients' devices in parallel with the doctor (here: between `pause()` and
//   `resume`): the doctor is saturated, so its clock is its own work. The host fires every
//   timer the doctor schedules when it is due (the epoch window, the handshake timeouts), and
//   each patient's handshake timer is honoured (fired before any later frame reaches it).
// - The doctor's CPU per admitted patient is the thread CPU time inside every doctor input and
//   timer fire (accepts, KEY_VERIFICATIONs, KEY_CONFIRMATIONs, epoch starts) divided by N. It
//   is compared with the median CPU time of one handshake + join on an otherwise idle doctor
//   (`HandshakeBench`: open + KEY_VERIFICATION, KEY_CONFIRMATION + its one-member epoch),
//   measured in the same run, half the samples before the storm and half after. CPU time, not
//   elapsed time, because the machine is shared: a sum over 10,000 inputs takes every
//   preemption by another process, a median of single handshakes takes none. The elapsed
//   figures are reported too.

@_spi(Testing) import TelemedCrypto
import TelemedProtocol

/// What one storm measured.
public struct StormFigures: Sendable, Codable {
    /// Patients that reconnected.
    public var patients: Int
    /// The doctor's epoch window, ms (0: one epoch per join, v1).
    public var windowMillis: UInt64
    /// Patients per wave (the pending-handshake table's size) and the number of waves.
    public var waveSize: Int
    public var waves: Int
    /// Members of the doctor at the end.
    public var active: Int
    /// Patient machines active at the end and holding the doctor's current group key.
    public var patientsCurrent: Int
    /// Failures (refusals, closes, patients that ended or timed out), the first few of them.
    public var failures: [String]
    public var failureCount: Int
    /// The storm on the doctor's clock: first accept → last patient holding the final key, s.
    public var doctorClockSeconds: Double
    /// Wall time of the whole run in this process (doctor and every patient), s.
    public var wallSeconds: Double
    /// The patients' own work (off the doctor's clock), s.
    public var patientSeconds: Double
    /// Elapsed time inside doctor inputs and timer fires, s.
    public var doctorSeconds: Double
    /// Thread CPU time inside doctor inputs and timer fires, s.
    public var doctorCPUSeconds: Double
    /// Of which inside `epochWindow` timer fires (the batched epoch starts), s.
    public var windowSeconds: Double
    /// Epochs started.
    public var epochs: Int
    /// The most patients one epoch admitted.
    public var largestEpochJoiners: Int
    /// The slowest epoch start (elapsed ns) and its members.
    public var slowestEpochNanoseconds: UInt64
    public var slowestEpochMembers: Int
    /// Per patient, the storm's start → its first GROUP_KEY opened, on the doctor's clock, ns
    /// (everyone reconnects at the start; a later wave waits for its turn).
    public var admittedAfter: Summary?
    /// doctorSeconds / admitted patients (members at the end), ns.
    public var doctorPerPatient: Double
    /// doctorCPUSeconds / admitted patients, ns.
    public var doctorCPUPerPatient: Double
    /// One handshake + join on an idle doctor, elapsed ns (open + KEY_VERIFICATION,
    /// KEY_CONFIRMATION + its one-member epoch, summed per sample).
    public var single: Summary
    /// The same handshakes' thread CPU ns.
    public var singleCPU: Summary
    /// doctorPerPatient / single.median (elapsed, for comparison).
    public var elapsedRatio: Double
    /// doctorCPUPerPatient / singleCPU.median, and the target it is held against.
    public var ratio: Double
    public var target: Double
    /// All active, no failure, ratio within the target.
    public var pass: Bool
    /// Every epoch (number, members, joiners, elapsed ns of the input that started it) when
    /// there are at most 200 (JSON only).
    public var epochLog: [StormEpoch]?
    /// The configuration and model, in words.
    public var settings: String
}

/// One epoch of a storm.
public struct StormEpoch: Sendable, Codable {
    /// The epoch number, its members, the members it added (a storm only adds), and the
    /// elapsed ns of the input that started it.
    public var epoch: UInt64
    public var members: Int
    public var joiners: Int
    public var nanoseconds: UInt64
}

/// Runs reconnect storms.
public enum StormBench {
    private enum Input {
        case open(ConnectionID, SourceAddress)
        case frame(ConnectionID, [UInt8])
        case closed(ConnectionID)
    }

    /// One storm of `count` patients with the given epoch window; `singleSamples` handshakes
    /// on an idle doctor for the comparison; `progress` gets a line per wave.
    public static func run(patients count: Int, windowMillis: UInt64, group: TelemedGroup = .telemed2048,
                           singleSamples: Int = 100, target: Double = 1.5,
                           progress: (String) -> Void) throws -> StormFigures {
        precondition(count > 0 && singleSamples >= 2, "a storm needs patients and a baseline")
        let wallStart = monotonicNanoseconds()
        var keyRng = SeededRandom(seed: Array("storm-keys".utf8))
        let doctorKey = PrivateKey(generatingIn: group, using: &keyRng)
        let doctorPublic = doctorKey.publicKey.precomputingEncryptionTable()
        let credentials = (0..<64).map { _ in PrivateKey(generatingIn: group, using: &keyRng) }
        let ids = try (0..<count).map { try PeerID("patient-" + String(1_000_000 + $0).dropFirst()) }
        var registry: [PeerID: PublicKey] = [:]
        for (i, id) in ids.enumerated() { registry[id] = credentials[i % credentials.count].publicKey }
        var configuration = DoctorConfiguration()
        configuration.epochWindowMillis = windowMillis
        var raised: [String] = []
        if count > configuration.maxActivePatients {
            configuration.maxActivePatients = count
            raised.append("maxActivePatients = \(count)")
        }
        configuration = try configuration.validated()
        let waveSize = min(configuration.pendingTotal, count)
        let waves = (count + waveSize - 1) / waveSize
        let settings = "DoctorConfiguration defaults (epoch window \(windowMillis) ms"
            + (windowMillis == 0 ? ", i.e. one epoch per join as in v1" : "")
            + ", handshake timeout \(configuration.handshakeTimeoutMillis / 1_000) s, pendingTotal "
            + "\(configuration.pendingTotal), maxActivePatients \(configuration.maxActivePatients))"
            + (raised.isEmpty ? "" : ", raised: " + raised.joined(separator: ", "))
            + "; every patient from its own /24; \(waves) waves of up to \(waveSize) (the pending-handshake table): "
            + "a wave's connections open, then its KEY_VERIFICATIONs, then its KEY_CONFIRMATIONs; the doctor's clock "
            + "is real elapsed time without the patients' work (their devices run in parallel); every timer fired when due"

        // The single handshake + join on an idle doctor, half before the storm.
        // In the version the storm's patients speak (PatientConfiguration's default, like theirs).
        var single = try HandshakeBench(group: group, strategy: .accelerated, version: PatientConfiguration().version)
        for _ in 0..<3 { _ = try single.step() }
        var singleTimes: [UInt64] = [], singleCPU: [UInt64] = []
        for _ in 0..<(singleSamples / 2) {
            let step = try single.step()
            singleTimes.append(step.request + step.confirmation)
            singleCPU.append(step.cpu)
        }

        let doctorID = try PeerID("doctor")
        let machine = try DoctorMachine(configuration: configuration, group: group, identity: doctorID,
                                        privateKey: doctorKey, registry: registry)
        var patientConfiguration = PatientConfiguration()
        patientConfiguration.epochWindowMillis = windowMillis
        patientConfiguration = try patientConfiguration.validated()
        var patients: [PatientMachine?] = Array(repeating: nil, count: count)
        var patientDue: [UInt64?] = Array(repeating: nil, count: count)
        var failures: [String] = []
        var failureCount = 0
        func fail(_ text: String) {
            failureCount += 1
            if failures.count < 10 { failures.append(text) }
        }
        var rng = SeededRandom(seed: Array("storm-patients".utf8))
        var patientNanoseconds: UInt64 = 0
        var admittedAt: [UInt64] = []
        admittedAt.reserveCapacity(count)
        var queue: [Input] = []
        var head = 0

        var host = BenchDoctorHost(doctor: machine, seed: "storm-doctor")
        let stormStart = host.clock.nanoseconds

        /// Handles one patient's actions at `now` (its frames join the doctor's queue).
        func handle(_ actions: [PatientAction], of index: Int, now: Instant) {
            let connection = ConnectionID(UInt64(index + 1))
            for action in actions {
                switch action {
                case let .send(body): queue.append(.frame(connection, body))
                case .close: queue.append(.closed(connection))
                case let .scheduleTimer(.handshake, after): patientDue[index] = now.monotonic + after
                case .cancelTimer(.handshake): patientDue[index] = nil
                case let .event(.ended(end)): fail("\(ids[index]) ended: \(end)")
                case .event(.authenticated): admittedAt.append(now.monotonic * 1_000_000)
                case .event: break
                }
            }
        }

        /// Hands what the doctor sent to the patients, off the doctor's clock.
        func deliver() {
            let (sent, closed) = host.drainSent()
            guard !sent.isEmpty || !closed.isEmpty else { return }
            let now = host.clock.now
            let mark = host.clock.pause()
            defer { patientNanoseconds += host.clock.resume(mark) }
            for (connection, body) in sent {
                let index = Int(connection.rawValue) - 1
                guard patients.indices.contains(index) else { continue }
                if let due = patientDue[index], due <= now.monotonic {
                    patientDue[index] = nil
                    if let actions = patients[index]?.timerFired(.handshake, now: now) {
                        handle(actions, of: index, now: now)
                    }
                }
                if let actions = patients[index]?.frameReceived(body, now: now, using: &rng) {
                    handle(actions, of: index, now: now)
                }
            }
            for connection in closed {
                let index = Int(connection.rawValue) - 1
                guard patients.indices.contains(index), let actions = patients[index]?.connectionLost() else { continue }
                handle(actions, of: index, now: now)
            }
        }

        for wave in 0..<waves {
            let range = (wave * waveSize)..<min(count, (wave + 1) * waveSize)
            // The patients reconnect: each connection opens, each patient sends its request.
            let now = host.clock.now
            let mark = host.clock.pause()
            for index in range {
                let connection = ConnectionID(UInt64(index + 1))
                guard let source = SourceAddress(addressBytes: [10, UInt8(index & 255), UInt8((index >> 8) & 255), 1]) else {
                    throw BenchError.setup("source address")
                }
                var patient = try PatientMachine(configuration: patientConfiguration, identity: ids[index],
                                                 privateKey: credentials[index % credentials.count],
                                                 doctorID: doctorID, doctorKey: doctorPublic)
                queue.append(.open(connection, source))
                handle(patient.connected(now: now, using: &rng), of: index, now: now)
                patients[index] = patient
            }
            // Every connection opens before the first request is read.
            func isOpen(_ input: Input) -> Bool {
                if case .open = input { return true }
                return false
            }
            queue = queue.filter(isOpen) + queue.filter { !isOpen($0) }
            patientNanoseconds += host.clock.resume(mark)

            // The doctor works through its queue; answers join the end of it.
            while head < queue.count {
                let input = queue[head]
                head += 1
                switch input {
                case let .open(connection, source):
                    host.input { doctor, now, _ in doctor.connectionOpened(connection, from: source, now: now) }
                case let .frame(connection, body):
                    host.input { doctor, now, rng in doctor.frameReceived(body, on: connection, now: now, using: &rng) }
                case let .closed(connection):
                    host.input { doctor, now, rng in doctor.connectionClosed(connection, .closedByPeer, now: now, using: &rng) }
                }
                deliver()
            }
            queue.removeAll(keepingCapacity: true)
            head = 0
            progress("  … storm (window \(windowMillis) ms): wave \(wave + 1)/\(waves), "
                     + "\(host.doctor.activePatients.count) members, \(host.epochs.count) epochs")
        }
        // The last window closes; nothing else is left to do but wait for the timers.
        while host.idleUntilNextTimer() { deliver() }
        deliver()
        let stormEnd = host.clock.nanoseconds

        // The other half of the single handshakes, after the storm.
        for _ in 0..<(singleSamples - singleSamples / 2) {
            let step = try single.step()
            singleTimes.append(step.request + step.confirmation)
            singleCPU.append(step.cpu)
        }

        let doctor = host.doctor
        let fingerprint = doctor.groupKeyFingerprint
        var current = 0
        for (index, patient) in patients.enumerated() {
            guard let patient else { fail("\(ids[index]) never started"); continue }
            if patient.isActive && patient.groupKeyFingerprint == fingerprint && fingerprint != nil {
                current += 1
            } else if patient.end == nil {
                fail("\(ids[index]) is not on the doctor's current key (epoch \(patient.epoch) of \(doctor.epoch))")
            }
        }
        for refusal in host.refusals { fail("doctor: \(refusal)") }
        var largest = 0, previous = 0
        for record in host.epochs {
            largest = max(largest, record.members - previous)
            previous = record.members
        }
        let slowest = host.epochs.max { $0.nanoseconds < $1.nanoseconds }
        let singleSummary = Summary(singleTimes), singleCPUSummary = Summary(singleCPU)
        let active = doctor.activePatients.count
        let perPatient = Double(host.busyNanoseconds) / Double(max(1, active))
        let cpuPerPatient = Double(host.busyCPUNanoseconds) / Double(max(1, active))
        let ratio = cpuPerPatient / singleCPUSummary.median
        var log: [StormEpoch] = []
        var before = 0
        for record in host.epochs {
            log.append(StormEpoch(epoch: record.epoch, members: record.members, joiners: record.members - before,
                                  nanoseconds: record.nanoseconds))
            before = record.members
        }
        return StormFigures(
            patients: count, windowMillis: windowMillis, waveSize: waveSize, waves: waves,
            active: active, patientsCurrent: current, failures: failures, failureCount: failureCount,
            doctorClockSeconds: Double(stormEnd - stormStart) / 1e9,
            wallSeconds: Double(monotonicNanoseconds() - wallStart) / 1e9,
            patientSeconds: Double(patientNanoseconds) / 1e9,
            doctorSeconds: Double(host.busyNanoseconds) / 1e9,
            doctorCPUSeconds: Double(host.busyCPUNanoseconds) / 1e9,
            windowSeconds: Double(host.windowNanoseconds) / 1e9,
            epochs: host.epochs.count, largestEpochJoiners: largest,
            slowestEpochNanoseconds: slowest?.nanoseconds ?? 0, slowestEpochMembers: slowest?.members ?? 0,
            admittedAfter: admittedAt.isEmpty ? nil : Summary(admittedAt.map { $0 > stormStart ? $0 - stormStart : 0 }),
            doctorPerPatient: perPatient, doctorCPUPerPatient: cpuPerPatient, single: singleSummary,
            singleCPU: singleCPUSummary, elapsedRatio: perPatient / singleSummary.median, ratio: ratio, target: target,
            pass: active == count && current == count && failureCount == 0 && ratio <= target,
            epochLog: log.count <= 200 ? log : nil,
            settings: settings)
    }
}
