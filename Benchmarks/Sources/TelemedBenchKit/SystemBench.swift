// System-level figures through DoctorMachine alone (no transport): fill the doctor with N
// active patients by complete handshakes, one patient after another, time the joins and the
// epochs at that size (GK computation and one sealed GROUP_KEY per member), and measure the
// memory the active patients hold.
//
// The doctor runs under `BenchDoctorHost` with its configured epoch window (default 20 ms,
// PROTOCOL.md §7.1): a join only adds the patient to the pending epoch, and the host fires the
// `epochWindow` timer when it is due on a clock that follows real elapsed time. In this fill
// every patient connects when the previous one is done, so the patient's own work is elapsed
// time too (a patient whose device is as fast as this machine): a window holds the joins of
// about 20 ms of (doctor + patient) work, a handful, and the fill still costs about
// N/handful epochs over a growing membership. The storm (`StormBench`) is the case where
// joins arrive together.

import CBaseline
@_spi(Testing) import TelemedCrypto
import TelemedProtocol

/// The outcome of a system run.
public struct SystemFigures: Sendable, Codable {
    /// Active patients reached.
    public var patients: Int
    /// The doctor's epoch window, ms.
    public var windowMillis: UInt64
    /// Wall time of the whole fill (doctor and patients, this process), seconds.
    public var fillSeconds: Double
    /// Time inside the doctor's inputs and timer fires during the fill, seconds.
    public var fillDoctorSeconds: Double
    /// Epochs started during the fill.
    public var fillEpochs: Int
    /// The last KEY_CONFIRMATIONs (each a join into the pending epoch; with window 0 the join
    /// starts its own epoch, so this is the rekey too), ns.
    public var joinAtSize: Summary
    /// The last epochs the window timer started during the fill (GK + one GROUP_KEY seal per
    /// member), ns; nil with window 0.
    public var epochAtSize: Summary?
    /// Members of the smallest of those epochs.
    public var epochAtSizeMembers: Int?
    /// A leave just below the size and the epoch it causes (the close, then the window timer
    /// fired when due), doctor time, ns.
    public var leaveRekey: Summary
    /// Resident-set growth per active patient, bytes.
    public var rssPerPatient: Double
    /// malloc'd-bytes growth per active patient, bytes (glibc mallinfo2).
    public var heapPerPatient: Double
}

