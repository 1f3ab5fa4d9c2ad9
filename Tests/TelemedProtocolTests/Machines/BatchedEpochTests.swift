import XCTest
import TelemedCrypto
@testable import TelemedProtocol

/// Batched epochs, PROTOCOL.md §7.1, through the production inputs of `DoctorMachine`
/// (`frameReceived` for confirmations and DISCONNECTs, `timerFired(.epochWindow)`, `broadcast`,
/// `rekey`, `kick`, `disconnectAll`) and `PatientMachine.frameReceived` for the patient's wait.
final class BatchedEpochTests: XCTestCase {
    static func window(_ millis: UInt64) -> DoctorConfiguration {
        var configuration = DoctorConfiguration()
        configuration.minimumVersion = .v1
        configuration.epochWindowMillis = millis
        return configuration
    }

    private func epochsStarted(_ h: Harness) -> [(UInt64, [String])] {
        h.doctorEvents.compactMap {
            if case let .epochStarted(epoch, members) = $0 { return (epoch, members.map(\.value)) }
            return nil
        }
    }

    private func opcodes(_ h: Harness, to connection: ConnectionID) throws -> [Opcode] {
        try h.framesSent(to: connection).map { try h.doctor.codec.decode($0).opcode }
    }

    private func windowTimers(_ h: Harness) -> [UInt64] {
        h.doctorLog.compactMap { if case let .scheduleTimer(.epochWindow, after) = $0 { return after }; return nil }
    }

    /// Alice joins and her window ends (epoch 1); then Bob joins and his epoch is pending.
    private func aliceKeyedThenBobJoining() throws -> (Harness, ConnectionID, ConnectionID) {
        var h = try Harness(patients: ["alice", "bob"], configuration: Self.window(20))
        let a = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        h.advance(by: 20)
        h.fireDueTimers()
        h.pump()
        let b = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        return (h, a, b)
    }

    /// Three joins inside one window: one timer, one epoch when it fires, joiners keyed in the
    /// order they joined; nobody holds a group key before the window ends.
    func testJoinsInsideOneWindowShareOneEpoch() throws {
        var h = try Harness(patients: ["alice", "bob", "carol"], configuration: Self.window(20))
        let c = try h.connect("carol", from: "192.0.2.3")
        let a = try h.connect("alice", from: "192.0.2.1")
        let b = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        XCTAssertEqual(h.doctor.activePatients.map(\.value), ["alice", "bob", "carol"])
        XCTAssertEqual(h.doctor.epoch, 0)
        XCTAssertTrue(h.doctor.hasPendingEpoch)
        XCTAssertEqual(h.doctor.membersAwaitingGroupKey, 3)
        XCTAssertEqual(windowTimers(h), [20], "one timer for the window, not one per change")
        XCTAssertTrue(epochsStarted(h).isEmpty)
        for connection in [a, b, c] { XCTAssertFalse(h.patients[connection]?.isActive ?? true) }

        h.advance(by: 20)
        h.fireDueTimers()
        h.pump()
        XCTAssertEqual(epochsStarted(h).map(\.0), [1])
        XCTAssertFalse(h.doctor.hasPendingEpoch)
        XCTAssertEqual(h.doctor.membersAwaitingGroupKey, 0)
        for connection in [a, b, c] {
            XCTAssertEqual(h.patients[connection]?.epoch, 1)
            XCTAssertEqual(h.patients[connection]?.groupKeyFingerprint, h.doctor.groupKeyFingerprint)
        }
        // Joiners are served in the order they joined: carol, alice, bob.
        let groupKeyOrder = h.doctorLog.compactMap { action -> ConnectionID? in
            if case let .send(connection, body) = action, (try? h.doctor.codec.decode(body).opcode) == .groupKey { return connection }
            return nil
        }
        XCTAssertEqual(groupKeyOrder, [c, a, b])
    }

    /// The window is fixed: a change 15 ms into it does not move its end.
    func testTheWindowIsFixedNotSliding() throws {
        var h = try Harness(patients: ["alice", "bob"], configuration: Self.window(20))
        _ = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        h.advance(by: 15)
        _ = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        XCTAssertEqual(windowTimers(h), [20])
        h.advance(by: 5)
        h.fireDueTimers()
        h.pump()
        XCTAssertEqual(epochsStarted(h).map(\.0), [1])
        XCTAssertEqual(epochsStarted(h).first?.1, ["alice", "bob"])
    }

