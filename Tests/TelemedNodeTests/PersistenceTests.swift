import Foundation
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport
import XCTest

/// Blocks survive a doctor restart on the same state directory and expire only on the
/// doctor's clock; the audit log keeps its rows; key files are owner-only and a bad one is
/// named in the error.
final class PersistenceTests: XCTestCase {
    private let codec = MessageCodec(groupName: TestKeys.group.name, elementLength: TestKeys.group.elementLength)

    /// Drives a handshake for alice from 10.0.0.66 and answers the SESSION_TOKEN with a wrong
    /// SKV: the doctor blocks the device (alice, 10.0.0.66).
    private func wrongConfirmation(_ cluster: InMemoryCluster) throws {
        let attacker = cluster.network.addEndpoint(named: "mallory-\(UUID().uuidString)", host: "10.0.0.66")
        let connection = attacker.connect(to: cluster.listenAddress)
        cluster.run()
        var rng = SeededRandom(seed: 9)
        var patient = try PatientMachine(configuration: PatientConfiguration(), identity: TestKeys.id("alice"),
                                         privateKey: TestKeys.key("alice"), doctorID: TestKeys.id("doctor"),
                                         doctorKey: TestKeys.key("doctor").publicKey)
        for case let .send(body) in patient.connected(now: cluster.clock.now(), using: &rng) {
            attacker.send(body, on: connection)
        }
        cluster.run()
        let answer = cluster.frames(for: attacker)
        guard let token = answer.first, case .sessionTokenV2 = try codec.decode(token) else {
            return XCTFail("expected a SESSION_TOKEN_V2 (both sides at the default, version 2)")
        }
        let wrong = KeyConfirmation(idI: TestKeys.id("alice"), ts: cluster.clock.now().wall, skv: Bytes32(random: &rng))
        attacker.send(codec.encode(.keyConfirmation(wrong)), on: connection)
        cluster.run()
    }

    func testDeviceBlockSurvivesRestartAndExpiresOnTheDoctorsClock() throws {
        let directory = try temporaryDirectory("persist")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/doctor.sqlite"
        let device = DeviceKey(patient: TestKeys.id("alice"), source: try XCTUnwrap(SourceAddress(ipText: "10.0.0.66")))

        let firstClock: Instant
        do {
            let first = try InMemoryCluster(enrolling: ["alice"], store: try SecurityStore(path: path))
            try wrongConfirmation(first)
            firstClock = first.clock.now()
            XCTAssertNotNil(first.doctor.machine.deviceBlock(device, at: firstClock.wall))
            // The first doctor is dropped here without any orderly shutdown.
        }

        // A new doctor on the same file, one hour later on its wall clock.
        let store = try SecurityStore(path: path)
        let second = try InMemoryCluster(enrolling: ["alice"], store: store)
        second.clock.advance(millis: firstClock.wall - second.clock.now().wall + 3_600_000)
        try second.doctor.start()
        let later = second.clock.now().wall
        let until = try XCTUnwrap(second.doctor.machine.deviceBlock(device, at: later), "the block was lost")
        XCTAssertEqual(until, firstClock.wall + 24 * 3_600_000)
        XCTAssertGreaterThanOrEqual(second.doctor.machine.startTime, later)

        // The blocked device is refused at once; alice from her own source still gets in.
        try wrongConfirmationIsRefused(second)
        try second.connect("alice", host: "10.0.0.7")
        XCTAssertEqual(second.doctor.machine.activePatients.map(\.value), ["alice"])

        // Only the doctor's clock lifts it: 24 h after it was set, it is gone.
        second.clock.advance(millis: 23 * 3_600_000 + 1)
        XCTAssertNil(second.doctor.machine.deviceBlock(device, at: second.clock.now().wall))

        // The audit log (same file) kept every row of both runs.
        let audit = AuditLog(store: store)
        XCTAssertEqual(try audit.rows(kind: .start).count, 3)   // two clusters, plus the explicit restart
        let skv = try audit.rows(kind: .authFailure).filter { $0.rule == "R-SKV" }
        XCTAssertEqual(skv.count, 1)
        XCTAssertEqual(skv.first?.patient, "alice")
        XCTAssertEqual(skv.first?.source, "10.0.0.66")
        let blockRows = try audit.rows(kind: .block)
        XCTAssertEqual(blockRows.map(\.rule), ["R-SKV"])
        XCTAssertEqual(blockRows.first?.source, "device alice@10.0.0.66")
        XCTAssertTrue(try audit.rows(kind: .authFailure).contains { $0.rule == "R-BLOCK" })
        XCTAssertEqual(try audit.rows(kind: .authSuccess).count, 1)
    }

    private func wrongConfirmationIsRefused(_ cluster: InMemoryCluster) throws {
        let attacker = cluster.network.addEndpoint(named: "mallory-again", host: "10.0.0.66")
        let connection = attacker.connect(to: cluster.listenAddress)
        cluster.run()
        var rng = SeededRandom(seed: 10)
        var patient = try PatientMachine(configuration: PatientConfiguration(), identity: TestKeys.id("alice"),
                                         privateKey: TestKeys.key("alice"), doctorID: TestKeys.id("doctor"),
                                         doctorKey: TestKeys.key("doctor").publicKey)
        for case let .send(body) in patient.connected(now: cluster.clock.now(), using: &rng) {
            attacker.send(body, on: connection)
        }
        cluster.run()
        let frames = cluster.frames(for: attacker)
        XCTAssertEqual(frames, [codec.encode(.rejected)])
    }