/// Builds and measures one crowded doctor.
public enum SystemBench {
    /// Fills a doctor to `patients` members; `progress` gets the count every 1,000 joins.
    public static func run(patients target: Int, group: TelemedGroup,
                           configuration base: DoctorConfiguration = DoctorConfiguration(),
                           progress: (Int) -> Void) throws -> SystemFigures {
        precondition(target > 0, "fill at least one patient")
        var keyRng = SeededRandom(seed: Array("system-keys".utf8))
        let doctorKey = PrivateKey(generatingIn: group, using: &keyRng)
        let doctorPublic = doctorKey.publicKey.precomputingEncryptionTable()
        let credentials = (0..<32).map { _ in PrivateKey(generatingIn: group, using: &keyRng) }
        let ids = try (0..<target).map { try PeerID("patient-" + String(1_000_000 + $0).dropFirst()) }
        var registry: [PeerID: PublicKey] = [:]
        for (i, id) in ids.enumerated() { registry[id] = credentials[i % credentials.count].publicKey }
        var configuration = base
        configuration.maxActivePatients = max(configuration.maxActivePatients, target)
        let doctorID = try PeerID("doctor")
        let machine = try DoctorMachine(configuration: configuration.validated(), group: group, identity: doctorID,
                                        privateKey: doctorKey, registry: registry)
        guard let source = SourceAddress(addressBytes: [192, 0, 2, 10]) else { throw BenchError.setup("source address") }
        var rng = SeededRandom(seed: Array("system".utf8))
        var keyed = [Bool](repeating: false, count: target)
        var lastJoins: [UInt64] = []
        var connections: [ConnectionID] = []
        connections.reserveCapacity(target)

        let before = MemoryProbe.read()
        var host = BenchDoctorHost(doctor: machine, seed: "system-doctor")
        let fillStart = monotonicNanoseconds()
        for (i, id) in ids.enumerated() {
            var patient = try PatientMachine(configuration: PatientConfiguration(), identity: id,
                                             privateKey: credentials[i % credentials.count], doctorID: doctorID,
                                             doctorKey: doctorPublic)
            let connection = ConnectionID(UInt64(i + 1))
            connections.append(connection)
            host.input { doctor, now, _ in doctor.connectionOpened(connection, from: source, now: now) }
            let request = try HandshakeBench.sentBody(patient.connected(now: host.clock.now, using: &rng))
            let answer = host.input { doctor, now, rng in doctor.frameReceived(request, on: connection, now: now, using: &rng) }
            guard let token = HandshakeBench.sentBody(answer, to: connection) else {
                throw BenchError.protocolFailure("no SESSION_TOKEN for patient \(i): \(host.refusals.last ?? "")")
            }
            let confirmation = try HandshakeBench.sentBody(patient.frameReceived(token, now: host.clock.now, using: &rng))
            host.input { doctor, now, rng in doctor.frameReceived(confirmation, on: connection, now: now, using: &rng) }
            guard host.doctor.connection(of: id) == connection else {
                throw BenchError.protocolFailure("patient \(i) did not join: \(host.refusals.last ?? "")")
            }
            // The confirmation alone (timers due before it fired first and are not in it).
            if i >= target - 10 { lastJoins.append(host.lastInputNanoseconds) }
            markKeyed(&keyed, host.drainSent().sent)
            if (i + 1) % 1_000 == 0 { progress(i + 1) }
        }
        host.idleUntilPendingEpochStarts()
        markKeyed(&keyed, host.drainSent().sent)
        let fillSeconds = Double(monotonicNanoseconds() - fillStart) / 1e9
        guard host.doctor.activePatients.count == target else { throw BenchError.protocolFailure("not every patient is active") }
        guard keyed.allSatisfy({ $0 }) else {
            throw BenchError.protocolFailure("\(keyed.filter { !$0 }.count) patients were never sent a GROUP_KEY")
        }
        let after = MemoryProbe.read()
        let fillEpochs = host.epochs.count
        let fillDoctorSeconds = Double(host.busyNanoseconds) / 1e9
        let lastWindowEpochs = host.epochs.filter(\.byWindow).suffix(5)

        var leaves: [UInt64] = []
        for connection in connections.suffix(5).reversed() {
            let busy = host.busyNanoseconds
            host.input { doctor, now, rng in doctor.connectionClosed(connection, .closedByPeer, now: now, using: &rng) }
            host.idleUntilPendingEpochStarts()
            leaves.append(host.busyNanoseconds - busy)
            _ = host.drainSent()
        }
        return SystemFigures(
            patients: target, windowMillis: configuration.epochWindowMillis, fillSeconds: fillSeconds,
            fillDoctorSeconds: fillDoctorSeconds, fillEpochs: fillEpochs,
            joinAtSize: Summary(lastJoins),
            epochAtSize: lastWindowEpochs.isEmpty ? nil : Summary(lastWindowEpochs.map(\.nanoseconds)),
            epochAtSizeMembers: lastWindowEpochs.map(\.members).min(),
            leaveRekey: Summary(leaves),
            rssPerPatient: Double(after.rss - before.rss) / Double(target),
            heapPerPatient: Double(after.heap - before.heap) / Double(target))
    }

    /// How the codec's compact JSON of a GROUP_KEY begins (the opcode is written first).
    static let groupKeyPrefix = Array("{\"opcode\":\(Opcode.groupKey.rawValue),".utf8)

    /// Notes which connections (id = patient index + 1) were sent a GROUP_KEY.
    private static func markKeyed(_ keyed: inout [Bool], _ frames: [(connection: ConnectionID, body: [UInt8])]) {
        for frame in frames where frame.body.starts(with: groupKeyPrefix) {
            let index = Int(frame.connection.rawValue) - 1
            if keyed.indices.contains(index) { keyed[index] = true }
        }
    }
}

/// Resident set size and malloc'd bytes of this process.
enum MemoryProbe {
    static func read() -> (rss: Int, heap: Int) {
        var resident = -1, heap = -1
        telemed_memory_probe(&resident, &heap)
        return (resident, heap)
    }
}
