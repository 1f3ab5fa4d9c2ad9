import XCTest
@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol

/// Enroll and revoke as machine inputs: `DoctorMachine.revoke(_:now:using:)` and
/// `DoctorMachine.enroll(_:publicKey:replace:now:using:)`, driven through the Harness with real
/// PatientMachines on the other side.
final class RegistryInputTests: XCTestCase {
    private let crafter = Crafter()

    private func id(_ name: String) throws -> PeerID { try PeerID(name) }

    private func persisted(_ actions: [DoctorAction]) -> [SecurityChange] {
        actions.compactMap { if case let .persist(change) = $0 { return change }; return nil }
    }

    private func events(_ actions: [DoctorAction]) -> [DoctorEvent] {
        actions.compactMap { if case let .event(event) = $0 { return event }; return nil }
    }

    private func epochs(_ actions: [DoctorAction]) -> [UInt64] {
        events(actions).compactMap { if case let .epochStarted(epoch, _) = $0 { return epoch }; return nil }
    }

    /// Feeds `revoke` and pumps what it sent; returns the machine's actions.
    @discardableResult
    private func revoke(_ h: inout Harness, _ name: String) throws -> [DoctorAction] {
        let actions = try h.doctor.revoke(try id(name), now: h.now, using: &h.rng)
        h.applyDoctor(actions)
        h.pump()
        return actions
    }

    /// Feeds `enroll` and pumps what it sent; returns the machine's actions.
    @discardableResult
    private func enroll(_ h: inout Harness, _ name: String, _ key: PublicKey, replace: Bool = false) throws -> [DoctorAction] {
        let actions = try h.doctor.enroll(try id(name), publicKey: key, replace: replace, now: h.now, using: &h.rng)
        h.applyDoctor(actions)
        h.pump()
        return actions
    }

    /// Holds back every KEY_CONFIRMATION: handshakes stop after SESSION_TOKEN.
    private func holdConfirmations(_ h: inout Harness) {
        h.hook = { flight in
            guard flight.direction == .toDoctor, case .keyConfirmation? = Crafter().decode(flight.body) else { return .deliver }
            return .drop
        }
    }

    /// Makes every KEY_CONFIRMATION carry a wrong SKV (the device gets blocked).
    private func corruptConfirmations(_ h: inout Harness) {
        h.hook = { flight in
            guard flight.direction == .toDoctor, case let .keyConfirmation(kc)? = Crafter().decode(flight.body) else {
                return .deliver
            }
            var skv = kc.skv.bytes
            skv[0] ^= 1
            return .replace(Crafter().codec.encode(.keyConfirmation(KeyConfirmation(idI: kc.idI, ts: kc.ts, skv: .unchecked(skv)))))
        }
    }

    // MARK: - Revoke: the session ends at once

    /// A connected patient that is revoked gets DISCONNECT("revoked") sealed under its own key,
    /// is closed and leaves with reason `.revoked`; the others get exactly one new epoch.
    func testRevokeEndsTheSessionWithDisconnectRevokedAndExactlyOneEpoch() throws {
        var h = try Harness(patients: ["alice", "bob", "carol"])
        var connections: [String: ConnectionID] = [:]
        for (index, name) in ["alice", "bob", "carol"].enumerated() {
            connections[name] = try h.connect(name, from: "192.0.2.\(index + 1)")
            h.pump()
        }
        XCTAssertEqual(h.doctor.activePatients.map(\.value), ["alice", "bob", "carol"])
        let epochBefore = h.doctor.epoch
        let bob = try XCTUnwrap(connections["bob"])

        let actions = try revoke(&h, "bob")

        XCTAssertEqual(epochs(actions), [epochBefore + 1], "exactly one new epoch")
        XCTAssertTrue(actions.contains(.close(bob)))
        XCTAssertTrue(events(actions).contains(.patientLeft(try id("bob"), bob, reason: .revoked)))
        XCTAssertTrue(h.patientEvents(bob).contains(.ended(.disconnectedByDoctor("revoked"))),
                      "bob's own machine opened a DISCONNECT saying why: \(h.patientEvents(bob))")
        XCTAssertEqual(h.doctor.activePatients.map(\.value), ["alice", "carol"])
        XCTAssertEqual(h.doctor.enrolledPatients.map(\.value), ["alice", "carol"])
        for name in ["alice", "carol"] {
            let patient = try XCTUnwrap(h.patients[try XCTUnwrap(connections[name])])
            XCTAssertEqual(patient.epoch, epochBefore + 1, "\(name) is on the new epoch")
            XCTAssertEqual(patient.groupKeyFingerprint, h.doctor.groupKeyFingerprint)
        }
        XCTAssertTrue(h.doctor.securityState.failures.isEmpty, "a revocation counts nothing")
        let bobID = try id("bob")
        XCTAssertThrowsError(try h.doctor.revoke(bobID, now: h.now, using: &h.rng)) {
            XCTAssertEqual($0 as? RegistryError, .notEnrolled(bobID))
        }
    }

