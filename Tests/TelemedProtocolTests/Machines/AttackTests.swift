import XCTest
@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol

/// One transcript test per rule and attack of SECURITY-RULES.md that the pure machines see.
final class AttackTests: XCTestCase {
    let crafter = Crafter()

    func lastRule(_ h: Harness) -> RuleID? { h.rejections.last?.rule }

    /// Sends `body` as the first frame of a fresh raw connection from `source`.
    func attempt(_ h: inout Harness, _ body: [UInt8], from source: String = "198.51.100.7") throws -> ConnectionID {
        let connection = try h.openRaw(from: source)
        h.inject(body, on: connection)
        return connection
    }

    func answeredRejected(_ h: Harness, _ connection: ConnectionID) -> Bool {
        h.framesSent(to: connection).last.flatMap { crafter.decode($0) } == .rejected
    }

    // MARK: - Attack 1, R-REPLAY

    func testReplayedKeyVerificationIsRejectedOnceTwiceAndConcurrently() throws {
        var h = try Harness(patients: ["alice"])
        let a = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        let captured = try XCTUnwrap(h.framesFromPatient(a).first)
        let replay1 = try attempt(&h, captured)
        XCTAssertEqual(lastRule(h), .replay)
        XCTAssertTrue(answeredRejected(h, replay1))
        _ = try attempt(&h, captured)
        XCTAssertEqual(lastRule(h), .replay)
        XCTAssertTrue(h.doctor.activePatients.map(\.value) == ["alice"])
    }

    func testConcurrentDuplicatesOfAFreshRequestYieldOneSessionToken() throws {
        var h = try Harness(patients: ["alice"])
        var rng = SeededRandom(seed: 7)
        let request = try crafter.request(claiming: "alice", signer: h.keys[try PeerID("alice")]!, ts: h.now.wall, rng: &rng)
        let body = crafter.encode(request)
        let first = try h.openRaw(from: "192.0.2.1")
        let second = try h.openRaw(from: "192.0.2.2")
        h.inject(body, on: first)
        h.inject(body, on: second)
        XCTAssertEqual(crafter.decode(h.framesSent(to: first)[0])?.opcode, .sessionToken)
        XCTAssertTrue(answeredRejected(h, second))
        XCTAssertEqual(lastRule(h), .replay)
    }

    // MARK: - Attack 2 and 18, R-TIME / R-START

    func testStaleAndFutureTimestampsAreRejectedBeforeSignatureWork() throws {
        var h = try Harness(patients: ["alice"])
        var rng = SeededRandom(seed: 8)
        let key = h.keys[try PeerID("alice")]!
        for ts in [h.now.wall - 31_000, h.now.wall + 31_000] {
            let request = try crafter.request(claiming: "alice", signer: key, ts: ts, rng: &rng)
            _ = try attempt(&h, crafter.encode(request), from: "192.0.2.1")
            XCTAssertEqual(lastRule(h), .time)
        }
    }

    func testRequestsOlderThanTheRecordedStartAreRejected() throws {
        var state = SecurityState()
        state.startTime = 1_764_000_000_000 + 20_000
        var h = try Harness(patients: ["alice"], state: state)
        var rng = SeededRandom(seed: 9)
        let request = try crafter.request(claiming: "alice", signer: h.keys[try PeerID("alice")]!, ts: h.now.wall, rng: &rng)
        _ = try attempt(&h, crafter.encode(request), from: "192.0.2.1")
        XCTAssertEqual(lastRule(h), .start)
    }

    func testADoctorClockFarBehindItsStartRefusesEveryConnectionAndAlertsOnce() throws {
        var state = SecurityState()
        state.startTime = 1_764_000_000_000 + 3_600_000
        var h = try Harness(patients: ["alice"], state: state)
        _ = try h.openRaw(from: "192.0.2.1")
        _ = try h.openRaw(from: "192.0.2.2")
        XCTAssertEqual(h.rejections.map(\.rule), [.start, .start])
        let alerts = h.doctorEvents.filter { if case .alert(.clockBehindStart) = $0 { return true }; return false }
        XCTAssertEqual(alerts.count, 1)
        XCTAssertTrue(h.doctor.securityState.failures.isEmpty, "nothing is counted while the clock is behind")
    }