    /// A broadcast inside the window starts the pending epoch first (timer cancelled, GROUP_KEYs,
    /// then the ENC_MSG under the new key); the joiner's first frame after SESSION_TOKEN is its
    /// GROUP_KEY and it reads the broadcast.
    func testABroadcastStartsThePendingEpochBeforeItIsSealed() throws {
        var (h, a, b) = try aliceKeyedThenBobJoining()
        XCTAssertEqual(h.doctor.epoch, 1)
        let before = h.doctorLog.count
        try h.broadcast("the clinic opens at nine")
        let actions = Array(h.doctorLog[before...])
        XCTAssertEqual(actions.first, .cancelTimer(.epochWindow))
        let kinds = actions.compactMap { action -> Opcode? in
            if case let .send(_, body) = action { return try? h.doctor.codec.decode(body).opcode }
            return nil
        }
        XCTAssertEqual(kinds, [.groupKey, .groupKey, .encMsg, .encMsg], "every GROUP_KEY before the broadcast")
        h.pump()
        XCTAssertEqual(h.doctor.epoch, 2)
        XCTAssertEqual(try opcodes(h, to: b), [.sessionToken, .groupKey, .encMsg])
        XCTAssertEqual(h.received(a), ["the clinic opens at nine"])
        XCTAssertEqual(h.received(b), ["the clinic opens at nine"])
        h.advance(by: 20)
        h.fireDueTimers()
        XCTAssertEqual(epochsStarted(h).map(\.0), [1, 2], "the cancelled window does not start another epoch")
    }

    /// A rekey absorbs the pending changes: one epoch, not two.
    func testARekeyAbsorbsThePendingEpoch() throws {
        var h = try Harness(patients: ["alice", "bob"], configuration: Self.window(20))
        _ = try h.connect("alice", from: "192.0.2.1")
        _ = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        h.applyDoctor(try h.doctor.rekey(now: h.now, using: &h.rng))
        h.pump()
        h.advance(by: 20)
        h.fireDueTimers()
        XCTAssertEqual(epochsStarted(h).map(\.0), [1])
        XCTAssertTrue(h.doctorLog.contains(.cancelTimer(.epochWindow)))
    }

    /// A joiner kicked before its first GROUP_KEY is closed without any frame; the window still
    /// ends in exactly one new epoch for the others although its changes cancel out.
    func testAJoinerKickedBeforeItsGroupKeyIsClosedSilently() throws {
        var (h, a, b) = try aliceKeyedThenBobJoining()
        h.applyDoctor(try h.doctor.kick(try PeerID("bob"), now: h.now, using: &h.rng))
        h.pump()
        XCTAssertEqual(try opcodes(h, to: b), [.sessionToken], "no DISCONNECT, no GROUP_KEY")
        XCTAssertTrue(h.closed.contains(b))
        XCTAssertEqual(h.patients[b]?.end, .connectionLost(.dropped))
        h.advance(by: 20)
        h.fireDueTimers()
        h.pump()
        XCTAssertEqual(epochsStarted(h).map(\.0), [1, 2])
        XCTAssertEqual(epochsStarted(h).last?.1, ["alice"])
        XCTAssertEqual(h.patients[a]?.epoch, 2)
    }

    /// A replaced session that was never keyed is closed silently too; the new session of the
    /// id is served in the same window.
    func testAnUnkeyedSessionReplacedInsideTheWindowGetsNoFrame() throws {
        var h = try Harness(patients: ["alice"], configuration: Self.window(20))
        let first = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        h.advance(by: 5)
        let second = try h.connect("alice", from: "192.0.2.2")
        h.pump()
        XCTAssertEqual(try opcodes(h, to: first), [.sessionToken])
        XCTAssertTrue(h.closed.contains(first))
        h.advance(by: 15)
        h.fireDueTimers()
        h.pump()
        XCTAssertEqual(try opcodes(h, to: second), [.sessionToken, .groupKey])
        XCTAssertEqual(epochsStarted(h).map(\.0), [1])
    }