    /// The last member revoked: no epoch at all (nobody is left to key).
    func testRevokingTheOnlyMemberStartsNoEpoch() throws {
        var h = try Harness(patients: ["alice"])
        let alice = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        let actions = try revoke(&h, "alice")
        XCTAssertEqual(epochs(actions), [])
        XCTAssertTrue(actions.contains(.close(alice)))
        XCTAssertEqual(h.doctor.activePatients, [])
        XCTAssertNil(h.doctor.groupKeyFingerprint)
    }

    // MARK: - Revoke: pending handshakes end

    /// A handshake of the revoked id waiting for its KEY_CONFIRMATION ends at once: REJECTED,
    /// close, an R-ID rejection, not counted (its signature had verified). A connection that
    /// has not named an id yet, and another id's handshake, are untouched.
    func testRevokeEndsThatIdsPendingHandshakesWithoutCounting() throws {
        var h = try Harness(patients: ["alice", "bob"])
        holdConfirmations(&h)
        let bobPending = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        let alicePending = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        let silent = try h.openRaw(from: "192.0.2.2")
        XCTAssertEqual(h.doctor.pendingHandshakes, 3)

        let actions = try revoke(&h, "bob")

        XCTAssertEqual(h.framesSent(to: bobPending).last.flatMap { crafter.decode($0) }, .rejected)
        XCTAssertTrue(actions.contains(.close(bobPending)))
        XCTAssertTrue(actions.contains(.cancelTimer(.handshake(bobPending))))
        let rejection = events(actions).compactMap { event -> (RuleID, PeerID?)? in
            if case let .rejected(connection, _, rule, _, patient) = event, connection == bobPending { return (rule, patient) }
            return nil
        }
        XCTAssertEqual(rejection.map(\.0), [.identity])
        XCTAssertEqual(rejection.map(\.1), [try id("bob")])
        XCTAssertTrue(h.doctor.securityState.failures.isEmpty, "not counted against the source")
        XCTAssertEqual(h.doctor.pendingHandshakes, 2, "alice's handshake and the silent connection stay")
        XCTAssertFalse(h.closed.contains(alicePending))
        XCTAssertFalse(h.closed.contains(silent))
        XCTAssertEqual(epochs(actions), [], "no member left, no epoch")
    }

    // MARK: - Revoked id = unknown id

    /// What a first frame on a fresh connection makes the doctor do, with the connection
    /// number and clock fixed so that two harnesses can be compared action for action.
    private func firstFrame(_ h: inout Harness, _ body: [UInt8], from source: String,
                            connection: UInt64) throws -> [DoctorAction] {
        h.nextConnection = connection
        let opened = try h.openRaw(from: source)
        let before = h.doctorLog.count
        h.inject(body, on: opened)
        // The handshake jobs carry each machine's own job numbers; what they decide follows.
        return h.doctorLog[before...].filter { if case .verify = $0 { return false }; return true }
    }