    // MARK: - Attack 3, 4, 8, R-SIG / R-ID

    func testForgedSignatureShapesAreRejectedWithoutATrap() throws {
        var h = try Harness(patients: ["alice"])
        var rng = SeededRandom(seed: 10)
        let group = Harness.group
        let valid = try crafter.request(claiming: "alice", signer: h.keys[try PeerID("alice")]!, ts: h.now.wall, rng: &rng)
        let rs: [(BigInt, BigInt)] = [
            (BigInt(0), BigInt(1)), (BigInt(1), BigInt(1)), (group.p - BigInt(1), BigInt(1)),
            (BigInt(2), BigInt(0)), (BigInt(2), group.q),
            (try BigInt.random(below: group.p, using: &rng), try BigInt.random(below: group.q, using: &rng)),
        ]
        for (index, (r, s)) in rs.enumerated() {
            let forged = crafter.withSignature(valid, r: crafter.element(r), s: .unchecked(try s.bytes(width: 32)))
            _ = try attempt(&h, crafter.encode(forged), from: "203.0.113.\(index + 1)")
            XCTAssertEqual(lastRule(h), .signature, "shape \(index)")
        }
        // r = p does not even fit the element range: the JSON still decodes (L bytes), the
        // signature check refuses it.
        let tooBig = crafter.withSignature(valid, r: crafter.element(group.p), s: .unchecked(try BigInt(1).bytes(width: 32)))
        _ = try attempt(&h, crafter.encode(tooBig), from: "203.0.113.99")
        XCTAssertEqual(lastRule(h), .signature)
        // A valid signature over other bytes.
        let other = try crafter.request(claiming: "alice", signer: h.keys[try PeerID("alice")]!, ts: h.now.wall,
                                        rng: &rng, signOver: { $0 + [0] })
        _ = try attempt(&h, crafter.encode(other), from: "203.0.113.100")
        XCTAssertEqual(lastRule(h), .signature)
    }

    func testIdentitySwapAndEditedIDAreRejected() throws {
        var h = try Harness(patients: ["alice", "bob"])
        var rng = SeededRandom(seed: 11)
        let bobSigned = try crafter.request(claiming: "alice", signer: h.keys[try PeerID("bob")]!, ts: h.now.wall, rng: &rng)
        _ = try attempt(&h, crafter.encode(bobSigned), from: "192.0.2.20")
        XCTAssertEqual(lastRule(h), .signature)
        let bobOwn = try crafter.request(claiming: "bob", signer: h.keys[try PeerID("bob")]!, ts: h.now.wall, rng: &rng)
        _ = try attempt(&h, crafter.encode(try crafter.withID(bobOwn, "alice")), from: "192.0.2.21")
        XCTAssertEqual(lastRule(h), .signature)
    }

    func testUnknownIDGetsTheSameAnswerAsABadSignature() throws {
        var h = try Harness(patients: ["alice"])
        var rng = SeededRandom(seed: 12)
        let mallory = Harness.keyCache.key("mallory")
        let unknown = try crafter.request(claiming: "mallory", signer: mallory, ts: h.now.wall, rng: &rng)
        let c1 = try attempt(&h, crafter.encode(unknown), from: "192.0.2.30")
        XCTAssertEqual(lastRule(h), .identity)
        let badSig = try crafter.request(claiming: "alice", signer: mallory, ts: h.now.wall, rng: &rng)
        let c2 = try attempt(&h, crafter.encode(badSig), from: "192.0.2.31")
        XCTAssertEqual(lastRule(h), .signature)
        XCTAssertEqual(h.framesSent(to: c1), h.framesSent(to: c2), "the peer cannot tell the two apart")
    }

    // MARK: - Attack 5, R-GROUP

    func testARequestForAnotherGroupIsRejected() throws {
        var h = try Harness(patients: ["alice"])
        var rng = SeededRandom(seed: 13)
        let request = try crafter.request(claiming: "alice", signer: h.keys[try PeerID("alice")]!, ts: h.now.wall,
                                          groupName: "telemed-3072-256", rng: &rng)
        _ = try attempt(&h, crafter.encode(request), from: "192.0.2.40")
        XCTAssertEqual(lastRule(h), .group)
    }

