import Foundation
import TelemedTestSupport
import XCTest
@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol

/// Protocol version 2 (PROTOCOL.md §8) through the production machines: the worked example of
/// §8.11 byte for byte (Fixtures/reference/worked-example-v2.json, written by the independent
/// `telemed_ref_v2.py`), negotiation (§8.6), the patient's checks (§8.5) and attacks of §8.8.
final class Version2Tests: XCTestCase {
    typealias Example = WorkedExampleTests.Example
    typealias ScriptedRandom = WorkedExampleTests.ScriptedRandom

    func loadV2() throws -> Example {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/reference/worked-example-v2.json")
        let data = try Data(contentsOf: url)
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw HarnessError(message: "worked-example-v2.json is not an object")
        }
        return Example(json: json)
    }

    static func v2Configurations(minimum: ProtocolVersion = .v2) -> (DoctorConfiguration, PatientConfiguration) {
        var doctor = DoctorConfiguration()
        doctor.minimumVersion = minimum
        var patient = PatientConfiguration()
        patient.version = .v2
        return (doctor, patient)
    }

    // MARK: - §8.11 worked example

    /// Exercises `PatientMachine.connected` / `frameReceived` and `DoctorMachine.frameReceived`
    /// (opcodes 12 and 22, the hedged ephemerals, Z, the v2 SK) against the reference bytes.
    func testTheMachinesReproduceEveryFrameOfTheV2WorkedExample() throws {
        let example = try loadV2()
        let group = TelemedGroup.telemed2048
        let patientKey = try PrivateKey(group: group, scalarBytes: try example.input("x_i"))
        let doctorKey = try PrivateKey(group: group, scalarBytes: try example.input("x_gwn"))
        let patientID = try PeerID("patient1"), doctorID = try PeerID("doctor")
        let (doctorConfiguration, patientConfiguration) = Self.v2Configurations()
        var doctor = try DoctorMachine(configuration: doctorConfiguration, group: group, identity: doctorID,
                                       privateKey: doctorKey, registry: [patientID: patientKey.publicKey])
        var patient = try PatientMachine(configuration: patientConfiguration, identity: patientID,
                                         privateKey: patientKey, doctorID: doctorID, doctorKey: doctorKey.publicKey)
        var rng = ScriptedRandom()
        let connection = ConnectionID(1)
        let source = try XCTUnwrapSource("127.0.0.1")
        func at(_ key: String) throws -> Instant {
            let wall = try example.time(key)
            return Instant(wall: wall, monotonic: wall - 1_764_000_000_000)
        }
        _ = doctor.start(now: Instant(wall: try example.time("ts_i") - 5_000, monotonic: 0))
        _ = doctor.connectionOpened(connection, from: source, now: try at("ts_i"))

        // KEY_VERIFICATION_V2: t, the ElGamal ephemeral, rn_i, k' of a, k' of the signature.
        try rng.pushScalar(try example.input("t"))
        try rng.pushScalar(try example.input("k_enc_i"))
        rng.push(try example.input("rn_i"))
        rng.push(try example.input("kprime_a"))
        rng.push(try example.input("kprime_kv"))
        let request = try XCTUnwrap(sent(patient.connected(now: try at("ts_i"), using: &rng)).first)
        XCTAssertEqual(String(decoding: request, as: UTF8.self),
                       String(decoding: try example.body("KEY_VERIFICATION_V2"), as: UTF8.self))

        // SESSION_TOKEN_V2: u, the doctor's ElGamal ephemeral, rn_gwn, k' of b, k' of the signature.
        try rng.pushScalar(try example.input("u"))
        try rng.pushScalar(try example.input("k_enc_gwn"))
        rng.push(try example.input("rn_gwn"))
        rng.push(try example.input("kprime_b"))
        rng.push(try example.input("kprime_st"))
        let token = try XCTUnwrap(sent(doctor.frameReceived(request, on: connection, now: try at("ts_gwn"), using: &rng)).first)
        XCTAssertEqual(String(decoding: token, as: UTF8.self),
                       String(decoding: try example.body("SESSION_TOKEN_V2"), as: UTF8.self))

        let confirmation = try XCTUnwrap(sent(patient.frameReceived(token, now: try at("ts_kc"), using: &rng)).first)
        XCTAssertEqual(confirmation, try example.body("KEY_CONFIRMATION"))

        rng.push(try example.input("RN_1"))
        _ = doctor.frameReceived(confirmation, on: connection, now: try at("ts_kc"), using: &rng)
        XCTAssertEqual(doctor.sessionVersion(of: patientID), .v2)
        let groupKey = try XCTUnwrap(sent(doctor.timerFired(.epochWindow, now: try at("ts_kc"), using: &rng)).first)
        XCTAssertEqual(groupKey, try example.body("GROUP_KEY"))
        _ = patient.frameReceived(groupKey, now: try at("ts_kc"), using: &rng)
        XCTAssertTrue(patient.isActive)

        rng.push(try example.input("kprime_enc"))
        let text = try XCTUnwrap(example.inputs["broadcast_text"] as? String)
        let broadcast = try XCTUnwrap(sent(try doctor.broadcast(text, now: try at("ts_enc"), using: &rng)).first)
        XCTAssertEqual(broadcast, try example.body("ENC_MSG"))
        let receipt = try XCTUnwrap(sent(patient.frameReceived(broadcast, now: try at("ts_enc"), using: &rng)).first)
        XCTAssertEqual(receipt, try example.body("DEC_MSG"))
        XCTAssertEqual(try XCTUnwrap(sent(patient.leave(reason: "bye")).first), try example.body("DISCONNECT"))
        XCTAssertTrue(rng.exhausted, "every scripted random byte was used, in order")

        // R-FS / R-NOLEAK at the machine level: none of this run's a, b, Z, K, K_GWN or SK (nor
        // t, u) appears in any frame either side sent, in any action or event the hosts saw
        // (what reaches the audit log and the trace), or in a dump of either machine.
        var secrets: [String: [UInt8]] = [:]
        for name in ["a", "b", "Z", "K", "K_GWN", "SK"] { secrets[name] = try example.derivedBytes(name) }
        for name in ["t", "u"] { secrets[name] = try example.input(name) }
        let frames = [request, token, confirmation, groupKey, broadcast, receipt]
        var dumped = ""
        dump(doctor, to: &dumped)
        dump(patient, to: &dumped)
        for (name, bytes) in secrets {
            let hex = bytes.map { String(format: "%02x", $0) }.joined()
            for frame in frames {
                XCTAssertNil(frame.firstRange(of: bytes), "\(name) in a frame")
                XCTAssertFalse(String(decoding: frame, as: UTF8.self).contains(hex), "\(name) as hex in a frame")
            }
            XCTAssertFalse(dumped.contains(hex), "\(name) in a dump of a machine")
            XCTAssertFalse(dumped.contains(BigInt(bigEndian: bytes).description), "\(name) in decimal in a dump")
        }
    }

    /// Exercises `KeySchedule.patientEphemeralContext`, `doctorEphemeralContext`,
    /// `PrivateKey.hedgedEphemeral`, `EphemeralKey.sharedSecret`, `KeySchedule.sessionKeyV2` and
    /// `SignedBytes.keyVerificationV2` / `sessionTokenV2` against every derived value of §8.11.
    func testTheV2KeyScheduleMatchesEveryDerivedValue() throws {
        let example = try loadV2()
        let group = TelemedGroup.telemed2048
        let codec = MessageCodec(groupName: group.name, elementLength: group.elementLength)
        let patientKey = try PrivateKey(group: group, scalarBytes: try example.input("x_i"))
        let doctorKey = try PrivateKey(group: group, scalarBytes: try example.input("x_gwn"))
        guard case let .keyVerificationV2(request) = try codec.decode(try example.body("KEY_VERIFICATION_V2")),
              case let .sessionTokenV2(token) = try codec.decode(try example.body("SESSION_TOKEN_V2")) else {
            return XCTFail("frames of the wrong kind")
        }
        for name in ["KEY_VERIFICATION_V2", "SESSION_TOKEN_V2"] {
            XCTAssertEqual(codec.encode(try codec.decode(try example.body(name))), try example.body(name), "\(name) round-trips")
        }
        let signed1 = SignedBytes.keyVerificationV2(request)
        XCTAssertEqual(signed1, try TestHexBytes(try example.frame("KEY_VERIFICATION_V2")["signed_hex"]))
        let h1 = Hashing.sha256(signed1)
        XCTAssertEqual(h1.bytes, try example.derivedBytes("H_1"))
        let signed2 = SignedBytes.sessionTokenV2(token, requestDigest: h1)
        XCTAssertEqual(signed2, try TestHexBytes(try example.frame("SESSION_TOKEN_V2")["signed_hex"]))
        let h2 = Hashing.sha256(signed2)
        XCTAssertEqual(h2.bytes, try example.derivedBytes("H_2"))

        let ha = KeySchedule.patientEphemeralContext(group: group.name, idI: request.idI, idGWN: request.idGWN,
                                                     tsI: request.tsI, rnI: request.rnI)
        XCTAssertEqual(ha.bytes, try example.derivedBytes("h_a"))
        let hb = KeySchedule.doctorEphemeralContext(group: group.name, idGWN: token.idGWN, idI: token.idI,
                                                    tsGWN: token.tsGWN, rnGWN: token.rnGWN, requestDigest: h1)
        XCTAssertEqual(hb.bytes, try example.derivedBytes("h_b"))
        let a = patientKey.hedgedEphemeral(context: ha, extraEntropy: try example.input("kprime_a"))
        let b = doctorKey.hedgedEphemeral(context: hb, extraEntropy: try example.input("kprime_b"))
        XCTAssertEqual(a.shareBytes, try example.derivedBytes("A"))
        XCTAssertEqual(b.shareBytes, try example.derivedBytes("B"))
        let z1 = a.sharedSecret(with: try DiffieHellmanShare(group: group, bytes: b.shareBytes))
        let z2 = b.sharedSecret(with: try DiffieHellmanShare(group: group, bytes: a.shareBytes))
        XCTAssertEqual(z1, z2)
        XCTAssertEqual(z1.withUnsafeBytes { Array($0) }, try example.derivedBytes("Z"))

        let k = try doctorKey.decryptSecret(ElGamalCiphertext(group: group, c1Bytes: request.c1.bytes, c2Bytes: request.c2.bytes))
        let kGWN = try patientKey.decryptSecret(ElGamalCiphertext(group: group, c1Bytes: token.c1.bytes, c2Bytes: token.c2.bytes))
        XCTAssertEqual(k.withUnsafeBytes { Array($0) }, try example.derivedBytes("K"))
        XCTAssertEqual(kGWN.withUnsafeBytes { Array($0) }, try example.derivedBytes("K_GWN"))
        let sk = KeySchedule.sessionKeyV2(patientElement: k, doctorElement: kGWN, shared: z1, requestDigest: h1, answerDigest: h2)
        XCTAssertEqual(sk.withUnsafeBytes { Array($0) }, try example.derivedBytes("SK"))
        XCTAssertEqual(KeySchedule.sessionKeyVerifier(sessionKey: sk, ts: try example.time("ts_kc")).bytes,
                       try example.derivedBytes("SKV"))
        let keys = KeySchedule.trafficKeys(sessionKey: sk)
        XCTAssertEqual(keys.doctorToPatient.withUnsafeBytes { Array($0) }, try example.derivedBytes("k_d2p"))
        XCTAssertEqual(keys.patientToDoctor.withUnsafeBytes { Array($0) }, try example.derivedBytes("k_p2d"))
        let secret = KeySchedule.groupKeySecret(doctorKey: doctorKey)
        XCTAssertEqual(secret.withUnsafeBytes { Array($0) }, try example.derivedBytes("k_gk"))
        let gk = KeySchedule.groupKey(epoch: 1, nonce: try Bytes32(try example.input("RN_1")),
                                      members: [(request.idI, sk)], secret: secret)
        XCTAssertEqual(gk.withUnsafeBytes { Array($0) }, try example.derivedBytes("GK_1"))

        // Attack 30: both long-term keys give K and K_GWN (above), but SK also needs Z; the v1
        // formula over everything a key thief holds is not this SK.
        let v1Guess = KeySchedule.sessionKey(KeySchedule.HandshakeTranscript(
            patientElement: try example.derivedBytes("K"), doctorElement: try example.derivedBytes("K_GWN"),
            tsI: request.tsI, tsGWN: token.tsGWN, rnI: request.rnI, rnGWN: token.rnGWN, idI: request.idI, idGWN: token.idGWN))
        XCTAssertNotEqual(v1Guess, sk)
        // Attack 29: the v2 signature does not verify over the v1 signed bytes of the same fields.
        let signature = try Signature(group: group, rBytes: request.sigR.bytes, sBytes: request.sigS.bytes)
        XCTAssertTrue(patientKey.publicKey.isValidSignature(signature, for: signed1))
        XCTAssertFalse(patientKey.publicKey.isValidSignature(signature, for: SignedBytes.keyVerification(request.commonFields)))
    }

    /// Exercises `PrivateKey.hedgedEphemeral(context:using:)` with a constant generator
    /// (attack 28): distinct contexts still give distinct ephemerals.
    func testHedgedEphemeralsDifferPerContextEvenWithAConstantGenerator() throws {
        struct Constant: CryptographicRandomNumberGenerator { mutating func next() -> UInt64 { 0x0101_0101_0101_0101 } }
        let key = Harness.keyCache.key("alice")
        var rng = Constant()
        let id = try PeerID("alice"), gwn = try PeerID("doctor")
        var shares = Set<[UInt8]>()
        for i in 0..<20 {
            let context = KeySchedule.patientEphemeralContext(group: key.group.name, idI: id, idGWN: gwn,
                                                              tsI: 1_764_000_000_000 + UInt64(i), rnI: try Bytes32([UInt8](repeating: 7, count: 32)))
            shares.insert(key.hedgedEphemeral(context: context, using: &rng).shareBytes)
        }
        XCTAssertEqual(shares.count, 20)
        XCTAssertTrue("\(key.hedgedEphemeral(context: Hashing.sha256([1]), using: &rng))".contains("<redacted>"))
    }

    // MARK: - Negotiation (§8.6)

    /// Exercises `DoctorMachine.frameReceived` with minimum 2 and a version-1 patient:
    /// R-VERSION, not counted, not in the replay cache (attack 22).
    func testAVersion1PatientIsRefusedByAVersion2MinimumDoctorWithoutCounting() throws {
        var configuration = Harness.immediateEpochs
        configuration.minimumVersion = .v2
        configuration.failureThreshold = 1
        var h = try Harness(patients: ["alice"], configuration: configuration)
        let connection = try h.connect("alice", version: .v1)
        let request = try XCTUnwrap(h.framesFromPatient(connection).first)
        _ = h.pump()
        XCTAssertEqual(h.rejections.map(\.rule), [.version])
        XCTAssertEqual(h.patients[connection]?.end, .connectionLost(.refusedByDoctor))
        XCTAssertEqual(h.jobsRun, 0, "no signature work")
        // Not counted (threshold 1 would have blocked the source), not cached: the same request
        // replayed on a new connection is refused by R-VERSION again, not R-REPLAY or R-BLOCK.
        let again = try h.openRaw(from: "192.0.2.10")
        h.inject(request, on: again)
        _ = h.pump()
        XCTAssertEqual(h.rejections.map(\.rule), [.version, .version])
        // A version-2 patient from the same source logs in.
        let v2 = try h.connect("alice", version: .v2)
        _ = h.pump()
        XCTAssertTrue(h.patients[v2]?.isActive ?? false)
        XCTAssertEqual(h.doctor.sessionVersion(of: try PeerID("alice")), .v2)
    }

    /// Exercises both versions against one minimum-1 doctor (attack 21e): each answered in kind.
    func testAMinimum1DoctorAnswersEachVersionInKind() throws {
        var h = try Harness(patients: ["alice", "bob"])
        XCTAssertEqual(h.doctor.minimumVersion, .v1)
        let old = try h.connect("alice", version: .v1)
        let new = try h.connect("bob", from: "192.0.2.11", version: .v2)
        _ = h.pump()
        XCTAssertTrue(h.patients[old]?.isActive ?? false)
        XCTAssertTrue(h.patients[new]?.isActive ?? false)
        let codec = MessageCodec(groupName: Harness.group.name, elementLength: Harness.group.elementLength)
        XCTAssertEqual(try codec.decode(try XCTUnwrap(h.framesSent(to: old).first)).opcode, .sessionToken)
        XCTAssertEqual(try codec.decode(try XCTUnwrap(h.framesSent(to: new).first)).opcode, .sessionTokenV2)
        XCTAssertEqual(h.doctor.sessionVersion(of: try PeerID("alice")), .v1)
        XCTAssertEqual(h.doctor.sessionVersion(of: try PeerID("bob")), .v2)

        // §8.6.3: raising the minimum ends the v1 session (DISCONNECT "version"), not the v2 one.
        let actions = h.doctor.setMinimumVersion(.v2, now: h.now, using: &h.rng)
        h.applyDoctor(actions)
        _ = h.pump()
        XCTAssertTrue(actions.contains(.event(.patientLeft(try PeerID("alice"), old, reason: .versionRaised))))
        XCTAssertTrue(actions.contains(.event(.minimumVersionChanged(.v2))))
        XCTAssertEqual(h.patients[old]?.end, .disconnectedByDoctor("version"))
        XCTAssertTrue(h.patients[new]?.isActive ?? false)
        XCTAssertEqual(h.doctor.activePatients, [try PeerID("bob")])
    }

    // MARK: - The patient's checks (§8.5)

    /// Exercises `PatientMachine.frameReceived` for a v2 device: a v1 answer (attack 21c) closes
    /// with R-VERSION; the doctor's B replaced by our own A (attack 25a) closes with R-FS; a B
    /// swapped for another element (attack 26) fails the transcript signature.
    func testTheV2PatientRefusesOtherVersionsReflectionAndSwappedShares() throws {
        for attack in ["v1 answer", "reflected A", "swapped B", "B = 1"] {
            var h = try Harness(patients: ["alice"], configuration: Self.v1Minimum)
            let connection = try h.connect("alice", version: .v2)
            let codec = MessageCodec(groupName: Harness.group.name, elementLength: Harness.group.elementLength)
            guard case let .keyVerificationV2(request)? = try? codec.decode(try XCTUnwrap(h.framesFromPatient(connection).first)) else {
                return XCTFail("not a v2 request")
            }
            h.hook = { flight in
                guard flight.direction == .toPatient, case let .sessionTokenV2(token)? = try? codec.decode(flight.body) else { return .deliver }
                var forged = token
                switch attack {
                case "v1 answer":
                    let v1 = SessionToken(group: token.group, idGWN: token.idGWN, idI: token.idI, tsGWN: token.tsGWN,
                                          rnGWN: token.rnGWN, rnI: token.rnI, c1: token.c1, c2: token.c2,
                                          sigR: token.sigR, sigS: token.sigS)
                    return .replace(codec.encode(.sessionToken(v1)))
                case "reflected A": forged.dhGWN = request.dhI
                case "swapped B": forged.dhGWN = request.c1
                default: forged.dhGWN = ElementBytes(bytes: [UInt8](repeating: 0, count: 255) + [1])
                }
                return .replace(codec.encode(.sessionTokenV2(forged)))
            }
            _ = h.pump()
            let expected: RuleID = switch attack {
            case "v1 answer": .version
            case "reflected A": .forwardSecrecy
            default: .transcript
            }
            guard case let .protocolViolation(rule, _)? = h.patients[connection]?.end else {
                return XCTFail("\(attack): the patient did not close on a violation")
            }
            XCTAssertEqual(rule, expected, attack)
            XCTAssertEqual(h.framesFromPatient(connection).count, 1, "\(attack): no KEY_CONFIRMATION")
        }
    }

    /// Exercises the doctor's dh_i check (attacks 23, 24): validly signed requests with A out of
    /// range or outside the subgroup are refused with R-ELEM after the signature, not counted.
    func testTheDoctorRefusesSignedRequestsWithInvalidShares() throws {
        let group = Harness.group
        let p = group.p
        let nonMember: BigInt = {
            var z = BigInt(2)
            while group.isValidElement(z) { z = z + .one }
            return z
        }()
        let shares: [(BigInt, String)] = [(.zero, "range"), (.one, "range"), (p - .one, "range"), (nonMember, "subgroup")]
        for (value, defect) in shares {
            var configuration = Self.v1Minimum
            configuration.failureThreshold = 1
            var h = try Harness(patients: ["alice"], configuration: configuration)
            let key = try XCTUnwrap(h.keys[try PeerID("alice")])
            let connection = try h.openRaw(from: "192.0.2.10")
            let codec = MessageCodec(groupName: group.name, elementLength: group.elementLength)
            var honest = try PatientMachine(configuration: Self.v2Configurations().1, identity: try PeerID("alice"),
                                            privateKey: key, doctorID: Harness.doctorID, doctorKey: h.doctorKey.publicKey)
            let body = try XCTUnwrap(honest.connected(now: h.now, using: &h.rng).compactMap { if case let .send(b) = $0 { return b }; return nil }.first)
            guard case var .keyVerificationV2(request) = try codec.decode(body) else { return XCTFail("not v2") }
            request.dhI = ElementBytes(bytes: try value.bytes(width: group.elementLength))
            let signature = key.sign(SignedBytes.keyVerificationV2(request), using: &h.rng)
            request.sigR = ElementBytes(bytes: signature.rBytes(in: group))
            request.sigS = try Bytes32(signature.sBytes(in: group))
            h.inject(codec.encode(.keyVerificationV2(request)), on: connection)
            _ = h.pump()
            XCTAssertEqual(h.rejections.map(\.rule), [.element], defect)
            XCTAssertTrue(h.rejections.first?.reason.contains(defect == "range" ? "range" : "subgroup") ?? false)
            XCTAssertTrue(h.doctor.activeBlocks(at: h.now.wall).isEmpty, "not counted: threshold 1 would block")
        }
    }

    /// Exercises `PatientMachine.tokenReceivedV2` against transcript mixing (attack 27): two
    /// concurrent handshakes with their answers swapped close at R-ECHO; an answer with the
    /// right rn_i, validly signed by the doctor's key over another request's H_1, closes at
    /// the signature (R-TRANSCRIPT) without KEY_CONFIRMATION.
    func testTranscriptMixingIsRefused() throws {
        let group = Harness.group
        let codec = MessageCodec(groupName: group.name, elementLength: group.elementLength)
        // Two concurrent handshakes of one patient (of two patients the id check, R-ID, comes
        // first in §8.5's order).
        var h = try Harness(patients: ["alice"], configuration: Self.v1Minimum)
        let alice = try h.connect("alice", version: .v2)
        let bob = try h.connect("alice", from: "192.0.2.11", version: .v2)
        // Hold both answers back, then deliver each to the other patient.
        let held = h.pump(holdingBack: { flight in
            flight.direction == .toPatient && (try? codec.decode(flight.body))?.opcode == .sessionTokenV2
        })
        XCTAssertEqual(held.count, 2)
        let aliceAnswer = try XCTUnwrap(held.first { $0.connection == alice }?.body)
        let bobAnswer = try XCTUnwrap(held.first { $0.connection == bob }?.body)
        h.patientInput(on: alice) { patient, now, rng in patient.frameReceived(bobAnswer, now: now, using: &rng) }
        h.patientInput(on: bob) { patient, now, rng in patient.frameReceived(aliceAnswer, now: now, using: &rng) }
        for connection in [alice, bob] {
            guard case let .protocolViolation(rule, _)? = h.patients[connection]?.end else { return XCTFail("not closed") }
            XCTAssertEqual(rule, .echo)
        }

        // The right rn_i, signed by the doctor's own key, but over another request's H_1.
        var g = try Harness(patients: ["carol"], configuration: Self.v1Minimum)
        let carol = try g.connect("carol", version: .v2)
        guard case let .keyVerificationV2(request)? = try? codec.decode(try XCTUnwrap(g.framesFromPatient(carol).first)) else {
            return XCTFail("not a v2 request")
        }
        var other = request
        other.tsI += 1
        let otherDigest = Hashing.sha256(SignedBytes.keyVerificationV2(other))
        let share = g.doctorKey.hedgedEphemeral(context: Hashing.sha256([2]), using: &g.rng)
        var token = SessionTokenV2(
            group: group.name, idGWN: Harness.doctorID, idI: request.idI, tsGWN: g.now.wall,
            rnGWN: Bytes32(random: &g.rng), rnI: request.rnI, c1: request.c1, c2: request.c2,
            dhGWN: ElementBytes(bytes: share.shareBytes), sigR: request.sigR, sigS: request.sigS)
        let signature = g.doctorKey.sign(SignedBytes.sessionTokenV2(token, requestDigest: otherDigest), using: &g.rng)
        token.sigR = ElementBytes(bytes: signature.rBytes(in: group))
        token.sigS = try Bytes32(signature.sBytes(in: group))
        g.hook = { flight in flight.direction == .toPatient ? .replace(codec.encode(.sessionTokenV2(token))) : .deliver }
        _ = g.pump()
        guard case let .protocolViolation(rule, _)? = g.patients[carol]?.end else { return XCTFail("carol not closed") }
        XCTAssertEqual(rule, .transcript)
        XCTAssertEqual(g.framesFromPatient(carol).count, 1, "no KEY_CONFIRMATION")
    }

    static var v1Minimum: DoctorConfiguration {
        var configuration = Harness.immediateEpochs
        configuration.minimumVersion = .v1
        return configuration
    }

    private func sent(_ actions: [DoctorAction]) -> [[UInt8]] {
        actions.compactMap { if case let .send(_, body) = $0 { return body }; return nil }
    }

    private func sent(_ actions: [PatientAction]) -> [[UInt8]] {
        actions.compactMap { if case let .send(body) = $0 { return body }; return nil }
    }
}

private func TestHexBytes(_ value: Any?) throws -> [UInt8] {
    guard let text = value as? String else { throw HarnessError(message: "missing hex") }
    return try TestHex.bytes(text)
}