    /// After `revoke`, requests of the id — a captured one replayed, one signed with its key
    /// later, from a source where its device was blocked and from another — get exactly the
    /// actions a never-enrolled id gets: the same REJECTED bytes, the same R-ID event and
    /// reason, the same failure counted (and eventually the same source block).
    func testARevokedIDIsRefusedByteForByteLikeANeverEnrolledID() throws {
        let start: UInt64 = 1_764_000_000_000
        var revoked = try Harness(patients: ["alice", "bob"], seed: 7, start: start)
        var never = try Harness(patients: ["alice"], seed: 7, start: start)
        XCTAssertEqual(never.doctor.deviceBlockCapacity, 16)

        // bob logs in once (his request is captured and enters the replay cache), and a second
        // handshake of his device from 192.0.2.9 ends in a wrong SKV (a device block).
        let bob = try revoked.connect("bob", from: "192.0.2.2")
        revoked.pump()
        let captured = try XCTUnwrap(revoked.framesFromPatient(bob).first)
        corruptConfirmations(&revoked)
        _ = try revoked.connect("bob", from: "192.0.2.9")
        revoked.pump()
        revoked.hook = nil
        let device = DeviceKey(patient: try id("bob"), source: try XCTUnwrapSource("192.0.2.9"))
        XCTAssertNotNil(revoked.doctor.deviceBlock(device, at: revoked.now.wall))
        XCTAssertEqual(revoked.doctor.replayCacheCount, 2)
        // A request of bob's that is still in flight when he is revoked.
        var inFlightRNG = SeededRandom(seed: 99)
        let later = try crafter.request(claiming: "bob", signer: Harness.keyCache.key("bob"), ts: start + 500,
                                        rng: &inFlightRNG)

        let revocation = try revoke(&revoked, "bob")
        XCTAssertEqual(persisted(revocation), [.unblocked(.device(device), reason: .patientRevoked)])
        XCTAssertEqual(revoked.doctor.replayCacheCount, 0, "bob's replay entries are gone")
        XCTAssertEqual(revoked.doctor.deviceBlockCapacity, never.doctor.deviceBlockCapacity)

        revoked.advance(by: 1_000)
        never.advance(by: 1_000)
        let cases: [(String, [UInt8], String)] = [
            ("the captured request replayed", captured, "192.0.2.2"),
            ("the captured request from the formerly blocked device", captured, "192.0.2.9"),
            ("a request in flight", crafter.encode(later), "198.51.100.4"),
        ]
        var connection: UInt64 = 500
        for (what, body, source) in cases {
            connection += 1
            let a = try firstFrame(&revoked, body, from: source, connection: connection)
            let b = try firstFrame(&never, body, from: source, connection: connection)
            XCTAssertEqual(a, b, what)
            XCTAssertTrue(events(a).contains { if case .rejected(_, _, .identity, "unknown patient id", _) = $0 { return true }; return false },
                          "\(what): \(events(a))")
            XCTAssertEqual(a.compactMap { if case let .send(_, body) = $0 { return body }; return nil },
                           [crafter.codec.encode(.rejected)], what)
        }
        XCTAssertEqual(comparable(revoked.doctor.securityState), comparable(never.doctor.securityState),
                       "the same failures counted, the same blocks")
        // Enough of them block the source, in both.
        for round in 0..<4 {
            connection += 1
            let a = try firstFrame(&revoked, captured, from: "198.51.100.4", connection: connection)
            let b = try firstFrame(&never, captured, from: "198.51.100.4", connection: connection)
            XCTAssertEqual(a, b, "round \(round)")
        }
        XCTAssertNotNil(revoked.doctor.sourceBlock(try XCTUnwrapSource("198.51.100.4"), at: revoked.now.wall))
        XCTAssertEqual(comparable(revoked.doctor.securityState), comparable(never.doctor.securityState))
        XCTAssertEqual(revoked.doctor.securityState.deviceBlockHistory[try id("bob")]?.count, 1,
                       "the repeated-block history is kept (documented): it feeds only an alert on new device blocks")
    }

    /// The security state without the device-block history (which a revocation keeps).
    private func comparable(_ state: SecurityState) -> SecurityState {
        var state = state
        state.deviceBlockHistory = [:]
        return state
    }