    // MARK: - R-ELEM and attack 19, R-ORACLE

    func testInvalidCiphertextElementsInASignedRequestAreRejected() throws {
        var h = try Harness(patients: ["alice"])
        var rng = SeededRandom(seed: 14)
        let key = h.keys[try PeerID("alice")]!
        for bad in [BigInt(1), Harness.group.p - BigInt(1), BigInt(0)] {
            let request = try crafter.request(claiming: "alice", signer: key, ts: h.now.wall, c1: crafter.element(bad), rng: &rng)
            _ = try attempt(&h, crafter.encode(request), from: "192.0.2.50")
            XCTAssertEqual(lastRule(h), .element)
        }
        XCTAssertTrue(h.doctor.securityState.failures.isEmpty, "failures after a verified signature do not count")
    }

    func testATransplantedCiphertextRevealsNothingOfTheVictimsKey() throws {
        var h = try Harness(patients: ["alice", "bob"])
        let b = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        let bobRequest = try XCTUnwrap(crafter.decode(h.framesFromPatient(b)[0]))
        guard case let .keyVerification(captured) = bobRequest else { return XCTFail("not a request") }
        var rng = SeededRandom(seed: 15)
        let alice = h.keys[try PeerID("alice")]!
        let request = try crafter.request(claiming: "alice", signer: alice, ts: h.now.wall, c1: captured.c1, c2: captured.c2, rng: &rng)
        let connection = try attempt(&h, crafter.encode(request), from: "192.0.2.1")
        guard case let .sessionToken(token)? = crafter.decode(h.framesSent(to: connection)[0]) else {
            return XCTFail("the doctor answers a valid request")
        }
        // What alice can decrypt is the doctor's own fresh K_GWN, not bob's K.
        let ciphertext = try ElGamalCiphertext(group: Harness.group, c1Bytes: token.c1.bytes, c2Bytes: token.c2.bytes)
        let revealed = try alice.decrypt(ciphertext)
        let bobK = try Harness.keyCache.key("doctor").decrypt(
            try ElGamalCiphertext(group: Harness.group, c1Bytes: captured.c1.bytes, c2Bytes: captured.c2.bytes))
        XCTAssertNotEqual(revealed, bobK)
        XCTAssertNotEqual(token.c1, captured.c1)
    }

    // MARK: - Attack 11, R-SKV / R-BLOCK

    func testWrongSKVBlocksTheDeviceOnlyFromThatSource() throws {
        var h = try Harness(patients: ["alice"])
        h.hook = { flight in
            guard flight.direction == .toDoctor, case let .keyConfirmation(kc)? = Crafter().decode(flight.body) else { return .deliver }
            var skv = kc.skv.bytes
            skv[0] ^= 1
            let forged = KeyConfirmation(idI: kc.idI, ts: kc.ts, skv: .unchecked(skv))
            return .replace(Crafter().codec.encode(.keyConfirmation(forged)))
        }
        let a = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        XCTAssertEqual(lastRule(h), .skv)
        XCTAssertEqual(h.patients[a]?.isActive, false)
        let device = DeviceKey(patient: try PeerID("alice"), source: try XCTUnwrapSource("192.0.2.1"))
        XCTAssertEqual(h.doctor.deviceBlock(device, at: h.now.wall), h.now.wall + 24 * 3_600_000)
        h.hook = nil
        _ = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        XCTAssertEqual(lastRule(h), .block)
        // A far-future request from the blocked device is refused by R-TIME and lifts nothing.
        var rng = SeededRandom(seed: 16)
        let future = try crafter.request(claiming: "alice", signer: h.keys[try PeerID("alice")]!,
                                         ts: h.now.wall + 48 * 3_600_000, rng: &rng)
        _ = try attempt(&h, crafter.encode(future), from: "192.0.2.1")
        XCTAssertEqual(lastRule(h), .time)
        XCTAssertNotNil(h.doctor.deviceBlock(device, at: h.now.wall))
        // The same patient from another source is not blocked.
        let elsewhere = try h.connect("alice", from: "192.0.2.99")
        h.pump()
        XCTAssertEqual(h.patients[elsewhere]?.isActive, true)
        // The block survives a restart (the state value is handed to a new machine).
        var restarted = try Harness(patients: ["alice"], state: h.doctor.securityState, start: h.now.wall + 1_000)
        _ = try restarted.connect("alice", from: "192.0.2.1")
        restarted.pump()
        XCTAssertEqual(restarted.rejections.last?.rule, .block)
        // It expires on the doctor's clock.
        restarted.advance(by: 24 * 3_600_000)
        let later = try restarted.connect("alice", from: "192.0.2.1")
        restarted.pump()
        XCTAssertEqual(restarted.patients[later]?.isActive, true)
    }

