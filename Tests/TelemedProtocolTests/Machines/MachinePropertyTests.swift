import Foundation
import TelemedTestSupport
import Testing
@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol

/// Seeded random interleavings of honest and hostile events against the real machines
/// (`DoctorMachine` and `PatientMachine`, driven through `Harness`). Each test runs once per
/// seed (`@Test(arguments:)` over `ReplaySeed.seeds`); a failure prints its `replay:
/// TELEMED_SEED=<n> swift test --filter MachinePropertyTests/<test>` line, which reruns
/// exactly that seed.
@Suite struct MachinePropertyTests {
    static let names = ["amy", "ben", "cat", "dan", "eve"]

    /// Seeds 1…12, or only the one `TELEMED_SEED` names.
    static func seeds() throws -> [UInt64] { try ReplaySeed.seeds(1...12) }

    /// Joins, leaves, kicks, rekeys and broadcasts in random order: after every step each
    /// member is on the doctor's epoch and GK, and no departed patient opens, with the keys it
    /// held when it left (its last GK, its k_d2p), any broadcast or GROUP_KEY sent since
    /// (`DepartedPatient`, through `SealedChannel.open` and `AssociatedData`).
    @Test(arguments: try seeds())
    func testHonestInterleavingsKeepEveryMemberOnTheCurrentEpoch(seed: UInt64) {
        do {
            try runHonest(seed: seed, steps: 25)
        } catch {
            Issue.record("seed \(seed): \(error)\n\(ReplaySeed.hint(seed))")
        }
    }

    /// `Harness` runs are deterministic: the same seed gives the same doctor actions.
    @Test func testTheSameSeedGivesTheSameTrace() throws {
        #expect(try runHonest(seed: 99, steps: 15) == runHonest(seed: 99, steps: 15))
    }

    /// Random bit flips on frames in flight: nothing traps, no patient ever delivers a text
    /// the doctor did not broadcast, and the doctor only ever admits enrolled patients.
    @Test(arguments: try seeds())
    func testTamperedFramesNeverYieldAForgedOrReplayedAcceptance(seed: UInt64) {
        let replay = ReplaySeed.hint(seed)
        do {
            var h = try Harness(patients: Self.names, seed: seed)
            var chooser = SeededRandom(seed: seed &+ 1_000)
            h.hook = { flight in
                var local = SeededRandom(seed: UInt64(flight.body.count) &* 31 &+ seed &+ UInt64(flight.connection.rawValue))
                guard local.next() % 3 == 0, !flight.body.isEmpty else { return .deliver }
                var body = flight.body
                let index = Int(local.next() % UInt64(body.count))
                body[index] ^= UInt8(1 << (local.next() % 8))
                return local.next() % 4 == 0 ? .duplicate : .replace(body)
            }
            var sent: Set<String> = []
            for step in 0..<20 {
                let name = Self.names[Int(chooser.next() % UInt64(Self.names.count))]
                switch chooser.next() % 3 {
                case 0: _ = try h.connect(name, from: "10.0.\(step).1")
                case 1:
                    let text = "broadcast \(step)"
                    if (try? h.broadcast(text)) != nil { sent.insert(text) }
                default: h.advance(by: 1_000)
                }
                h.pump()
                for connection in h.patients.keys {
                    for text in h.received(connection) where !sent.contains(text) {
                        Issue.record("a patient delivered \(text), which was never broadcast\n\(replay)")
                    }
                }
                for member in h.doctor.activePatients where !Self.names.contains(member.value) {
                    Issue.record("\(member) is active but not enrolled\n\(replay)")
                }
            }
        } catch {
            Issue.record("seed \(seed): \(error)\n\(replay)")
        }
    }

    // MARK: - The honest run

    @discardableResult
    func runHonest(seed: UInt64, steps: Int) throws -> [DoctorAction] {
        var h = try Harness(patients: Self.names, seed: seed)
        var chooser = SeededRandom(seed: seed &+ 7)
        var departed: [DepartedPatient] = []
        var connections: [String: ConnectionID] = [:]
        for step in 0..<steps {
            let name = Self.names[Int(chooser.next() % UInt64(Self.names.count))]
            let active = connections[name].map { h.patients[$0]?.isActive ?? false } ?? false
            switch chooser.next() % 6 {
            case 0, 1:
                if !active { connections[name] = try h.connect(name, from: "10.1.\(step % 200).\(step / 200 + 1)") }
            case 2:
                if active, let connection = connections[name], let snapshot = h.patients[connection] {
                    departed.append(try departure(snapshot, connection, h))
                    h.leave(connection)
                }
            case 3:
                if active, let connection = connections[name], let snapshot = h.patients[connection] {
                    departed.append(try departure(snapshot, connection, h))
                    h.applyDoctor(try h.doctor.kick(try PeerID(name), now: h.now, using: &h.rng))
                }
            case 4:
                if !h.doctor.activePatients.isEmpty { try h.broadcast("step \(step)") }
            default:
                if !h.doctor.activePatients.isEmpty { h.applyDoctor(try h.doctor.rekey(now: h.now, using: &h.rng)) }
                h.advance(by: 500)
            }
            h.pump()
            try checkInvariants(&h, departed: &departed, step: step)
        }
        return h.doctorLog
    }

    func departure(_ patient: PatientMachine, _ connection: ConnectionID, _ h: Harness) throws -> DepartedPatient {
        guard let departed = DepartedPatient(patient, connection: connection, leftAt: h.doctorLog.count) else {
            throw HarnessError(message: "\(patient.identity) left without holding a GK")
        }
        return departed
    }

    func checkInvariants(_ h: inout Harness, departed: inout [DepartedPatient], step: Int) throws {
        for member in h.doctor.activePatients {
            guard let connection = h.doctor.connection(of: member), let patient = h.patients[connection] else {
                throw HarnessError(message: "step \(step): member \(member) has no patient machine")
            }
            guard patient.isActive, patient.epoch == h.doctor.epoch,
                  patient.groupKeyFingerprint == h.doctor.groupKeyFingerprint else {
                throw HarnessError(message: "step \(step): \(member) is on epoch \(patient.epoch), doctor on \(h.doctor.epoch)")
            }
        }
        // Everything sent since each departure, tried with the keys the departed patient holds.
        let codec = Crafter().codec
        for patient in departed {
            if let opened = patient.firstOpened(in: h.doctorLog, codec: codec) {
                throw HarnessError(message: "step \(step): \(opened)")
            }
        }
    }
}
