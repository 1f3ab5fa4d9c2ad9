import Foundation
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import XCTest

/// The patient registry in the security store: `SecurityStore.enroll(_:publicKey:group:replace:at:)`,
/// `.revoke(_:at:)`, `.patients()`, `.registry(group:)`, `.retiredKeys()` and
/// `.importLegacyRegistry(_:group:at:)`, on a database file that is closed and reopened.
final class RegistryStoreTests: XCTestCase {
    private let group = TestKeys.group
    private func key(_ name: String) -> PublicKey { TestKeys.key(name).publicKey }
    private func id(_ name: String) -> PeerID { TestKeys.id(name) }

    private func databasePath() throws -> (directory: String, path: String) {
        let directory = try temporaryDirectory("registry")
        return (directory, directory + "/doctor.sqlite")
    }

    /// Enrollments, a revocation, a replacement and a re-enrollment survive closing and
    /// reopening the file; the registry the doctor loads holds exactly the enrolled ids.
    func testTheRegistryPersistsAcrossReopen() throws {
        let (directory, path) = try databasePath()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try SecurityStore(path: path)
            XCTAssertEqual(try store.enroll(id("alice"), publicKey: key("alice"), group: group, at: 1_000), .enrolled)
            XCTAssertEqual(try store.enroll(id("bob"), publicKey: key("bob"), group: group, at: 1_001), .enrolled)
            XCTAssertEqual(try store.enroll(id("carol"), publicKey: key("carol"), group: group, at: 1_002), .enrolled)
            let revoked = try store.revoke(id("bob"), at: 2_000)
            XCTAssertEqual(revoked.revokedAt, 2_000)
            XCTAssertEqual(try store.enroll(id("carol"), publicKey: key("carol-2"), group: group, replace: true, at: 2_500),
                           .replaced)
        }
        let reopened = try SecurityStore(path: path)
        let rows = try reopened.patients()
        XCTAssertEqual(rows.map(\.id.value), ["alice", "bob", "carol"])
        XCTAssertEqual(rows.map(\.status), [.enrolled, .revoked, .enrolled])
        XCTAssertEqual(rows.map(\.revokedAt), [nil, 2_000, nil])
        XCTAssertEqual(rows.map(\.enrolledAt), [1_000, 1_001, 2_500])
        XCTAssertEqual(rows.map(\.fingerprint), [key("alice").fingerprint, key("bob").fingerprint, key("carol-2").fingerprint])
        XCTAssertEqual(try reopened.registry(group: group), [id("alice"): key("alice"), id("carol"): key("carol-2")])
        XCTAssertEqual(try reopened.retiredKeys().map(\.fingerprint), [key("bob").fingerprint, key("carol").fingerprint])
        XCTAssertEqual(try reopened.retiredKeys().map(\.reason), [.revoked, .replaced])

