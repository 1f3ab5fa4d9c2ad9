import TelemedCrypto
import XCTest
@testable import TelemedProtocol

/// PROTOCOL.md §7.6 at the machine: the inputs `DoctorNode.handle` feeds for what a transport
/// reports (`frameStarted`, `frameRefused`, `connectionClosed` with its end) and the one
/// handshake timer. Each test drives those production entry points and checks the answer:
/// REJECTED where the connection can still be written, close, one audit record naming R-FRAME
/// or R-STATE, counted against the source only for a first frame, a leave for a member.
final class TransportInputTests: XCTestCase {
    private let crafter = Crafter()

    private func failures(_ h: Harness, _ source: String) throws -> Int {
        h.doctor.securityState.failures[try XCTUnwrapSource(source)]?.count ?? 0
    }

    private func answeredRejected(_ h: Harness, _ connection: ConnectionID) -> Bool {
        h.framesSent(to: connection).last.flatMap { crafter.decode($0) } == .rejected
    }

    func testRefusedPrefixesOfAFirstFrameAreRejectedAndCounted() throws {
        var h = try Harness(patients: ["alice"])
        for declared: UInt32 in [0, 65_537, 1 << 31] {
            let connection = try h.openRaw(from: "198.51.100.7")
            h.applyDoctor(h.doctor.frameRefused(on: connection, declaredLength: declared, now: h.now, using: &h.rng))
            XCTAssertTrue(answeredRejected(h, connection), "REJECTED for \(declared)")
            XCTAssertTrue(h.closed.contains(connection))
            XCTAssertEqual(h.rejections.last?.rule, .frame)
            XCTAssertEqual(h.rejections.last?.reason, "frame length \(declared) outside 1...65536")
        }
        XCTAssertEqual(try failures(h, "198.51.100.7"), 3)
        XCTAssertEqual(h.doctor.pendingHandshakes, 0)
    }

    func testARefusedPrefixAfterTheSignatureVerifiedIsNotCounted() throws {
        var h = try Harness(patients: ["alice"])
        // Hold KEY_CONFIRMATION back: alice's request verifies and the doctor answers.
        h.hook = { flight in flight.direction == .toDoctor && flight.body.count < 200 ? .drop : .deliver }
        let alice = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        h.applyDoctor(h.doctor.frameRefused(on: alice, declaredLength: 70_000, now: h.now, using: &h.rng))
        XCTAssertEqual(h.rejections.last?.rule, .frame)
        XCTAssertEqual(try failures(h, "192.0.2.1"), 0, "failures after a verified signature are not counted")
    }

    func testAStalledFirstFrameIsRFrameAndASilentConnectionIsRState() throws {
        var h = try Harness(patients: ["alice"])
        let stalled = try h.openRaw(from: "198.51.100.7")
        h.applyDoctor(h.doctor.frameStarted(on: stalled, now: h.now))
        let silent = try h.openRaw(from: "198.51.100.8")
        h.advance(by: 9_999)
        h.fireDueTimers()
        XCTAssertTrue(h.rejections.isEmpty, "nothing before the handshake timeout")
        h.advance(by: 1)
        h.fireDueTimers()
        // Both timers are due at once (the harness fires equal deadlines in any order).
        XCTAssertEqual(Set(h.rejections.map(\.rule)), [.frame, .state])
        XCTAssertEqual(Set(h.rejections.map(\.reason)), ["frame not completed within the handshake timeout",
                                                         "no KEY_VERIFICATION within the handshake timeout"])
        XCTAssertTrue(answeredRejected(h, stalled) && answeredRejected(h, silent))
        XCTAssertEqual(try failures(h, "198.51.100.7"), 1)
        XCTAssertEqual(try failures(h, "198.51.100.8"), 1)
    }

    func testAFrameThatCompletesClearsTheStall() throws {
        var h = try Harness(patients: ["alice"])
        let connection = try h.openRaw(from: "198.51.100.7")
        h.applyDoctor(h.doctor.frameStarted(on: connection, now: h.now))
        h.inject(crafter.codec.encode(.rejected), on: connection)  // opcode 70 first: R-STATE
        XCTAssertEqual(h.rejections.map(\.rule), [.state])
        XCTAssertEqual(h.rejections.last?.reason, "opcode 70 before KEY_VERIFICATION")
    }

