import XCTest
import TelemedCrypto
@testable import TelemedProtocol

/// The doctor's introspection and its connection table, driven through the production entry
/// points: `DoctorMachine.frameReceived` (real frames from `PatientMachine`s and raw attacker
/// frames via the harness), `timerFired`, `connectionClosed` and the operator commands.
final class DoctorIntrospectionTests: XCTestCase {
    let hour: UInt64 = 3_600_000

    // MARK: - lastReceipt(of:)

    /// A receipt is recorded when `frameReceived` accepts the patient's DEC_MSG, with the
    /// doctor's wall time of that input; a later receipt replaces it; it leaves with the member
    /// and a new session of the same id starts without one.
    func testLastReceiptFollowsTheDECMSGTheDoctorAccepts() throws {
        var h = try Harness(patients: ["amy", "ben"])
        let amy = try PeerID("amy"), ben = try PeerID("ben")
        let a = try h.connect("amy", from: "192.0.2.1")
        _ = try h.connect("ben", from: "192.0.2.2")
        h.pump()
        XCTAssertEqual(h.doctor.activePatients, [amy, ben])
        XCTAssertNil(h.doctor.lastReceipt(of: amy), "no receipt before any broadcast")
        XCTAssertEqual(h.doctor.membersWithReceipt, 0)

        // Hold amy's DEC_MSG in flight and hand it to frameReceived 5 s later.
        var held: [UInt8]?
        h.hook = { flight in
            guard flight.direction == .toDoctor, flight.connection == a,
                  case .decMsg? = Crafter().decode(flight.body) else { return .deliver }
            held = flight.body
            return .drop
        }
        try h.broadcast("first")
        h.pump()
        let epoch = h.doctor.epoch
        XCTAssertNil(h.doctor.lastReceipt(of: amy), "the receipt is still in flight")
        XCTAssertEqual(h.doctor.lastReceipt(of: ben), .init(epoch: epoch, seq: 0, wall: h.now.wall))
        let receipt = try XCTUnwrap(held)
        h.hook = nil
        h.advance(by: 5_000)
        h.inject(receipt, on: a)
        XCTAssertEqual(h.doctor.lastReceipt(of: amy), .init(epoch: epoch, seq: 0, wall: h.now.wall))
        XCTAssertEqual(h.doctorEvents.last, .receipt(amy, epoch: epoch, seq: 0, known: true))
        XCTAssertEqual(h.doctor.membersWithReceipt, 2)

        // A second broadcast replaces it.
        h.advance(by: 1_000)
        try h.broadcast("second")
        h.pump()
        XCTAssertEqual(h.doctor.lastReceipt(of: amy), .init(epoch: epoch, seq: 1, wall: h.now.wall))

        // A replayed DEC_MSG is rejected (R-AEAD): amy leaves and her receipt with her.
        h.advance(by: 1_000)
        h.inject(receipt, on: a)
        XCTAssertEqual(h.rejections.last?.rule, .aead)
        XCTAssertNil(h.doctor.lastReceipt(of: amy))
        XCTAssertEqual(h.doctor.lastReceipt(of: ben)?.seq, 1, "ben's receipt is his own")

        // amy's new session starts without a receipt.
        let again = try h.connect("amy", from: "192.0.2.1")
        h.pump()
        XCTAssertEqual(h.doctor.connection(of: amy), again)
        XCTAssertNil(h.doctor.lastReceipt(of: amy))

        // A replacing session of ben's id (a second handshake) drops the old receipt too.
        let newBen = try h.connect("ben", from: "192.0.2.3")
        h.pump()
        XCTAssertEqual(h.doctor.connection(of: ben), newBen)
        XCTAssertNil(h.doctor.lastReceipt(of: ben))
        XCTAssertEqual(h.doctor.membersWithReceipt, 0)
    }

    // MARK: - activeBlocks(at:)

    /// Blocks set through the production inputs (R-SRC failures on first frames, a wrong SKV)
    /// are listed, sorted by target, while in force; at a later wall time an expired one is no
    /// longer listed although it is not yet purged from the security state.
    func testActiveBlocksListsOnlyBlocksInForceAtTheGivenWallTime() throws {
        var h = try Harness(patients: ["alice"])
        let t0 = h.now.wall
        XCTAssertEqual(h.doctor.activeBlocks(at: t0), [])
        for _ in 0..<5 {
            let connection = try h.openRaw(from: "198.51.100.7")
            h.inject(Array("not json".utf8), on: connection)
        }
        let source = try XCTUnwrapSource("198.51.100.7")
        let sourceUntil = t0 + 24 * hour

        h.advance(by: hour)
        h.hook = { flight in
            guard flight.direction == .toDoctor, case let .keyConfirmation(kc)? = Crafter().decode(flight.body) else {
                return .deliver
            }
            var skv = kc.skv.bytes
            skv[0] ^= 1
            return .replace(Crafter().codec.encode(.keyConfirmation(KeyConfirmation(idI: kc.idI, ts: kc.ts, skv: .unchecked(skv)))))
        }
        _ = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        XCTAssertEqual(h.rejections.last?.rule, .skv)
        let device = DeviceKey(patient: try PeerID("alice"), source: try XCTUnwrapSource("192.0.2.1"))
        let deviceUntil = t0 + hour + 24 * hour

        let both = [DoctorMachine.BlockInForce(target: .device(device), until: deviceUntil),
                    DoctorMachine.BlockInForce(target: .source(source), until: sourceUntil)]
        XCTAssertEqual(h.doctor.activeBlocks(at: h.now.wall), both)
        XCTAssertEqual(h.doctor.activeBlocks(at: sourceUntil - 1), both)
        XCTAssertEqual(h.doctor.activeBlocks(at: sourceUntil), [both[0]], "a block ends at its expiry")
        XCTAssertEqual(h.doctor.activeBlocks(at: deviceUntil), [])
        // Listing is pure: nothing was purged, and the machine still enforces what is in force.
        XCTAssertEqual(h.doctor.securityState.sourceBlocks[source], sourceUntil)
        XCTAssertEqual(h.doctor.securityState.deviceBlocks[device], deviceUntil)
        XCTAssertEqual(h.doctor.sourceBlock(source, at: h.now.wall), sourceUntil)
    }