    func testManualUnblockIsRecordedAndNotRestored() throws {
        let directory = try temporaryDirectory("unblock")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/doctor.sqlite"
        do {
            let cluster = try InMemoryCluster(enrolling: ["alice"], store: try SecurityStore(path: path))
            try wrongConfirmation(cluster)
            try cluster.doctor.unblock("alice")
            XCTAssertThrowsError(try cluster.doctor.unblock("alice"))
        }
        let store = try SecurityStore(path: path)
        XCTAssertTrue(try store.load().deviceBlocks.isEmpty)
        XCTAssertEqual(try store.manualUnblocks().map(\.target), ["device alice@10.0.0.66"])
        XCTAssertEqual(try AuditLog(store: store).rows(kind: .unblock).count, 1)
    }

    // MARK: - Key files

    /// Exercises ``KeyStore/createDoctor(id:group:using:)``, ``KeyStore/loadDoctor()`` (with the
    /// legacy registry files) and ``KeyStore/loadCredential(_:)`` (a legacy credential).
    func testKeyFilesAreOwnerOnlyAndRoundTrip() throws {
        let directory = try temporaryDirectory("keys") + "/state"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keys = KeyStore(directory: directory)
        var rng = SeededRandom(seed: 3)
        let doctor = try keys.createDoctor(id: TestKeys.id("dr-who"), group: TestKeys.group, using: &rng)
        let credential = try writeLegacyEnrollment("alice", doctor: doctor, port: 8123, in: keys, using: &rng)
        XCTAssertEqual(try mode(keys.doctorKeyPath), 0o600)
        XCTAssertEqual(try mode(directory), 0o700)
        let store = try SecurityStore(path: keys.databasePath)
        _ = store
        XCTAssertEqual(try mode(keys.databasePath), 0o600)

        let loaded = try keys.loadDoctor()
        XCTAssertEqual(loaded.identity, TestKeys.id("dr-who"))
        XCTAssertEqual(loaded.privateKey.publicKey, doctor.privateKey.publicKey)
        XCTAssertEqual(loaded.registry[TestKeys.id("alice")], credential.privateKey.publicKey)
        let reread = try keys.loadCredential(TestKeys.id("alice"))
        XCTAssertEqual(reread.privateKey.publicKey, credential.privateKey.publicKey)
        XCTAssertEqual(reread.doctorKey, doctor.privateKey.publicKey)
        XCTAssertEqual(reread.port, 8123)
        XCTAssertFalse("\(reread)".contains(BigInt.encodeHex(credential.privateKey.scalarBytes)))
        XCTAssertThrowsError(try keys.createDoctor(id: TestKeys.id("dr-who"), group: TestKeys.group, using: &rng))
    }

    func testMalformedAndWrongGroupKeyFilesNameTheFile() throws {
        let directory = try temporaryDirectory("bad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keys = KeyStore(directory: directory)
        var rng = SeededRandom(seed: 4)
        let doctor = try keys.createDoctor(id: TestKeys.id("doctor"), group: TestKeys.group, using: &rng)
        try writeLegacyEnrollment("alice", doctor: doctor, port: 8000, in: keys, using: &rng)

        // A registry entry of another group.
        let bobPath = keys.registryPath(TestKeys.id("bob"))
        let other = TelemedGroup.telemed3072
        let bobKey = PrivateKey(generatingIn: other, using: &rng)
        let entry = #"{"format":"telemed-enrolled-patient-v1","group":"\#(other.name)","id":"bob","publicKey":"\#(bobKey.publicKey.hex)"}"#
        try Data(entry.utf8).write(to: URL(fileURLWithPath: bobPath))
        XCTAssertThrowsError(try keys.loadDoctor()) { error in
            XCTAssertEqual(error as? KeyStoreError,
                           .wrongGroup(path: bobPath, expected: TestKeys.group.name, found: other.name))
            XCTAssertTrue("\(error)".contains(bobPath))
        }
        try FileManager.default.removeItem(atPath: bobPath)

        // A truncated credential.
        let alicePath = keys.credentialPath(TestKeys.id("alice"))
        let text = try String(contentsOfFile: alicePath, encoding: .utf8)
        try Data(text.utf8.prefix(60)).write(to: URL(fileURLWithPath: alicePath))
        XCTAssertThrowsError(try keys.loadCredential(TestKeys.id("alice"))) { error in
            guard case let .malformed(path, _)? = error as? KeyStoreError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, alicePath)
            XCTAssertTrue("\(error)".contains(alicePath))
        }

        // A doctor key whose public half does not match: the message names the file, not the key.
        let doctorText = try String(contentsOfFile: keys.doctorKeyPath, encoding: .utf8)
        let otherPublic = TestKeys.key("someone").publicKey.hex
        let edited = doctorText.replacingOccurrences(of: doctor.privateKey.publicKey.hex, with: otherPublic)
        try Data(edited.utf8).write(to: URL(fileURLWithPath: keys.doctorKeyPath))
        XCTAssertThrowsError(try keys.loadDoctor()) { error in
            XCTAssertEqual(error as? KeyStoreError,
                           .malformed(path: keys.doctorKeyPath, reason: "publicKey does not belong to privateKey"))
            XCTAssertFalse("\(error)".contains(BigInt.encodeHex(doctor.privateKey.scalarBytes)))
        }
        XCTAssertThrowsError(try keys.loadCredential(TestKeys.id("nobody"))) { error in
            guard case .missing? = error as? KeyStoreError else { return XCTFail("\(error)") }
        }
    }

    private func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try XCTUnwrap(attributes[.posixPermissions] as? Int) & 0o777
    }
}