    func testAMembersStalledFrameIsAnRFrameLeaveAfterTheHandshakeTimeout() throws {
        var h = try Harness(patients: ["alice", "bob"])
        let alice = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        let bob = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        XCTAssertEqual(h.doctor.activePatients.map(\.value), ["alice", "bob"])
        let epoch = h.doctor.epoch

        let started = h.doctor.frameStarted(on: bob, now: h.now)
        XCTAssertEqual(started, [.scheduleTimer(.frameCompletion(bob), afterMillis: 10_000)])
        h.applyDoctor(started)
        XCTAssertEqual(h.doctor.frameStarted(on: bob, now: h.now), [], "one timer per frame")
        h.advance(by: 10_000)
        h.fireDueTimers()
        XCTAssertEqual(h.rejections.last?.rule, .frame)
        XCTAssertEqual(h.rejections.last?.reason, "frame not completed within the handshake timeout")
        XCTAssertTrue(answeredRejected(h, bob))
        XCTAssertTrue(h.doctorEvents.contains(.patientLeft(try PeerID("bob"), bob, reason: .rejected)))
        XCTAssertEqual(h.doctor.activePatients.map(\.value), ["alice"])
        XCTAssertEqual(h.doctor.epoch, epoch + 1, "the leave starts a new epoch")
        XCTAssertEqual(try failures(h, "192.0.2.2"), 0, "a member's failure is never counted")
        _ = alice
    }

    func testAMembersFrameThatCompletesCancelsItsTimer() throws {
        var h = try Harness(patients: ["alice"])
        let alice = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        h.applyDoctor(h.doctor.frameStarted(on: alice, now: h.now))
        XCTAssertNotNil(h.timers[.frameCompletion(alice)])
        h.leave(alice)  // the DISCONNECT completes the frame
        h.pump()
        XCTAssertTrue(h.doctorLog.contains(.cancelTimer(.frameCompletion(alice))))
        XCTAssertNil(h.timers[.frameCompletion(alice)])
        XCTAssertTrue(h.doctorEvents.contains(.patientLeft(try PeerID("alice"), alice, reason: .disconnected)))
    }

    func testAMembersRefusedPrefixIsAnRFrameLeave() throws {
        var h = try Harness(patients: ["alice"])
        let alice = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        h.applyDoctor(h.doctor.frameStarted(on: alice, now: h.now))
        h.applyDoctor(h.doctor.frameRefused(on: alice, declaredLength: 65_537, now: h.now, using: &h.rng))
        XCTAssertEqual(h.rejections.last?.rule, .frame)
        XCTAssertTrue(answeredRejected(h, alice))
        XCTAssertTrue(h.doctorLog.contains(.cancelTimer(.frameCompletion(alice))), "the frame timer goes with it")
        XCTAssertTrue(h.doctorEvents.contains(.patientLeft(try PeerID("alice"), alice, reason: .rejected)))
        XCTAssertEqual(h.doctor.activePatients, [])
    }

    func testTransportClosesOfMembersAreLeavesWithTheirOwnReasons() throws {
        let cases: [(ConnectionEnd, LeaveReason, RuleID?)] = [
            (.closedByPeer, .connectionClosed, nil), (.transportFailure, .connectionClosed, nil),
            (.writeTimeout, .writeTimeout, nil), (.outboundQueueFull, .outboundQueueFull, nil),
            (.cutFrame, .rejected, .frame),
        ]
        for (end, reason, rule) in cases {
            var h = try Harness(patients: ["alice"])
            let alice = try h.connect("alice", from: "192.0.2.1")
            h.pump()
            let actions = h.doctor.connectionClosed(alice, end, now: h.now, using: &h.rng)
            XCTAssertTrue(actions.contains(.event(.patientLeft(try PeerID("alice"), alice, reason: reason))), "\(end)")
            XCTAssertFalse(actions.contains(.close(alice)), "the transport already closed it (\(end))")
            let rejected = actions.compactMap { action -> RuleID? in
                if case let .event(.rejected(_, _, rule, _, _)) = action { return rule }
                return nil
            }
            XCTAssertEqual(rejected, rule.map { [$0] } ?? [], "\(end)")
        }
    }

    func testACutFirstFrameIsCountedAndACleanCloseIsNot() throws {
        var h = try Harness(patients: ["alice"])
        let cut = try h.openRaw(from: "198.51.100.7")
        h.applyDoctor(h.doctor.connectionClosed(cut, .cutFrame, now: h.now, using: &h.rng))
        let clean = try h.openRaw(from: "198.51.100.7")
        h.applyDoctor(h.doctor.connectionClosed(clean, .closedByPeer, now: h.now, using: &h.rng))
        XCTAssertEqual(h.rejections.map(\.rule), [.frame])
        XCTAssertEqual(try failures(h, "198.51.100.7"), 1)
        XCTAssertEqual(h.doctor.pendingHandshakes, 0)
    }
}
