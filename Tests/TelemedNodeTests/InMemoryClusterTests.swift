import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport
import XCTest

/// A doctor and three patients over the in-memory transport, through the real node glue.
final class InMemoryClusterTests: XCTestCase {
    func testThreePatientsAuthenticateBroadcastLeaveAndKick() throws {
        let cluster = try InMemoryCluster(enrolling: ["alice", "bob", "carol"])
        for name in ["alice", "bob", "carol"] { try cluster.connect(name) }
        XCTAssertEqual(cluster.doctor.machine.activePatients.map(\.value), ["alice", "bob", "carol"])
        XCTAssertEqual(cluster.doctor.machine.epoch, 3)
        for name in ["alice", "bob", "carol"] {
            XCTAssertEqual(cluster.patients[name]?.machine.epoch, 3, name)
        }

        try cluster.doctor.broadcast("first")
        cluster.run()
        for name in ["alice", "bob", "carol"] { XCTAssertEqual(cluster.broadcasts(of: name), ["first"], name) }
        let receipts = cluster.events.filter { if case .receipt(_, 3, 0, true) = $0 { return true }; return false }
        XCTAssertEqual(receipts.count, 3)

        // carol leaves: the rest move to epoch 4.
        cluster.patients["carol"]?.leave()
        cluster.run()
        XCTAssertEqual(cluster.patients["carol"]?.end, .left)
        XCTAssertEqual(cluster.doctor.machine.activePatients.map(\.value), ["alice", "bob"])
        XCTAssertEqual(cluster.patients["alice"]?.machine.epoch, 4)
        XCTAssertEqual(cluster.patients["bob"]?.machine.epoch, 4)

        // bob is kicked: alice gets epoch 5; bob's last key is not the current one and the next
        // broadcast does not reach him.
        let bobKey = cluster.patients["bob"]?.machine.groupKeyFingerprint
        try cluster.doctor.kick(TestKeys.id("bob"))
        cluster.run()
        XCTAssertEqual(cluster.patients["bob"]?.end, .disconnectedByDoctor("kicked"))
        XCTAssertEqual(cluster.patients["alice"]?.machine.epoch, 5)
        XCTAssertNotNil(bobKey)
        XCTAssertNotEqual(bobKey, cluster.doctor.machine.groupKeyFingerprint)
        XCTAssertEqual(cluster.patients["alice"]?.machine.groupKeyFingerprint, cluster.doctor.machine.groupKeyFingerprint)
        try cluster.doctor.broadcast("second")
        cluster.run()
        XCTAssertEqual(cluster.broadcasts(of: "alice"), ["first", "second"])
        XCTAssertEqual(cluster.broadcasts(of: "bob"), ["first"])
        XCTAssertEqual(cluster.broadcasts(of: "carol"), ["first"])

        // The audit log has one row per success, join, leave, broadcast and receipt.
        XCTAssertEqual(try cluster.audit.rows(kind: .authSuccess).count, 3)
        XCTAssertEqual(try cluster.audit.rows(kind: .join).count, 3)
        XCTAssertEqual(try cluster.audit.rows(kind: .leave).map(\.detail), ["disconnected", "kicked"])
        XCTAssertEqual(try cluster.audit.rows(kind: .broadcast).count, 2)
        XCTAssertEqual(try cluster.audit.rows(kind: .receipt).count, 4)
    }

    /// A bad length prefix arriving from the doctor's side reaches `PatientNode.handle` as the
    /// transport's `.frameRefused`; the patient machine decides: a frame that cannot be parsed,
    /// so it closes silently as an R-FRAME violation (not retried), and the doctor sees a leave.
    func testABadLengthPrefixFromTheDoctorSideIsAPatientViolation() throws {
        let cluster = try InMemoryCluster(enrolling: ["alice", "bob"])
        let alice = try cluster.connect("alice")
        try cluster.connect("bob")
        let connection = try XCTUnwrap(alice.connection)
        XCTAssertNotNil(cluster.network.inject(.bytes([0, 1, 0, 1]), into: connection))
        cluster.run()
        guard case let .protocolViolation(rule, reason)? = alice.end else {
            return XCTFail("alice ended as \(String(describing: alice.end))")
        }
        XCTAssertEqual(rule, .frame)
        XCTAssertEqual(reason, "frame length 65537 outside 1...65536")
        XCTAssertEqual(cluster.doctor.machine.activePatients.map(\.value), ["bob"])
        XCTAssertEqual(cluster.patients["bob"]?.machine.epoch, 3, "alice's leave rekeys bob")
    }

    func testBroadcastWithNobodyConnectedIsATypedError() throws {
        let cluster = try InMemoryCluster(enrolling: ["alice"])
        XCTAssertThrowsError(try cluster.doctor.broadcast("hello")) { error in
            XCTAssertEqual(error as? DoctorCommandError, .nobodyConnected)
        }
        XCTAssertThrowsError(try cluster.doctor.rekey())
    }

    func testHandshakeTimerFiresThroughTheScheduler() throws {
        let cluster = try InMemoryCluster(enrolling: ["alice"])
        let attacker = cluster.network.addEndpoint(named: "staller", host: "10.0.9.9")
        _ = attacker.connect(to: cluster.listenAddress)
        cluster.run()
        XCTAssertEqual(cluster.doctor.machine.pendingHandshakes, 1)
        XCTAssertEqual(cluster.doctor.machine.connectionCount, 1)
        XCTAssertEqual(cluster.doctorTimers.due.count, 1)
        cluster.clock.advance(millis: 10_000)
        for key in cluster.doctorTimers.takeDue(atOrBefore: 10_000 + 1_000) { cluster.doctor.timerFired(key) }
        cluster.run()
        XCTAssertEqual(cluster.doctor.machine.pendingHandshakes, 0)
        XCTAssertEqual(cluster.doctor.machine.connectionCount, 0)
        let failures = try cluster.audit.rows(kind: .authFailure)
        XCTAssertEqual(failures.map(\.rule), ["R-STATE"])
        XCTAssertEqual(failures.first?.source, "10.0.9.9")
    }
}
