import enum TelemedTransport.Framing
import Foundation
import TelemedTestSupport
import XCTest
import TelemedCrypto
@testable import TelemedProtocol

/// Replays the worked example of the spec (Fixtures/reference/worked-example.json, made by the
/// independent Python reference) through the real machines: with its fixed clock readings
/// and its fixed random inputs fed through a scripted generator, every frame the doctor and
/// the patient emit must equal the reference bytes, and every derived key must match.
final class WorkedExampleTests: XCTestCase {
    struct Example {
        let json: [String: Any]
        var inputs: [String: Any] { json["inputs"] as? [String: Any] ?? [:] }
        var derived: [String: Any] { json["derived"] as? [String: Any] ?? [:] }
        var frames: [[String: Any]] { json["frames"] as? [[String: Any]] ?? [] }

        func hex(_ key: String, in table: [String: Any]) throws -> [UInt8] {
            guard let text = table[key] as? String else { throw HarnessError(message: "missing \(key)") }
            return try TestHex.bytes(text)
        }
        func input(_ key: String) throws -> [UInt8] { try hex(key, in: inputs) }
        func derivedBytes(_ key: String) throws -> [UInt8] { try hex(key, in: derived) }
        func time(_ key: String) throws -> UInt64 {
            guard let value = inputs[key] as? NSNumber else { throw HarnessError(message: "missing \(key)") }
            return value.uint64Value
        }
        func frame(_ name: String) throws -> [String: Any] {
            guard let frame = frames.first(where: { $0["name"] as? String == name }) else {
                throw HarnessError(message: "missing frame \(name)")
            }
            return frame
        }
        func body(_ name: String) throws -> [UInt8] {
            guard let text = try frame(name)["json"] as? String else { throw HarnessError(message: "no json for \(name)") }
            return Array(text.utf8)
        }
    }

    /// Yields exactly the bytes it was given, 8 per word, little-endian (the order in which
    /// `RandomNumberGenerator.bytes(_:)` and `BigInt.random` read words). It claims the
    /// cryptographic marker only so that the machines accept it: the worked example's
    /// "random" inputs are published constants.
    struct ScriptedRandom: CryptographicRandomNumberGenerator {
        var bytes: [UInt8] = []
        var cursor = 0
        mutating func push(_ more: [UInt8]) { bytes += more }
        /// A scalar drawn by `randomScalar` (1 + a draw below q − 1).
        mutating func pushScalar(_ value: [UInt8]) throws {
            let minusOne = BigInt(bigEndian: value) - .one
            push(try minusOne.bytes(width: 32))
        }
        mutating func next() -> UInt64 {
            precondition(cursor + 8 <= bytes.count, "the worked example drew more randomness than scripted")
            var word: UInt64 = 0
            for index in 0..<8 { word |= UInt64(bytes[cursor + index]) << (8 * UInt64(index)) }
            cursor += 8
            return word
        }
        var exhausted: Bool { cursor == bytes.count }
    }