    /// Shutdown drops the pending epoch: DISCONNECT to keyed members only, a silent close for
    /// the joiner, no GROUP_KEY, and the window's timer is cancelled.
    func testShutdownDropsThePendingEpoch() throws {
        var (h, a, b) = try aliceKeyedThenBobJoining()
        let before = h.doctorLog.count
        h.applyDoctor(h.doctor.disconnectAll(now: h.now, kind: .shutdown))
        XCTAssertTrue(h.doctorLog[before...].contains(.cancelTimer(.epochWindow)))
        XCTAssertFalse(h.doctor.hasPendingEpoch)
        XCTAssertEqual(try opcodes(h, to: a), [.sessionToken, .groupKey, .disconnect])
        XCTAssertEqual(try opcodes(h, to: b), [.sessionToken])
        XCTAssertEqual(h.doctor.timerFired(.epochWindow, now: h.now, using: &h.rng), [])
        XCTAssertEqual(epochsStarted(h).map(\.0), [1])
    }

    /// With a window of 0 every change is its own epoch at once and no timer is ever scheduled.
    func testAWindowOfZeroIsOneEpochPerChange() throws {
        var h = try Harness(patients: ["alice", "bob"], configuration: Self.window(0))
        let b = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        _ = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        h.leave(b)
        h.pump()
        XCTAssertEqual(epochsStarted(h).map(\.0), [1, 2, 3])
        XCTAssertTrue(windowTimers(h).isEmpty)
    }

    /// The bound of the window: 0…1,000 ms on both sides.
    func testTheWindowIsValidated() {
        var doctor = DoctorConfiguration()
        doctor.minimumVersion = .v1
        doctor.epochWindowMillis = 1_001
        XCTAssertThrowsError(try doctor.validated()) { error in
            XCTAssertEqual(error as? ConfigurationError,
                           .outOfBounds(field: "epochWindowMillis", value: 1_001, allowed: 0...1_000))
        }
        doctor.epochWindowMillis = 0
        XCTAssertNoThrow(try doctor.validated())
        var patient = PatientConfiguration()
        patient.epochWindowMillis = 1_001
        XCTAssertThrowsError(try patient.validated())
    }

    /// The patient waits for its first GROUP_KEY until the handshake timeout or W after its
    /// KEY_CONFIRMATION, whichever ends later: a SESSION_TOKEN that arrives 900 ms into a
    /// 1,000 ms handshake with W = 1,000 moves the deadline; one that arrives early does not.
    func testThePatientWaitsTheWindowAfterALateConfirmation() throws {
        var doctorConfiguration = Self.window(1_000)
        doctorConfiguration.handshakeTimeoutMillis = 1_000
        var h = try Harness(patients: ["alice", "bob"], configuration: doctorConfiguration)
        var patientConfiguration = PatientConfiguration.version1
        patientConfiguration.handshakeTimeoutMillis = 1_000
        patientConfiguration.epochWindowMillis = 1_000

        for (name, delay, expected) in [("alice", UInt64(900), [PatientAction.scheduleTimer(.handshake, afterMillis: 1_000)]),
                                        ("bob", UInt64(0), [])] {
            let id = try PeerID(name)
            var patient = try PatientMachine(configuration: patientConfiguration, identity: id,
                                             privateKey: Harness.keyCache.key(name), doctorID: Harness.doctorID,
                                             doctorKey: h.doctorKey.publicKey)
            let connection = try h.openRaw(from: "192.0.2.\(delay == 0 ? 2 : 1)")
            let request = patient.connected(now: h.now, using: &h.rng)
            guard case let .send(body)? = request.first else { return XCTFail("no KEY_VERIFICATION") }
            h.inject(body, on: connection)
            let token = try XCTUnwrap(h.framesSent(to: connection).last)
            let answered = patient.frameReceived(token, now: Instant(wall: h.now.wall + delay, monotonic: h.now.monotonic + delay),
                                                 using: &h.rng)
            XCTAssertEqual(Array(answered.dropFirst()), expected, name)
            XCTAssertFalse(patient.isActive)
        }
    }
}