    /// bob's own PatientMachine, connecting after the revocation, is refused like an unknown id
    /// and its patient side sees only REJECTED.
    func testARevokedPatientCannotLogIn() throws {
        var h = try Harness(patients: ["alice", "bob"])
        try revoke(&h, "bob")
        let bob = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        XCTAssertEqual(h.rejections.last?.rule, .identity)
        XCTAssertEqual(h.rejections.last?.reason, "unknown patient id")
        XCTAssertTrue(h.patientEvents(bob).contains(.ended(.connectionLost(.refusedByDoctor))), "\(h.patientEvents(bob))")
        XCTAssertEqual(h.doctor.activePatients, [])
        XCTAssertEqual(h.doctor.securityState.failures[try XCTUnwrapSource("192.0.2.2")]?.count, 1, "counted, as R-ID is")
    }

    // MARK: - Enroll

    /// A revoked id enrolled again with a new key logs in with it; its old key is refused
    /// (R-SIG: the id is known again, the signature is not its key's).
    func testReenrollWithANewKeyWorksAndTheOldKeyIsRefused() throws {
        var h = try Harness(patients: ["alice", "bob"])
        try revoke(&h, "bob")
        let newKey = Harness.keyCache.key("bob-new-device")
        let actions = try enroll(&h, "bob", newKey.publicKey)
        XCTAssertEqual(actions, [], "a plain enrollment sends nothing")
        XCTAssertEqual(h.doctor.enrolledKey(of: try id("bob")), newKey.publicKey)

        let old = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        XCTAssertEqual(h.rejections.last?.rule, .signature)
        XCTAssertTrue(h.patientEvents(old).contains(.ended(.connectionLost(.refusedByDoctor))))

        let fresh = try h.connect("bob", from: "192.0.2.3", key: newKey)
        h.pump()
        XCTAssertEqual(h.doctor.activePatients.map(\.value), ["bob"])
        XCTAssertEqual(h.doctor.connection(of: try id("bob")), fresh)
    }

    /// `replace` is required for an enrolled id and ends the old key's session and pending
    /// handshakes (DISCONNECT "key replaced", one epoch for the rest); then only the new key
    /// logs in.
    func testReplaceEndsTheOldKeysSessionAndPendingHandshakes() throws {
        var h = try Harness(patients: ["alice", "bob"])
        let alice = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        let bob = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        holdConfirmations(&h)
        let bobPending = try h.connect("bob", from: "192.0.2.5")
        h.pump()
        h.hook = nil
        let epochBefore = h.doctor.epoch
        let newKey = Harness.keyCache.key("bob-replacement")

        let bobID = try id("bob")
        XCTAssertThrowsError(try h.doctor.enroll(bobID, publicKey: newKey.publicKey, replace: false,
                                                 now: h.now, using: &h.rng)) {
            XCTAssertEqual($0 as? RegistryError, .alreadyEnrolled(bobID))
        }
        let actions = try enroll(&h, "bob", newKey.publicKey, replace: true)

        XCTAssertEqual(epochs(actions), [epochBefore + 1])
        XCTAssertTrue(events(actions).contains(.patientLeft(try id("bob"), bob, reason: .keyReplaced)))
        XCTAssertTrue(h.patientEvents(bob).contains(.ended(.disconnectedByDoctor("key replaced"))))
        XCTAssertTrue(h.closed.contains(bobPending), "the old key's pending handshake ended")
        XCTAssertEqual(h.doctor.activePatients.map(\.value), ["alice"])
        XCTAssertEqual(h.patients[alice]?.epoch, epochBefore + 1)

        _ = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        XCTAssertEqual(h.rejections.last?.rule, .signature, "the old key no longer logs in")
        _ = try h.connect("bob", from: "192.0.2.3", key: newKey)
        h.pump()
        XCTAssertEqual(h.doctor.activePatients.map(\.value), ["alice", "bob"])
    }

