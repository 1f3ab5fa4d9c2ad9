import XCTest
import TelemedCrypto
@testable import TelemedProtocol

/// Honest sessions: joins, epochs, broadcasts, receipts, leaves, kicks.
final class HandshakeTests: XCTestCase {
    func testThreePatientsAuthenticateAndReceiveABroadcast() throws {
        var h = try Harness(patients: ["alice", "bob", "carol"])
        let a = try h.connect("alice", from: "192.0.2.1")
        let b = try h.connect("bob", from: "192.0.2.2")
        let c = try h.connect("carol", from: "192.0.2.3")
        h.pump()
        XCTAssertEqual(h.doctor.activePatients.map(\.value), ["alice", "bob", "carol"])
        XCTAssertEqual(h.doctor.epoch, 3)
        for connection in [a, b, c] {
            XCTAssertEqual(h.patients[connection]?.epoch, 3)
            XCTAssertEqual(h.patients[connection]?.groupKeyFingerprint, h.doctor.groupKeyFingerprint)
        }
        try h.broadcast("Dr. is away Friday 14:00-16:00")
        h.pump()
        for connection in [a, b, c] { XCTAssertEqual(h.received(connection), ["Dr. is away Friday 14:00-16:00"]) }
        let receipts = h.doctorEvents.filter { if case .receipt(_, 3, 0, true) = $0 { return true }; return false }
        XCTAssertEqual(receipts.count, 3)
        XCTAssertTrue(h.rejections.isEmpty, "\(h.rejections)")
    }

    func testLeaveStartsANewEpochAndTheLeaverCannotReadTheNextBroadcast() throws {
        var h = try Harness(patients: ["alice", "bob"])
        let a = try h.connect("alice", from: "192.0.2.1")
        let b = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        var bobBefore = try XCTUnwrap(h.patients[b])
        let bobKeys = try XCTUnwrap(DepartedPatient(bobBefore, connection: b, leftAt: h.doctorLog.count))
        XCTAssertEqual(bobKeys.epoch, 2)
        h.leave(b)
        h.pump()
        XCTAssertEqual(h.doctor.activePatients.map(\.value), ["alice"])
        XCTAssertEqual(h.doctor.epoch, 3)
        XCTAssertEqual(h.patients[a]?.epoch, 3)
        try h.broadcast("after bob left")
        h.pump()
        XCTAssertEqual(h.received(a), ["after bob left"])
        // Bob kept GK_2 and his k_d2p: neither opens the epoch-3 broadcast or a GROUP_KEY sent
        // since he left (tried through SealedChannel.open with the frames' own AAD).
        let frame = try XCTUnwrap(h.framesSent(to: a).last)
        guard case .encMsg? = Crafter().decode(frame) else { return XCTFail("the last frame to alice is not the broadcast") }
        XCTAssertNil(bobKeys.firstOpened(in: h.doctorLog, codec: Crafter().codec))
        // And his machine drops the frame before trying a key (R-EPOCH).
        let actions = bobBefore.frameReceived(frame, now: h.now, using: &h.rng)
        XCTAssertFalse(actions.contains { if case .event(.broadcastReceived) = $0 { return true }; return false })
        XCTAssertTrue(actions.contains { if case .event(.dropped(.epoch, _)) = $0 { return true }; return false })
    }

    func testKickedPatientIsDisconnectedAndTheRestMoveOn() throws {
        var h = try Harness(patients: ["alice", "bob"])
        let a = try h.connect("alice", from: "192.0.2.1")
        let b = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        h.applyDoctor(try h.doctor.kick(try PeerID("bob"), now: h.now, using: &h.rng))
        h.pump()
        XCTAssertEqual(h.patients[b]?.end, .disconnectedByDoctor("kicked"))
        XCTAssertEqual(h.patients[a]?.epoch, h.doctor.epoch)
        XCTAssertEqual(h.doctor.epoch, 3)
    }

