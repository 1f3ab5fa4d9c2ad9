import XCTest
@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol

/// What a patient refuses (it never rejects: it drops or closes), and R-NOLEAK.
final class PatientSideTests: XCTestCase {
    /// Rewrites the SESSION_TOKEN in flight, re-signed by `signer`, after `edit`.
    func tamperToken(_ h: inout Harness, signer: PrivateKey, edit: @escaping (SessionToken) -> SessionToken) {
        h.hook = { flight in
            guard flight.direction == .toPatient, case let .sessionToken(token)? = Crafter().decode(flight.body) else { return .deliver }
            var rng = SeededRandom(seed: 5)
            let edited = edit(token)
            let signature = signer.sign(SignedBytes.sessionToken(edited), using: &rng)
            var signed = edited
            signed.sigR = ElementBytes(bytes: signature.rBytes(in: Harness.group))
            signed.sigS = .unchecked(signature.sBytes(in: Harness.group))
            return .replace(Crafter().codec.encode(.sessionToken(signed)))
        }
    }

    func testATokenThatDoesNotEchoTheRequestNonceIsRefused() throws {
        var h = try Harness(patients: ["alice"])
        tamperToken(&h, signer: Harness.keyCache.key("doctor")) { token in
            var edited = token
            var rn = token.rnI.bytes
            rn[0] ^= 1
            edited.rnI = .unchecked(rn)
            return edited
        }
        let a = try h.connect("alice")
        h.pump()
        XCTAssertEqual(h.patients[a]?.end, .protocolViolation(.echo, "SESSION_TOKEN does not echo our rn_i"))
        XCTAssertTrue(h.doctor.activePatients.isEmpty)
    }

    func testATokenSignedByAPatientKeyIsRefused() throws {
        var h = try Harness(patients: ["alice", "bob"])
        tamperToken(&h, signer: Harness.keyCache.key("bob")) { $0 }
        let a = try h.connect("alice")
        h.pump()
        XCTAssertEqual(h.patients[a]?.end,
                       .protocolViolation(.signature, "SESSION_TOKEN signature does not verify under the pinned key"))
    }

    func testAStaleTokenIsDroppedAndTheHandshakeThenTimesOut() throws {
        var h = try Harness(patients: ["alice"])
        tamperToken(&h, signer: Harness.keyCache.key("doctor")) { token in
            var edited = token
            edited.tsGWN -= 60_000
            return edited
        }
        let a = try h.connect("alice")
        h.pump()
        XCTAssertTrue(h.patientEvents(a).contains { if case .dropped(.time, _) = $0 { return true }; return false })
        var patient = try XCTUnwrap(h.patients[a])
        XCTAssertTrue(patient.timerFired(.handshake, now: h.now).contains(.event(.ended(.handshakeTimedOut))))
    }

    func testAGroupKeyOfANonHigherEpochIsDropped() throws {
        var h = try Harness(patients: ["alice"])
        let a = try h.connect("alice")
        h.pump()
        let first = try XCTUnwrap(h.framesSent(to: a).first { if case .groupKey? = Crafter().decode($0) { return true }; return false })
        h.applyDoctor(try h.doctor.rekey(now: h.now, using: &h.rng))
        h.pump()
        h.deliver(Harness.Flight(connection: a, direction: .toPatient, body: first))
        XCTAssertEqual(h.patients[a]?.epoch, 2)
        XCTAssertTrue(h.patientEvents(a).contains { if case .dropped = $0 { return true }; return false })
    }

    func testNoSecretAppearsInDescriptionsEventsOrErrors() throws {
        var h = try Harness(patients: ["alice"])
        let a = try h.connect("alice")
        h.pump()
        try h.broadcast("private text about a patient")
        h.pump()
        let doctorKey = Harness.keyCache.key("doctor")
        let aliceKey = Harness.keyCache.key("alice")
        var secrets = [BigInt.encodeHex(doctorKey.scalarBytes), BigInt.encodeHex(aliceKey.scalarBytes)]
        guard case let .active(session)? = h.patients[a]?.stage else { return XCTFail("alice is active") }
        secrets.append(BigInt.encodeHex(session.groupKey.withUnsafeBytes { Array($0) }))
        var dumpedSession = ""
        dump(session, to: &dumpedSession)
        let texts = [String(describing: doctorKey), String(reflecting: doctorKey), String(describing: session.groupKey),
                     String(describing: session), String(reflecting: session.keyed), dumpedSession,
                     String(describing: h.doctorLog.filter { if case .send = $0 { return false }; return true }),
                     String(describing: h.patientEvents(a).filter { if case .broadcastReceived = $0 { return false }; return true })]
        for text in texts {
            for secret in secrets { XCTAssertFalse(text.contains(secret), "a secret leaked into \(text.prefix(80))") }
            XCTAssertFalse(text.contains("private text"), "a plaintext leaked")
        }
    }
}