    /// Every refused enrollment or revocation throws its typed error and changes nothing: the
    /// registry, the members, the epoch and the security state are as before.
    func testRefusedRegistryInputsChangeNothing() throws {
        var h = try Harness(patients: ["alice", "bob"])
        _ = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        let alice = Harness.keyCache.key("alice").publicKey
        var otherGroupRNG = SeededRandom(seed: 5)
        let otherGroup = PrivateKey(generatingIn: .telemed3072, using: &otherGroupRNG).publicKey
        let before = (h.doctor.enrolledPatients, h.doctor.activePatients, h.doctor.epoch, h.doctor.securityState,
                      h.doctor.groupKeyFingerprint)
        let other = Harness.keyCache.key("x").publicKey
        let refusals: [(String, PeerID, PublicKey?, Bool, RegistryError)] = [
            ("enrolled id without replace", try id("alice"), other, false, .alreadyEnrolled(try id("alice"))),
            ("replace with the same key", try id("alice"), alice, true, .keyUnchanged(try id("alice"))),
            ("a key enrolled for another id", try id("carol"), alice, false, .keyInUse(alice.fingerprint, by: try id("alice"))),
            ("a key of another group", try id("carol"), otherGroup, false,
             .wrongGroup(expected: "telemed-2048-256", found: "telemed-3072-256")),
            ("revoke a never-enrolled id", try id("zed"), nil, false, .notEnrolled(try id("zed"))),
        ]
        for (what, patient, key, replace, expected) in refusals {
            do {
                if let key {
                    _ = try h.doctor.enroll(patient, publicKey: key, replace: replace, now: h.now, using: &h.rng)
                } else {
                    _ = try h.doctor.revoke(patient, now: h.now, using: &h.rng)
                }
                XCTFail("\(what) was accepted")
            } catch {
                XCTAssertEqual(error, expected, what)
            }
            XCTAssertEqual(h.doctor.enrolledPatients, before.0, what)
            XCTAssertEqual(h.doctor.activePatients, before.1, what)
            XCTAssertEqual(h.doctor.epoch, before.2, what)
            XCTAssertEqual(h.doctor.securityState, before.3, what)
            XCTAssertEqual(h.doctor.groupKeyFingerprint, before.4, what)
        }
    }

    // MARK: - The device-block bound follows the enrolled count

    /// With `deviceBlocksPerPatient` = 1 the table holds one block per enrolled patient.
    /// Revoking shrinks it (evicting the block closest to expiry, persisted as `.evicted`);
    /// enrolling grows it again.
    func testTheDeviceBlockBoundFollowsTheEnrolledCount() throws {
        var configuration = DoctorConfiguration()
        configuration.minimumVersion = .v1
        configuration.deviceBlocksPerPatient = 1
        var h = try Harness(patients: ["alice", "bob", "carol"], configuration: configuration)
        XCTAssertEqual(h.doctor.deviceBlockCapacity, 3)
        corruptConfirmations(&h)
        var devices: [DeviceKey] = []
        for index in 1...3 {
            _ = try h.connect("alice", from: "192.0.2.\(index)")
            h.pump()
            devices.append(DeviceKey(patient: try id("alice"), source: try XCTUnwrapSource("192.0.2.\(index)")))
            h.advance(by: 1_000)
        }
        h.hook = nil
        XCTAssertEqual(h.doctor.securityState.deviceBlocks.count, 3)

        let actions = try revoke(&h, "bob")
        XCTAssertEqual(h.doctor.deviceBlockCapacity, 2)
        XCTAssertEqual(persisted(actions), [.unblocked(.device(devices[0]), reason: .evicted)],
                       "the block closest to expiry goes")
        XCTAssertEqual(Set(h.doctor.securityState.deviceBlocks.keys), Set(devices.dropFirst()))

        try enroll(&h, "dave", Harness.keyCache.key("dave").publicKey)
        XCTAssertEqual(h.doctor.deviceBlockCapacity, 3)
        XCTAssertEqual(h.doctor.securityState.deviceBlocks.count, 2, "growing evicts nothing")

        let revokeAlice = try revoke(&h, "alice")
        XCTAssertEqual(persisted(revokeAlice), devices.dropFirst().map { .unblocked(.device($0), reason: .patientRevoked) })
        XCTAssertEqual(h.doctor.deviceBlockCapacity, 2)
        XCTAssertTrue(h.doctor.securityState.deviceBlocks.isEmpty)
    }
}