    func load() throws -> Example {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/reference/worked-example.json")
        let data = try Data(contentsOf: url)
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw HarnessError(message: "worked-example.json is not an object")
        }
        return Example(json: json)
    }

    func testTheMachinesReproduceEveryFrameOfTheWorkedExample() throws {
        let example = try load()
        let group = TelemedGroup.telemed2048
        let patientKey = try PrivateKey(group: group, scalarBytes: try example.input("x_i"))
        let doctorKey = try PrivateKey(group: group, scalarBytes: try example.input("x_gwn"))
        XCTAssertEqual(patientKey.publicKey.bytes, try example.derivedBytes("y_i"))
        XCTAssertEqual(doctorKey.publicKey.bytes, try example.derivedBytes("y_gwn"))
        let patientID = try PeerID("patient1")
        let doctorID = try PeerID("doctor")

        // The v1 example: a doctor with minimum version 1 and a version-1 device (PROTOCOL.md §8.6).
        var doctorConfiguration = DoctorConfiguration()
        doctorConfiguration.minimumVersion = .v1
        var patientConfiguration = PatientConfiguration()
        patientConfiguration.version = .v1
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

        // KEY_VERIFICATION: t, the ElGamal ephemeral, rn_i, then the signature's k'.
        try rng.pushScalar(try example.input("t"))
        try rng.pushScalar(try example.input("k_enc_i"))
        rng.push(try example.input("rn_i"))
        rng.push(try example.input("kprime_kv"))
        let request = try XCTUnwrap(sent(patient.connected(now: try at("ts_i"), using: &rng)).first)
        XCTAssertEqual(String(decoding: request, as: UTF8.self), String(decoding: try example.body("KEY_VERIFICATION"), as: UTF8.self))

        // SESSION_TOKEN: u, the doctor's ephemeral, rn_gwn, k'.
        try rng.pushScalar(try example.input("u"))
        try rng.pushScalar(try example.input("k_enc_gwn"))
        rng.push(try example.input("rn_gwn"))
        rng.push(try example.input("kprime_st"))
        let token = try XCTUnwrap(sent(doctor.frameReceived(request, on: connection, now: try at("ts_gwn"), using: &rng)).first)
        XCTAssertEqual(token, try example.body("SESSION_TOKEN"))

        // KEY_CONFIRMATION needs no randomness.
        let confirmation = try XCTUnwrap(sent(patient.frameReceived(token, now: try at("ts_kc"), using: &rng)).first)
        XCTAssertEqual(confirmation, try example.body("KEY_CONFIRMATION"))

        // GROUP_KEY: RN_1. With the default epoch window (§7.1) the join opens a pending epoch;
        // it starts when the window's timer fires (a GROUP_KEY carries no time, so its bytes do
        // not depend on when).
        rng.push(try example.input("RN_1"))
        let joined = doctor.frameReceived(confirmation, on: connection, now: try at("ts_kc"), using: &rng)
        XCTAssertTrue(sent(joined).isEmpty, "nothing before the epoch window ends")
        XCTAssertTrue(joined.contains(.scheduleTimer(.epochWindow, afterMillis: 20)))
        let windowEnded = doctor.timerFired(.epochWindow, now: try at("ts_kc"), using: &rng)
        let groupKey = try XCTUnwrap(sent(windowEnded).first)
        XCTAssertEqual(groupKey, try example.body("GROUP_KEY"))
        _ = patient.frameReceived(groupKey, now: try at("ts_kc"), using: &rng)
        XCTAssertTrue(patient.isActive)

        // ENC_MSG: k'; then the patient's DEC_MSG and its DISCONNECT.
        rng.push(try example.input("kprime_enc"))
        let text = try XCTUnwrap(example.inputs["broadcast_text"] as? String)
        let broadcast = try XCTUnwrap(sent(try doctor.broadcast(text, now: try at("ts_enc"), using: &rng)).first)
        XCTAssertEqual(broadcast, try example.body("ENC_MSG"))
        let receiptActions = patient.frameReceived(broadcast, now: try at("ts_enc"), using: &rng)
        XCTAssertTrue(receiptActions.contains(.event(.broadcastReceived(epoch: 1, seq: 0, ts: try example.time("ts_enc"), text: text))))
        let receipt = try XCTUnwrap(sent(receiptActions).first)
        XCTAssertEqual(receipt, try example.body("DEC_MSG"))
        let disconnect = try XCTUnwrap(sent(patient.leave(reason: "bye")).first)
        XCTAssertEqual(disconnect, try example.body("DISCONNECT"))
        XCTAssertEqual(MessageCodec(groupName: group.name, elementLength: 256).encode(.rejected), try example.body("REJECTED"))
        XCTAssertTrue(rng.exhausted, "every scripted random byte was used, in order")

        // The doctor accepts the receipt and the leave.
        let receiptEvents = doctor.frameReceived(receipt, on: connection, now: try at("ts_enc"), using: &rng)
        XCTAssertEqual(receiptEvents, [.event(.receipt(patientID, epoch: 1, seq: 0, known: true))])
        let leaveActions = doctor.frameReceived(disconnect, on: connection, now: try at("ts_enc"), using: &rng)
        XCTAssertTrue(leaveActions.contains(.event(.patientLeft(patientID, connection, reason: .disconnected))))
    }

    func testTheKeyScheduleMatchesTheDerivedValues() throws {
        let example = try load()
        let group = TelemedGroup.telemed2048
        let transcript = KeySchedule.HandshakeTranscript(
            patientElement: try example.derivedBytes("K"), doctorElement: try example.derivedBytes("K_GWN"),
            tsI: try example.time("ts_i"), tsGWN: try example.time("ts_gwn"),
            rnI: try Bytes32(try example.input("rn_i")), rnGWN: try Bytes32(try example.input("rn_gwn")),
            idI: try PeerID("patient1"), idGWN: try PeerID("doctor"))
        let sk = KeySchedule.sessionKey(transcript)
        XCTAssertEqual(sk.withUnsafeBytes { Array($0) }, try example.derivedBytes("SK"))
        XCTAssertEqual(KeySchedule.sessionKeyVerifier(sessionKey: sk, ts: try example.time("ts_kc")).bytes,
                       try example.derivedBytes("SKV"))
        let keys = KeySchedule.trafficKeys(sessionKey: sk)
        XCTAssertEqual(keys.doctorToPatient.withUnsafeBytes { Array($0) }, try example.derivedBytes("k_d2p"))
        XCTAssertEqual(keys.patientToDoctor.withUnsafeBytes { Array($0) }, try example.derivedBytes("k_p2d"))
        let doctorKey = try PrivateKey(group: group, scalarBytes: try example.input("x_gwn"))
        let secret = KeySchedule.groupKeySecret(doctorKey: doctorKey)
        XCTAssertEqual(secret.withUnsafeBytes { Array($0) }, try example.derivedBytes("k_gk"))
        let gk = KeySchedule.groupKey(epoch: 1, nonce: try Bytes32(try example.input("RN_1")),
                                      members: [(try PeerID("patient1"), sk)], secret: secret)
        XCTAssertEqual(gk.withUnsafeBytes { Array($0) }, try example.derivedBytes("GK_1"))
        let skv = try Bytes32(try example.derivedBytes("SKV"))
        XCTAssertTrue(KeySchedule.verifiesSessionKey(skv, sessionKey: sk, ts: try example.time("ts_kc")))
        XCTAssertFalse(KeySchedule.verifiesSessionKey(skv, sessionKey: sk, ts: try example.time("ts_kc") + 1))
    }

    func testSignedAndAssociatedBytesMatchTheReference() throws {
        let example = try load()
        let codec = MessageCodec(groupName: "telemed-2048-256", elementLength: 256)
        for name in ["KEY_VERIFICATION", "SESSION_TOKEN", "GROUP_KEY", "ENC_MSG", "DEC_MSG", "DISCONNECT"] {
            let frame = try example.frame(name)
            let message = try codec.decode(try example.body(name))
            XCTAssertEqual(codec.encode(message), try example.body(name), "\(name) round-trips byte for byte")
            let frameHex = try XCTUnwrap(frame["frame_hex"] as? String)
            XCTAssertEqual(Framing.frame(try example.body(name)), try TestHex.bytes(frameHex), name)
            let signed = (frame["signed_hex"] as? String).map { try? TestHex.bytes($0) } ?? nil
            let aad = (frame["aad_hex"] as? String).map { try? TestHex.bytes($0) } ?? nil
            let doctor = try PeerID("doctor"), patient = try PeerID("patient1")
            switch message {
            case let .keyVerification(m): XCTAssertEqual(SignedBytes.keyVerification(m), signed)
            case let .sessionToken(m): XCTAssertEqual(SignedBytes.sessionToken(m), signed)
            case let .groupKey(m):
                XCTAssertEqual(AssociatedData.groupKey(idGWN: doctor, idI: patient, epoch: m.epoch, seq: m.seq, members: m.members), aad)
            case let .encMsg(m):
                XCTAssertEqual(AssociatedData.broadcast(idGWN: doctor, epoch: m.epoch, seq: m.seq, ts: m.ts), aad)
                XCTAssertEqual(SignedBytes.broadcast(group: "telemed-2048-256", idGWN: doctor, epoch: m.epoch, seq: m.seq, ts: m.ts, ct: m.ct), signed)
            case let .decMsg(m): XCTAssertEqual(AssociatedData.receipt(idI: patient, idGWN: doctor, seq: m.seq), aad)
            case let .disconnect(m): XCTAssertEqual(AssociatedData.disconnect(sender: patient, receiver: doctor, seq: m.seq), aad)
            default: XCTFail("unexpected \(name)")
            }
        }
    }

    private func sent(_ actions: [DoctorAction]) -> [[UInt8]] {
        actions.compactMap { if case let .send(_, body) = $0 { return body }; return nil }
    }

    private func sent(_ actions: [PatientAction]) -> [[UInt8]] {
        actions.compactMap { if case let .send(body) = $0 { return body }; return nil }
    }
}