extension PatientSideTests {
    func testMachinesDoNotPrintOrMirrorTheirSecrets() throws {
        var h = try Harness(patients: ["alice"])
        let a = try h.connect("alice")
        h.pump()
        let patient = try XCTUnwrap(h.patients[a])
        guard case let .active(session) = patient.stage else { return XCTFail("alice is active") }
        let secret = BigInt.encodeHex(session.groupKey.withUnsafeBytes { Array($0) })
        var dumped = ""
        dump(patient, to: &dumped)
        dump(h.doctor, to: &dumped)
        for text in [dumped, String(describing: patient), String(reflecting: h.doctor)] {
            XCTAssertFalse(text.contains(secret))
            XCTAssertFalse(text.contains(BigInt.encodeHex(Harness.keyCache.key("doctor").scalarBytes)))
        }
    }

    func testALongNonASCIIDisconnectReasonIsCutOnACharacterBoundary() throws {
        let reason = String(repeating: "ü", count: 200)
        let prefix = reason.utf8Prefix(maxBytes: 256)
        XCTAssertEqual(prefix.count, 256)
        XCTAssertNotNil(UTF8Validation.decode(prefix))
        XCTAssertEqual("aü".utf8Prefix(maxBytes: 2), Array("a".utf8))
    }

    // MARK: - REJECTED against EOF (PatientMachine.frameReceived, PatientMachine.connectionLost)

    /// The doctor refuses an unknown id: the REJECTED frame itself ends the patient's session as
    /// a refusal (and the patient closes); the doctor's close that follows changes nothing.
    func testARejectedFrameEndsTheSessionAsARefusalAndTheCloseAfterItChangesNothing() throws {
        var h = try Harness(patients: ["alice"])
        let z = try h.connect("zoe")
        h.pump()
        XCTAssertEqual(h.rejections.map(\.rule), [.identity])
        XCTAssertEqual(h.patients[z]?.end, .connectionLost(.refusedByDoctor))
        let events = h.patientEvents(z)
        XCTAssertEqual(events, [.ended(.connectionLost(.refusedByDoctor))], "one end, from the REJECTED frame")
        var patient = try XCTUnwrap(h.patients[z])
        XCTAssertEqual(patient.connectionLost(), [], "the EOF after REJECTED is not a second end")
    }

    /// A REJECTED frame at any stage (here an active session) ends it as a refusal, with a close.
    func testARejectedFrameToAnActivePatientEndsItAsARefusal() throws {
        var h = try Harness(patients: ["alice"])
        let a = try h.connect("alice")
        h.pump()
        var patient = try XCTUnwrap(h.patients[a])
        XCTAssertTrue(patient.isActive)
        var rng = SeededRandom(seed: 9)
        let actions = patient.frameReceived(Crafter().codec.encode(.rejected), now: h.now, using: &rng)
        XCTAssertEqual(actions, [.cancelTimer(.handshake), .close, .event(.ended(.connectionLost(.refusedByDoctor)))])
        XCTAssertEqual(patient.end, .connectionLost(.refusedByDoctor))
    }

    /// EOF or a reset with no REJECTED before it is a dropped connection.
    func testEOFWithoutRejectedEndsTheSessionAsDropped() throws {
        var h = try Harness(patients: ["alice"])
        let a = try h.connect("alice")
        h.pump()
        var patient = try XCTUnwrap(h.patients[a])
        XCTAssertEqual(patient.connectionLost(), [.cancelTimer(.handshake), .event(.ended(.connectionLost(.dropped)))])
        XCTAssertEqual(patient.end, .connectionLost(.dropped))
    }
}
