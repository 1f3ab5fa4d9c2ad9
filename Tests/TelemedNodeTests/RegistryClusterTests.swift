import Foundation
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import XCTest

/// Live enrollment and revocation through the runtime: `DoctorNode.revoke(_:)`,
/// `.enroll(_:publicKey:replace:)` and `.patients()` over the in-memory network (the
/// simulator's wiring), and `DoctorService.revoke(_:)` / `.enroll` / `.patients()` over TCP on
/// 127.0.0.1 (the in-memory network is synchronous; `DoctorService` needs an async transport).
final class RegistryClusterTests: XCTestCase {
    private func id(_ name: String) -> PeerID { TestKeys.id(name) }

    /// A connected patient revoked through the node: DISCONNECT("revoked") reaches her, the
    /// others move one epoch, the audit log has the revoke and the leave, the listing shows her
    /// revoked, and her next login is refused; a re-enrollment with a new device key lets the
    /// new key in and keeps the old one out.
    func testRevokingAConnectedPatientThroughTheNode() throws {
        let cluster = try InMemoryCluster(enrolling: ["alice", "bob", "carol"])
        for name in ["alice", "bob", "carol"] { try cluster.connect(name) }
        XCTAssertEqual(cluster.doctor.machine.epoch, 3)

        try cluster.doctor.revoke(id("bob"))
        cluster.run()

        XCTAssertEqual(cluster.patients["bob"]?.end, .disconnectedByDoctor("revoked"))
        XCTAssertEqual(cluster.doctor.machine.activePatients, [id("alice"), id("carol")])
        XCTAssertEqual(cluster.patients["alice"]?.machine.epoch, 4)
        XCTAssertEqual(cluster.patients["carol"]?.machine.epoch, 4)
        XCTAssertEqual(cluster.doctor.machine.epoch, 4, "exactly one new epoch")
        XCTAssertEqual(try cluster.audit.rows(kind: .revoke).map(\.patient), ["bob"])
        XCTAssertEqual(try cluster.audit.rows(kind: .leave).map(\.detail), ["revoked"])
        let listing = try cluster.doctor.patients()
        XCTAssertEqual(listing.map(\.patient.id.value), ["alice", "bob", "carol"])
        XCTAssertEqual(listing.map(\.patient.status), [.enrolled, .revoked, .enrolled])
        XCTAssertEqual(listing.map(\.connected), [true, false, true])
        XCTAssertEqual(listing[1].patient.fingerprint, TestKeys.key("bob").publicKey.fingerprint)

        // Refused like an unknown id.
        try cluster.connect("bob")
        XCTAssertEqual(cluster.patients["bob"]?.end, .connectionLost(.refusedByDoctor))
        XCTAssertTrue(cluster.events.contains { event in
            if case .rejected(_, _, .identity, "unknown patient id", _) = event { return true }
            return false
        })

        // Enrolled again with a new device key: the old key is retired, the new one logs in.
        let newKey = TestKeys.key("bob-new-device")
        XCTAssertThrowsError(try cluster.doctor.enroll(id("bob"), publicKey: TestKeys.key("bob").publicKey)) {
            XCTAssertEqual($0 as? StoreError, .registry(.keyRetired(TestKeys.key("bob").publicKey.fingerprint)))
        }
        XCTAssertEqual(cluster.doctor.machine.enrolledPatients, [id("alice"), id("carol")], "the refusal changed nothing")
        XCTAssertEqual(try cluster.doctor.enroll(id("bob"), publicKey: newKey.publicKey), .reenrolled)
        try cluster.connect("bob")
        XCTAssertEqual(cluster.patients["bob"]?.end, .connectionLost(.refusedByDoctor), "the old key is refused")
        let credential = PatientCredential(identity: id("bob"), privateKey: newKey, doctorID: id("doctor"),
                                           doctorKey: TestKeys.key("doctor").publicKey, host: "127.0.0.1", port: 8000)
        try cluster.connect("bob", credential: credential)
        XCTAssertEqual(cluster.doctor.machine.activePatients, [id("alice"), id("bob"), id("carol")])
        XCTAssertNil(cluster.patients["bob"]?.end)
    }

