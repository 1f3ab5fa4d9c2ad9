// System-level figures through DoctorMachine alone (no transport): fill the doctor with N
// active patients by complete handshakes, time the rekeys at that size (GK computation and one
// sealed GROUP_KEY per member), and measure the memory the active patients hold.
//
// Every join starts a new epoch over all members, so filling to N costs Σ rekeys (quadratic);
// that is the protocol's design, and the fill time is reported as well.

import CBaseline
@_spi(Testing) import TelemedCrypto
import TelemedProtocol

/// The outcome of a system run.
public struct SystemFigures: Sendable, Codable {
    /// Active patients reached.
    public var patients: Int
    /// Wall time of the whole fill, seconds.
    public var fillSeconds: Double
    /// The last joins (each a KEY_CONFIRMATION check plus a rekey over all members), ns.
    public var joinAtSize: Summary
    /// Rekeys triggered by a leave just below the size (N−1 … members), ns.
    public var leaveRekey: Summary
    /// Resident-set growth per active patient, bytes.
    public var rssPerPatient: Double
    /// malloc'd-bytes growth per active patient, bytes (glibc mallinfo2).
    public var heapPerPatient: Double
}

/// Builds and measures one crowded doctor.
public enum SystemBench {
    /// Fills a doctor to `patients` members; `progress` gets the count every 1,000 joins.
    public static func run(patients target: Int, group: TelemedGroup, progress: (Int) -> Void) throws -> SystemFigures {
        var keyRng = SeededRandom(seed: Array("system-keys".utf8))
        let doctorKey = PrivateKey(generatingIn: group, using: &keyRng)
        let doctorPublic = doctorKey.publicKey.precomputingEncryptionTable()
        let credentials = (0..<32).map { _ in PrivateKey(generatingIn: group, using: &keyRng) }
        let ids = try (0..<target).map { try PeerID("patient-" + String(1_000_000 + $0).dropFirst()) }
        var registry: [PeerID: PublicKey] = [:]
        for (i, id) in ids.enumerated() { registry[id] = credentials[i % credentials.count].publicKey }
        var configuration = DoctorConfiguration()
        configuration.maxActivePatients = max(configuration.maxActivePatients, target)
        let doctorID = try PeerID("doctor")
        var doctor = try DoctorMachine(configuration: configuration, group: group, identity: doctorID,
                                       privateKey: doctorKey, registry: registry)
        guard let source = SourceAddress(addressBytes: [192, 0, 2, 10]) else { throw BenchError.setup("source address") }
        let now = Instant(wall: 1_764_000_000_000, monotonic: 0)
        var rng = SeededRandom(seed: Array("system".utf8))
        _ = doctor.start(now: now)

        let before = MemoryProbe.read()
        let fillStart = monotonicNanoseconds()
        var lastJoins: [UInt64] = []
        var connections: [ConnectionID] = []
        connections.reserveCapacity(target)
        for (i, id) in ids.enumerated() {
            var patient = try PatientMachine(configuration: PatientConfiguration(), identity: id,
                                             privateKey: credentials[i % credentials.count], doctorID: doctorID,
                                             doctorKey: doctorPublic)
            let connection = ConnectionID(UInt64(i + 1))
            connections.append(connection)
            consume(doctor.connectionOpened(connection, from: source, now: now))
            let request = try HandshakeBench.sentBody(patient.connected(now: now, using: &rng))
            let answer = doctor.frameReceived(request, on: connection, now: now, using: &rng)
            guard let token = HandshakeBench.sentBody(answer, to: connection) else {
                throw BenchError.protocolFailure("no SESSION_TOKEN for patient \(i)")
            }
            let confirmation = try HandshakeBench.sentBody(patient.frameReceived(token, now: now, using: &rng))
            let t0 = monotonicNanoseconds()
            let joined = doctor.frameReceived(confirmation, on: connection, now: now, using: &rng)
            let t1 = monotonicNanoseconds()
            guard HandshakeBench.sentBody(joined, to: connection) != nil else {
                throw BenchError.protocolFailure("patient \(i) did not join")
            }
            if i >= target - 10 { lastJoins.append(t1 - t0) }
            if (i + 1) % 1_000 == 0 { progress(i + 1) }
        }
        let fillSeconds = Double(monotonicNanoseconds() - fillStart) / 1e9
        guard doctor.activePatients.count == target else { throw BenchError.protocolFailure("not every patient is active") }
        let after = MemoryProbe.read()

        var leaves: [UInt64] = []
        for connection in connections.suffix(5).reversed() {
            let t0 = monotonicNanoseconds()
            let actions = doctor.connectionClosed(connection, .closedByPeer, now: now, using: &rng)
            let t1 = monotonicNanoseconds()
            consume(actions)
            leaves.append(t1 - t0)
        }
        return SystemFigures(
            patients: target, fillSeconds: fillSeconds, joinAtSize: Summary(lastJoins), leaveRekey: Summary(leaves),
            rssPerPatient: Double(after.rss - before.rss) / Double(target),
            heapPerPatient: Double(after.heap - before.heap) / Double(target))
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