    // MARK: - Attack 9 and 10, R-SRC

    func testRepeatedBadLoginsBlockTheSourceFor24Hours() throws {
        var h = try Harness(patients: ["alice"])
        for _ in 0..<5 { _ = try attempt(&h, Array("not json".utf8), from: "198.51.100.7") }
        XCTAssertEqual(h.rejections.map(\.rule), Array(repeating: .frame, count: 5))
        let source = try XCTUnwrapSource("198.51.100.7")
        XCTAssertEqual(h.doctor.sourceBlock(source, at: h.now.wall), h.now.wall + 24 * 3_600_000)
        _ = try h.connect("alice", from: "198.51.100.7")
        h.pump()
        XCTAssertEqual(lastRule(h), .block)
        h.advance(by: 24 * 3_600_000)
        let ok = try h.connect("alice", from: "198.51.100.7")
        h.pump()
        XCTAssertEqual(h.patients[ok]?.isActive, true)
    }

    func testLockoutAsDenialOfServiceFails() throws {
        var h = try Harness(patients: ["alice"])
        var rng = SeededRandom(seed: 17)
        let mallory = Harness.keyCache.key("mallory")
        let bad = crafter.encode(try crafter.request(claiming: "alice", signer: mallory, ts: h.now.wall, rng: &rng))
        for _ in 0..<1_000 { _ = try attempt(&h, bad, from: "203.0.113.66") }
        let a = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        XCTAssertEqual(h.patients[a]?.isActive, true, "bad requests claiming alice never lock alice out")
        XCTAssertNotNil(h.doctor.sourceBlock(try XCTUnwrapSource("203.0.113.66"), at: h.now.wall))
    }

    // MARK: - Attacks 12 and 16, R-STATE