    // MARK: - The connection table after random inputs

    /// Seeded random sequences from the model-based generator (joins, replacements, leaves,
    /// kicks, drops, cut frames, wrong SKVs, attacks, timers, restarts) run through the real
    /// machine; after every step every member's connection maps back to it, no pending
    /// connection is a member, and the pending counts equal the pending handshakes' sources.
    func testConnectionTableStaysOneSourceOfTruthUnderRandomInputs() throws {
        var stepsWithBoth = 0
        var joins = 0
        for seed in UInt64(1)...8 {
            var generator = ModelEventGenerator(seed: seed &+ 500)
            var runner = try ModelRunner()
            for (index, event) in generator.events(count: 60).enumerated() {
                _ = try runner.step(event)
                let violations = Self.connectionTableViolations(runner.h.doctor)
                XCTAssertEqual(violations, [], "seed \(seed), step \(index + 1) (\(event))")
                if !violations.isEmpty { return }
                let table = runner.h.doctor.table
                if !table.members.isEmpty && !table.handshakes.isEmpty { stepsWithBoth += 1 }
            }
            joins += runner.joinsCompleted
        }
        XCTAssertGreaterThan(joins, 0, "the runs must make members")
        XCTAssertGreaterThan(stepsWithBoth, 0, "the runs must hold members and pending handshakes at once")
    }

    /// The table's invariants, checked through its storage and the public introspection.
    static func connectionTableViolations(_ doctor: DoctorMachine) -> [String] {
        let table = doctor.table
        var violations: [String] = []
        for (id, member) in table.members {
            if member.patient != id { violations.append("member \(id) is stored as \(member.patient)") }
            if table.memberByConnection[member.connection] != id {
                violations.append("member \(id)'s connection \(member.connection) maps to "
                                  + "\(table.memberByConnection[member.connection].map(\.value) ?? "nobody")")
            }
            if table.handshakes[member.connection] != nil {
                violations.append("member \(id)'s connection \(member.connection) is also a pending handshake")
            }
            if doctor.connection(of: id) != member.connection { violations.append("connection(of: \(id)) disagrees") }
        }
        for (connection, id) in table.memberByConnection where table.members[id]?.connection != connection {
            violations.append("index entry \(connection) → \(id) names no member on that connection")
        }
        for connection in table.handshakes.keys where table.memberByConnection[connection] != nil {
            violations.append("pending connection \(connection) is a member's")
        }
        var bySource: [SourceAddress: Int] = [:]
        for handshake in table.handshakes.values { bySource[handshake.source, default: 0] += 1 }
        // Handshakes that ended while verified hold their slot until their job's result.
        for retired in table.retired.values { bySource[retired.source, default: 0] += 1 }
        for connection in table.retired.keys where table.handshakes[connection] != nil || table.memberByConnection[connection] != nil {
            violations.append("retired \(connection) is also tracked")
        }
        if bySource != table.pendingBySource { violations.append("pending counts per source \(table.pendingBySource) ≠ \(bySource)") }
        // The index of pending handshakes by the patient they name (a join's rivals).
        var naming: [PeerID: Set<ConnectionID>] = [:]
        for (connection, handshake) in table.handshakes {
            if let patient = handshake.namedPatient { naming[patient, default: []].insert(connection) }
        }
        if naming != table.handshakesNaming { violations.append("handshakesNaming \(table.handshakesNaming) ≠ \(naming)") }
        var byPrefix: [SourcePrefix: Int] = [:]
        for (source, count) in bySource { byPrefix[source.prefix, default: 0] += count }
        if byPrefix != table.pendingByPrefix { violations.append("pending counts per prefix disagree") }
        for connection in table.framesInProgress where !table.contains(connection) {
            violations.append("begun frame marked on untracked \(connection)")
        }
        if doctor.connectionCount != doctor.pendingHandshakes + doctor.activePatients.count {
            violations.append("connectionCount \(doctor.connectionCount) ≠ pending \(doctor.pendingHandshakes) + "
                              + "members \(doctor.activePatients.count)")
        }
        for (connection, stage) in doctor.connections {
            switch stage {
            case let .active(id) where table.members[id]?.connection != connection:
                violations.append("view: \(connection) active for \(id), who is not on it")
            case .awaitingRequest, .verifying, .awaitingConfirmation:
                if table.handshakes[connection] == nil { violations.append("view: \(connection) pending but not stored") }
            default: break
            }
        }
        return violations
    }
}