    func testANewSessionOfTheSameIDReplacesTheOldOne() throws {
        var h = try Harness(patients: ["alice"])
        let first = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        let second = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        XCTAssertEqual(h.patients[first]?.end, .disconnectedByDoctor("replaced"))
        XCTAssertTrue(h.patients[second]?.isActive ?? false)
        XCTAssertEqual(h.doctor.connection(of: try PeerID("alice")), second)
        XCTAssertEqual(h.doctor.epoch, 2)
    }

    func testBroadcastWithNobodyConnectedIsATypedError() throws {
        var h = try Harness(patients: ["alice"])
        XCTAssertThrowsError(try h.broadcast("hello")) { error in
            XCTAssertEqual(error as? DoctorCommandError, .nobodyConnected)
        }
    }

    func testShutdownDisconnectsEveryoneWithoutANewEpoch() throws {
        var h = try Harness(patients: ["alice", "bob"])
        let a = try h.connect("alice", from: "192.0.2.1")
        let b = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        let epoch = h.doctor.epoch
        h.applyDoctor(h.doctor.disconnectAll(now: h.now, kind: .shutdown))
        h.pump()
        XCTAssertEqual(h.doctor.epoch, epoch)
        XCTAssertEqual(h.patients[a]?.end, .disconnectedByDoctor("shutdown"))
        XCTAssertEqual(h.patients[b]?.end, .disconnectedByDoctor("shutdown"))
        XCTAssertTrue(h.doctor.activePatients.isEmpty)
    }

    /// `DoctorMachine.disconnectAll(now:kind:)` with `.restarting`: every member reads the
    /// DISCONNECT reason `restarting` (a patient reconnects on it), and `ShutdownKind(reason:)`
    /// maps it back; no new epoch either.
    func testARestartSaysRestartingToEveryMember() throws {
        var h = try Harness(patients: ["alice", "bob"])
        let a = try h.connect("alice", from: "192.0.2.1")
        let b = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        let epoch = h.doctor.epoch
        h.applyDoctor(h.doctor.disconnectAll(now: h.now, kind: .restarting))
        h.pump()
        XCTAssertEqual(h.doctor.epoch, epoch)
        XCTAssertEqual(h.patients[a]?.end, .disconnectedByDoctor("restarting"))
        XCTAssertEqual(h.patients[b]?.end, .disconnectedByDoctor("restarting"))
        XCTAssertEqual(ShutdownKind(reason: "restarting"), .restarting)
        XCTAssertEqual(ShutdownKind(reason: "shutdown"), .shutdown)
        XCTAssertNil(ShutdownKind(reason: "kicked"))
    }

    func testRekeyGivesEveryMemberAFreshKey() throws {
        var h = try Harness(patients: ["alice", "bob"])
        let a = try h.connect("alice", from: "192.0.2.1")
        _ = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        let before = h.doctor.groupKeyFingerprint
        h.applyDoctor(try h.doctor.rekey(now: h.now, using: &h.rng))
        h.pump()
        XCTAssertNotEqual(h.doctor.groupKeyFingerprint, before)
        XCTAssertEqual(h.patients[a]?.groupKeyFingerprint, h.doctor.groupKeyFingerprint)
    }

    func testPatientHandshakeTimesOutWithoutAnAnswer() throws {
        var h = try Harness(patients: ["alice"])
        h.hook = { $0.direction == .toPatient ? .drop : .deliver }
        let a = try h.connect("alice")
        h.pump()
        var patient = try XCTUnwrap(h.patients[a])
        let actions = patient.timerFired(.handshake, now: h.now)
        XCTAssertTrue(actions.contains(.event(.ended(.handshakeTimedOut))))
    }

    func testSameSeedGivesTheSameActionTrace() throws {
        func run() throws -> [DoctorAction] {
            var h = try Harness(patients: ["alice", "bob"], seed: 42)
            _ = try h.connect("alice", from: "192.0.2.1")
            _ = try h.connect("bob", from: "192.0.2.2")
            h.pump()
            try h.broadcast("same bytes")
            h.pump()
            return h.doctorLog
        }
        XCTAssertEqual(try run(), try run())
    }
}