    func testOutOfOrderAndReflectedMessagesAreRejected() throws {
        var h = try Harness(patients: ["alice"])
        let a = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        let token = try XCTUnwrap(h.framesSent(to: a).first)
        let confirmation = try XCTUnwrap(h.framesFromPatient(a).dropFirst().first)
        _ = try attempt(&h, token, from: "192.0.2.60")
        XCTAssertEqual(lastRule(h), .state)
        _ = try attempt(&h, confirmation, from: "192.0.2.61")
        XCTAssertEqual(lastRule(h), .state)
        _ = try attempt(&h, Array(#"{"opcode":70}"#.utf8), from: "192.0.2.62")
        XCTAssertEqual(lastRule(h), .state)
        _ = try attempt(&h, Array(#"{"opcode":99}"#.utf8), from: "192.0.2.63")
        XCTAssertEqual(lastRule(h), .frame)
    }

    func testAStalledHandshakeIsDroppedAndCounted() throws {
        var h = try Harness(patients: ["alice"])
        let connection = try h.openRaw(from: "198.51.100.9")
        h.advance(by: 10_000)
        h.fireDueTimers()
        XCTAssertEqual(lastRule(h), .state)
        XCTAssertTrue(answeredRejected(h, connection))
        XCTAssertEqual(h.doctor.securityState.failures[try XCTUnwrapSource("198.51.100.9")]?.count, 1)
    }

    // MARK: - Attack 6 and 13/15, R-AEAD / R-BCAST / R-EPOCH

    func testATamperedGroupKeyClosesThePatient() throws {
        var h = try Harness(patients: ["alice"])
        h.hook = { flight in
            guard flight.direction == .toPatient, case let .groupKey(gk)? = Crafter().decode(flight.body) else { return .deliver }
            var ct = gk.ct
            ct[ct.count - 1] ^= 0x80
            return .replace(Crafter().codec.encode(.groupKey(GroupKeyMessage(epoch: gk.epoch, seq: gk.seq, members: gk.members, ct: ct))))
        }
        let a = try h.connect("alice")
        h.pump()
        XCTAssertEqual(h.patients[a]?.end, .protocolViolation(.aead, "GROUP_KEY does not open under k_d2p"))
    }

    func testATamperedReceiptIsARejectionAndALeave() throws {
        var h = try Harness(patients: ["alice", "bob"])
        let a = try h.connect("alice", from: "192.0.2.1")
        _ = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        h.hook = { flight in
            guard flight.direction == .toDoctor, flight.connection == a,
                  case let .decMsg(receipt)? = Crafter().decode(flight.body) else { return .deliver }
            var ct = receipt.ct
            ct[0] ^= 1
            return .replace(Crafter().codec.encode(.decMsg(ReceiptMessage(idI: receipt.idI, seq: receipt.seq, ct: ct))))
        }
        try h.broadcast("x")
        h.pump()
        XCTAssertEqual(lastRule(h), .aead)
        XCTAssertEqual(h.doctor.activePatients.map(\.value), ["bob"])
    }

    func testReplayedAndOldBroadcastsAreDropped() throws {
        var h = try Harness(patients: ["alice"])
        let a = try h.connect("alice")
        h.pump()
        try h.broadcast("one")
        h.pump()
        let captured = try XCTUnwrap(h.framesSent(to: a).last)
        h.deliver(Harness.Flight(connection: a, direction: .toPatient, body: captured))
        XCTAssertEqual(h.received(a), ["one"])
        XCTAssertTrue(h.patientEvents(a).contains { if case .dropped(.broadcast, _) = $0 { return true }; return false })
        h.applyDoctor(try h.doctor.rekey(now: h.now, using: &h.rng))
        h.pump()
        h.deliver(Harness.Flight(connection: a, direction: .toPatient, body: captured))
        XCTAssertTrue(h.patientEvents(a).contains { if case .dropped(.epoch, _) = $0 { return true }; return false })
        XCTAssertTrue(h.patients[a]?.isActive ?? false)
    }

    func testAPatientHoldingGKCannotForgeABroadcast() throws {
        var h = try Harness(patients: ["alice", "bob"])
        let a = try h.connect("alice", from: "192.0.2.1")
        let b = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        guard case let .active(session)? = h.patients[b].map(\.stage) else { return XCTFail("bob is active") }
        let doctorID = Harness.doctorID
        let epoch = session.epoch
        let ts = h.now.wall
        let aad = AssociatedData.broadcast(idGWN: doctorID, epoch: epoch, seq: 0, ts: ts)
        var sealing = SealingKey(session.groupKey)
        let (seq, ct) = sealing.seal(Array("forged".utf8)) { _ in aad }
        XCTAssertEqual(seq, 0)
        let signed = SignedBytes.broadcast(group: Harness.group.name, idGWN: doctorID, epoch: epoch, seq: 0, ts: ts, ct: ct)
        let signature = h.keys[try PeerID("bob")]!.sign(signed, using: &h.rng)
        let forged = BroadcastMessage(epoch: epoch, seq: 0, ts: ts, ct: ct,
                                      sigR: ElementBytes(bytes: signature.rBytes(in: Harness.group)),
                                      sigS: .unchecked(signature.sBytes(in: Harness.group)))
        h.deliver(Harness.Flight(connection: a, direction: .toPatient, body: Crafter().codec.encode(.encMsg(forged))))
        XCTAssertEqual(h.received(a), [])
        XCTAssertEqual(h.patients[a]?.end, .protocolViolation(.broadcast, "broadcast signature does not verify under the pinned key"))
    }

    // MARK: - Attack 20 and 17, R-LIMIT

    func testOneSourceCannotHoldMoreThanItsPendingHandshakes() throws {
        var h = try Harness(patients: ["alice"])
        for _ in 0..<4 { _ = try h.openRaw(from: "198.51.100.50") }
        XCTAssertTrue(h.rejections.isEmpty)
        _ = try h.openRaw(from: "198.51.100.50")
        XCTAssertEqual(lastRule(h), .limit)
        let a = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        XCTAssertEqual(h.patients[a]?.isActive, true)
    }
}