        // bob comes back with a new key (no `replace` needed for a revoked id).
        XCTAssertEqual(try reopened.enroll(id("bob"), publicKey: key("bob-2"), group: group, at: 3_000), .reenrolled)
        let again = try SecurityStore(path: path)
        XCTAssertEqual(try again.patient(id("bob"))?.status, .enrolled)
        XCTAssertEqual(try again.patient(id("bob"))?.publicKey, key("bob-2"))
        XCTAssertEqual(try again.registry(group: group).count, 3)
        XCTAssertEqual(try again.integrityCheck(), ["ok"])
    }

    /// One audit row per enroll, replace and revoke, in the same file, naming the patient and
    /// the fingerprints (never anything secret).
    func testEveryChangeWritesOneAuditRow() throws {
        let store = try SecurityStore.inMemory()
        let audit = AuditLog(store: store)
        try store.enroll(id("alice"), publicKey: key("alice"), group: group, at: 10)
        try store.enroll(id("alice"), publicKey: key("alice-2"), group: group, replace: true, at: 20)
        try store.revoke(id("alice"), at: 30)
        try store.enroll(id("alice"), publicKey: key("alice-3"), group: group, at: 40)
        let rows = try audit.rows().filter { [.enroll, .replace, .revoke].contains($0.kind) }
        XCTAssertEqual(rows.map(\.kind), [.enroll, .replace, .revoke, .enroll])
        XCTAssertEqual(rows.map(\.wall), [10, 20, 30, 40])
        XCTAssertEqual(Set(rows.compactMap(\.patient)), ["alice"])
        XCTAssertTrue(rows[0].detail.contains(key("alice").fingerprint.description), rows[0].detail)
        XCTAssertTrue(rows[1].detail.contains(key("alice").fingerprint.description)
                      && rows[1].detail.contains(key("alice-2").fingerprint.description), rows[1].detail)
        XCTAssertTrue(rows[2].detail.contains(key("alice-2").fingerprint.description), rows[2].detail)
        XCTAssertTrue(rows[3].detail.contains("enrolled again"), rows[3].detail)
        let secret = BigInt.encodeHex(TestKeys.key("alice").scalarBytes)
        XCTAssertFalse(try audit.rows().contains { $0.description.contains(secret) })
    }

    /// Every refusal throws `StoreError.registry` with its typed reason and writes nothing:
    /// the rows, the retired keys and the audit log are unchanged.
    func testRefusalsAreTypedAndChangeNothing() throws {
        let store = try SecurityStore.inMemory()
        let audit = AuditLog(store: store)
        try store.enroll(id("alice"), publicKey: key("alice"), group: group, at: 1)
        try store.enroll(id("bob"), publicKey: key("bob"), group: group, at: 2)
        try store.revoke(id("bob"), at: 3)
        try store.enroll(id("carol"), publicKey: key("carol"), group: group, at: 4)
        try store.enroll(id("carol"), publicKey: key("carol-2"), group: group, replace: true, at: 5)
        var rng = SeededRandom(seed: 3)
        let otherGroup = PrivateKey(generatingIn: .telemed3072, using: &rng).publicKey
        let before = (try store.patients(), try store.retiredKeys(), try audit.rows())

        let cases: [(String, () throws -> Void, RegistryError)] = [
            ("an enrolled id without replace",
             { try store.enroll(self.id("alice"), publicKey: self.key("x"), group: self.group, at: 9) },
             .alreadyEnrolled(id("alice"))),
            ("an enrolled id with its own key",
             { try store.enroll(self.id("alice"), publicKey: self.key("alice"), group: self.group, at: 9) },
             .alreadyEnrolled(id("alice"))),
            ("replace with the same key",
             { try store.enroll(self.id("alice"), publicKey: self.key("alice"), group: self.group, replace: true, at: 9) },
             .keyUnchanged(id("alice"))),
            ("a revoked key, for its own id",
             { try store.enroll(self.id("bob"), publicKey: self.key("bob"), group: self.group, at: 9) },
             .keyRetired(key("bob").fingerprint)),
            ("a revoked key, for another id",
             { try store.enroll(self.id("dave"), publicKey: self.key("bob"), group: self.group, at: 9) },
             .keyRetired(key("bob").fingerprint)),
            ("a replaced key",
             { try store.enroll(self.id("carol"), publicKey: self.key("carol"), group: self.group, replace: true, at: 9) },
             .keyRetired(key("carol").fingerprint)),
            ("a key enrolled for another id",
             { try store.enroll(self.id("dave"), publicKey: self.key("alice"), group: self.group, at: 9) },
             .keyInUse(key("alice").fingerprint, by: id("alice"))),
            ("a key of another group",
             { try store.enroll(self.id("dave"), publicKey: otherGroup, group: self.group, at: 9) },
             .wrongGroup(expected: "telemed-2048-256", found: "telemed-3072-256")),
            ("revoke a never-enrolled id", { try store.revoke(self.id("zed"), at: 9) }, .notEnrolled(id("zed"))),
            ("revoke twice", { try store.revoke(self.id("bob"), at: 9) }, .alreadyRevoked(id("bob"))),
        ]
        for (what, attempt, expected) in cases {
            XCTAssertThrowsError(try attempt(), what) { XCTAssertEqual($0 as? StoreError, .registry(expected), what) }
            XCTAssertEqual(try store.patients(), before.0, what)
            XCTAssertEqual(try store.retiredKeys(), before.1, what)
            XCTAssertEqual(try audit.rows(), before.2, what)
        }
        XCTAssertEqual(StoreError.registry(.keyRetired(key("bob").fingerprint)).description,
                       "the key \(key("bob").fingerprint) was revoked or replaced before and cannot be enrolled again")
    }

    /// The legacy `registry/<id>.json` files are imported once: the first import enrolls what
    /// the store does not know (audited), leaves out what it does, and every later one is a
    /// no-op — so a revocation is not undone by the files that are still on disk.
    func testTheLegacyRegistryIsImportedOnce() throws {
        let (directory, path) = try databasePath()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // An old state directory: the doctor's key and two enrolled patients as files.
        let keys = KeyStore(directory: directory)
        var rng = SeededRandom(seed: 11)
        let doctor = try keys.createDoctor(id: id("doctor"), group: group, using: &rng)
        try writeLegacyEnrollment("alice", doctor: doctor, port: 8000, in: keys, using: &rng)
        try writeLegacyEnrollment("bob", doctor: doctor, port: 8000, in: keys, using: &rng)
        let legacy = try keys.loadRegistry(group: group)
        XCTAssertEqual(legacy.count, 2)

        let store = try SecurityStore(path: path)
        // carol was enrolled through the store before the doctor first started; a file for
        // carol (with another key) must not override her.
        try store.enroll(id("carol"), publicKey: key("carol"), group: group, at: 5)
        var entries = legacy
        entries[id("carol")] = key("carol-file")
        XCTAssertFalse(try store.legacyRegistryImported())
        let outcome = try XCTUnwrap(try store.importLegacyRegistry(entries, group: group, at: 10))
        XCTAssertEqual(outcome.imported, [id("alice"), id("bob")])
        XCTAssertEqual(outcome.skipped.map(\.id), [id("carol")])
        XCTAssertEqual(outcome.skipped.map(\.reason), [.alreadyEnrolled(id("carol"))])
        XCTAssertTrue(try store.legacyRegistryImported())
        XCTAssertEqual(try store.registry(group: group),
                       [id("alice"): legacy[id("alice")], id("bob"): legacy[id("bob")], id("carol"): key("carol")])
        let importRows = try AuditLog(store: store).rows(kind: .enroll).filter { $0.wall == 10 }
        XCTAssertEqual(importRows.map(\.patient), ["alice", "bob", "carol"])
        XCTAssertTrue(importRows[0].detail.contains("imported"))
        XCTAssertTrue(importRows[2].detail.contains("not imported"))

        try store.revoke(id("bob"), at: 20)
        let auditCount = try AuditLog(store: store).rows().count
        let reopened = try SecurityStore(path: path)
        XCTAssertNil(try reopened.importLegacyRegistry(try keys.loadRegistry(group: group), group: group, at: 30))
        XCTAssertEqual(try reopened.patient(id("bob"))?.status, .revoked, "the file did not bring bob back")
        XCTAssertEqual(try AuditLog(store: reopened).rows().count, auditCount, "a repeated import writes nothing")
        XCTAssertTrue(FileManager.default.fileExists(atPath: keys.registryPath(id("bob"))), "the files are left in place")
    }

    /// A doctor node built on a store imports `keys.registry` once and from then on loads the
    /// store's registry (`DoctorNode.init`): a patient revoked through the node stays revoked
    /// when the node is rebuilt with the same key material, and is refused like an unknown id.
    func testADoctorRestartKeepsARevocation() throws {
        let (directory, path) = try databasePath()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let first = try InMemoryCluster(enrolling: ["alice", "bob"], store: try SecurityStore(path: path))
            XCTAssertEqual(first.doctor.legacyImport?.imported, [id("alice"), id("bob")])
            try first.doctor.revoke(id("bob"))
        }
        let second = try InMemoryCluster(enrolling: ["alice", "bob"], store: try SecurityStore(path: path))
        XCTAssertNil(second.doctor.legacyImport)
        XCTAssertEqual(second.doctor.machine.enrolledPatients, [id("alice")])
        try second.connect("bob")
        XCTAssertEqual(second.patients["bob"]?.end, .connectionLost(.refusedByDoctor))
        let refusal = second.events.compactMap { event -> (RuleID, String)? in
            if case let .rejected(_, _, rule, reason, _) = event { return (rule, reason) }
            return nil
        }
        XCTAssertEqual(refusal.map(\.0), [.identity])
        XCTAssertEqual(refusal.map(\.1), ["unknown patient id"])
        try second.connect("alice")
        XCTAssertEqual(second.doctor.machine.activePatients, [id("alice")])
    }
}