    /// Refusals through the node change nothing: not the machine, not the store, not the audit
    /// log, and nothing is sent (`DoctorNode.enroll` checks on a copy, persists, then feeds).
    func testRefusedNodeCommandsChangeNothingAndSendNothing() throws {
        let cluster = try InMemoryCluster(enrolling: ["alice", "bob"])
        try cluster.connect("alice")
        let events = cluster.events.count
        let auditRows = try cluster.audit.rows().count
        let attempts: [(String, () throws -> Void, RegistryError)] = [
            ("revoke an unknown id", { try cluster.doctor.revoke(self.id("zed")) }, .notEnrolled(id("zed"))),
            ("enroll an enrolled id", { try cluster.doctor.enroll(self.id("alice"), publicKey: TestKeys.key("x").publicKey) },
             .alreadyEnrolled(id("alice"))),
            ("a key of another id", { try cluster.doctor.enroll(self.id("carol"), publicKey: TestKeys.key("alice").publicKey) },
             .keyInUse(TestKeys.key("alice").publicKey.fingerprint, by: id("alice"))),
        ]
        for (what, attempt, expected) in attempts {
            XCTAssertThrowsError(try attempt(), what) { XCTAssertEqual($0 as? StoreError, .registry(expected), what) }
        }
        try cluster.doctor.revoke(id("bob"))
        XCTAssertThrowsError(try cluster.doctor.revoke(id("bob"))) {
            XCTAssertEqual($0 as? StoreError, .registry(.alreadyRevoked(self.id("bob"))), "the store tells revoked from unknown")
        }
        cluster.run()
        XCTAssertEqual(cluster.events.count, events, "bob was not connected: his revocation sends nothing")
        XCTAssertEqual(try cluster.audit.rows().count, auditRows + 1, "only bob's revoke row")
        XCTAssertEqual(cluster.doctor.machine.activePatients, [id("alice")])
        XCTAssertNil(cluster.patients["alice"]?.end)
    }

    /// An offline command wrote the store while the doctor ran (`SecurityStore.revoke` /
    /// `.enroll` on the same database): the running node does not see it until the operator
    /// repeats the command live, which then applies it to the machine without a second write
    /// (`DoctorNode.revoke`, `DoctorNode.enroll`); a different key is still refused.
    func testALiveCommandCatchesUpWithAnOfflineChange() throws {
        let cluster = try InMemoryCluster(enrolling: ["alice", "bob"])
        try cluster.connect("alice")
        try cluster.connect("bob")
        try cluster.store.revoke(id("bob"), at: cluster.clock.now().wall)
        XCTAssertEqual(cluster.doctor.machine.activePatients, [id("alice"), id("bob")], "the running machine has not seen it")
        let revokeRows = try cluster.audit.rows(kind: .revoke).count
        try cluster.doctor.revoke(id("bob"))
        cluster.run()
        XCTAssertEqual(cluster.patients["bob"]?.end, .disconnectedByDoctor("revoked"))
        XCTAssertEqual(cluster.doctor.machine.enrolledPatients, [id("alice")])
        XCTAssertEqual(try cluster.audit.rows(kind: .revoke).count, revokeRows, "no second revoke row")

        let carol = TestKeys.key("carol").publicKey
        try cluster.store.enroll(id("carol"), publicKey: carol, group: TestKeys.group, at: cluster.clock.now().wall)
        XCTAssertThrowsError(try cluster.doctor.enroll(id("carol"), publicKey: TestKeys.key("carol-other").publicKey)) {
            XCTAssertEqual($0 as? StoreError, .registry(.alreadyEnrolled(self.id("carol"))))
        }
        XCTAssertEqual(cluster.doctor.machine.enrolledPatients, [id("alice")])
        XCTAssertEqual(try cluster.doctor.enroll(id("carol"), publicKey: carol), .enrolled)
        XCTAssertEqual(cluster.doctor.machine.enrolledPatients, [id("alice"), id("carol")])
        try cluster.connect("carol")
        XCTAssertEqual(cluster.doctor.machine.activePatients, [id("alice"), id("carol")])
    }

    /// The console path: `DoctorService.revoke` over TCP ends the connected patient's session
    /// ("revoked"), the others get a new epoch, `patients()` lists her revoked, and
    /// `DoctorService.enroll` of a new key is live (no restart).
    func testRevokingAConnectedPatientThroughTheService() async throws {
        let cluster = try await TCPCluster(enrolling: ["alice", "bob"])
        for name in ["alice", "bob"] {
            cluster.startPatient(name)
            let joined = await eventually { await cluster.doctor.status().members.contains { $0.id == name } }
            XCTAssertTrue(joined, "\(name) did not authenticate")
        }
        let atTwo = await eventually { cluster.latestEpoch("alice") == 2 }
        XCTAssertTrue(atTwo)

        try await cluster.doctor.revoke(id("bob"))
        let bobOutcome = await cluster.runs["bob"]?.value
        XCTAssertEqual(bobOutcome, .disconnectedByDoctor("revoked"))
        let aliceAtThree = await eventually { cluster.latestEpoch("alice") == 3 }
        XCTAssertTrue(aliceAtThree)
        let listing = try await cluster.doctor.patients()
        XCTAssertEqual(listing.map(\.patient.id.value), ["alice", "bob"])
        XCTAssertEqual(listing.map(\.patient.status), [.enrolled, .revoked])
        XCTAssertEqual(listing.map(\.connected), [true, false])
        let status = await cluster.doctor.status()
        XCTAssertEqual(status.enrolled, ["alice"])

        try await cluster.doctor.enroll(id("dave"), publicKey: TestKeys.key("dave").publicKey)
        let enrolled = await cluster.doctor.status().enrolled
        XCTAssertEqual(enrolled, ["alice", "dave"])
        cluster.startPatient("dave")
        let daveJoined = await eventually { await cluster.doctor.status().members.contains { $0.id == "dave" } }
        XCTAssertTrue(daveJoined, "an enrollment is live: no restart needed")
        await cluster.shutdown()
    }
}
