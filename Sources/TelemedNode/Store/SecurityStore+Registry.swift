// The patient registry
// ====================
// The doctor's record of who may log in lives in the security store (migration
// "v2-registry"), next to the blocks and the audit log, so the running doctor and the offline
// commands share one source of truth and every change is audited in the same transaction that
// makes it:
//
//   patients      one row per id ever enrolled: its latest key, enrolled_at, revoked_at (NULL
//                 while enrolled). Revoking keeps the row; enrolling the id again overwrites it.
//   retired_keys  every key that was revoked or replaced, by fingerprint. A retired key is
//                 never enrolled again, under any id (a stolen device stays locked out even if
//                 someone re-submits its old enrollment request).
//
// Every method checks first and writes only if every check passes; a refusal throws
// `StoreError.registry(...)` and leaves the database (audit log included) untouched. Writes
// return once committed (WAL, synchronous = FULL), so a host that persists before it feeds the
// machine never acts on a change a crash could forget.
//
// Legacy registry files. Before the registry moved here, `registry/<id>.json` files were the
// registry. `importLegacyRegistry` copies such entries into the store once: the first call
// records `legacy_registry_imported` in `meta` and enrolls every entry the store does not
// already know (audited as `enroll` with "imported"); every later call does nothing. The files
// are left where they are and are not read by the registry again; they hold public keys only and
// may be deleted once imported.

import Foundation
import GRDB
import TelemedCrypto
import TelemedProtocol

extension SecurityStore {
    // MARK: - Reading

    /// Every id ever enrolled, revoked ones included, in ascending id order.
    public func patients() throws(StoreError) -> [EnrolledPatient] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM patients").map(Self.patient).sorted { $0.id < $1.id }
        }
    }

    /// One id's registry row, if it was ever enrolled.
    public func patient(_ id: PeerID) throws(StoreError) -> EnrolledPatient? {
        try read { db in try Self.fetchPatient(id, db) }
    }

    /// Every retired key, oldest first.
    public func retiredKeys() throws(StoreError) -> [RetiredKey] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM retired_keys ORDER BY retired_at, rowid").map { row in
                guard let fingerprint = try? KeyFingerprint(text: row["fingerprint"] as String),
                      let patient = try? PeerID(row["patient"] as String),
                      let reason = RetiredKey.Reason(rawValue: row["reason"] as String) else {
                    throw StoreError.corruptRow(table: "retired_keys", reason: "not a retired key")
                }
                return RetiredKey(fingerprint: fingerprint, patient: patient,
                                  retiredAt: UInt64(clamping: row["retired_at"] as Int64), reason: reason)
            }
        }
    }

    // MARK: - Enroll

    /// Enrolls `publicKey` for `id`, durably and audited, and returns what it did:
    ///
    /// - a new id is enrolled (`enroll` audit row);
    /// - a revoked id is enrolled again with a new key (`enroll`, "enrolled again");
    /// - an enrolled id needs `replace`: its old key is retired and the new one takes its place
    ///   (`replace` audit row).
    ///
    /// - Throws: ``StoreError/registry(_:)`` with `RegistryError.wrongGroup(expected:found:)`,
    ///   `RegistryError.keyRetired(_:)`, `RegistryError.keyInUse(_:by:)`,
    ///   `RegistryError.alreadyEnrolled(_:)` or `RegistryError.keyUnchanged(_:)`, having
    ///   written nothing; or a write failure.
    @discardableResult
    public func enroll(_ id: PeerID, publicKey: PublicKey, group: TelemedGroup, replace: Bool = false,
                       at wall: UInt64) throws(StoreError) -> EnrollmentKind {
        try write { db in try Self.enroll(id, publicKey: publicKey, group: group, replace: replace, at: wall, db) }
    }

    private static func enroll(_ id: PeerID, publicKey: PublicKey, group: TelemedGroup, replace: Bool,
                               at wall: UInt64, _ db: Database) throws -> EnrollmentKind {
        guard publicKey.group == group else {
            throw RegistryError.wrongGroup(expected: group.name, found: publicKey.group.name)
        }
        let fingerprint = publicKey.fingerprint
        let existing = try fetchPatient(id, db)
        if let existing, existing.status == .enrolled {
            if existing.publicKey == publicKey {
                throw replace ? RegistryError.keyUnchanged(id) : RegistryError.alreadyEnrolled(id)
            }
            guard replace else { throw RegistryError.alreadyEnrolled(id) }
        }
        if try isRetired(fingerprint, db) { throw RegistryError.keyRetired(fingerprint) }
        if let holder = try String.fetchOne(db, sql: """
            SELECT id FROM patients WHERE fingerprint = ? AND revoked_at IS NULL AND id <> ?
            """, arguments: [fingerprint.hex, id.value]) {
            throw RegistryError.keyInUse(fingerprint, by: (try? PeerID(holder)) ?? id)
        }
        let kind: EnrollmentKind
        var detail = "key \(fingerprint) (\(group.name))"
        switch existing?.status {
        case nil:
            kind = .enrolled
        case .revoked?:
            kind = .reenrolled
            detail += "; enrolled again after its revocation"
        case .enrolled?:
            kind = .replaced
            if let old = existing {
                try retire(old.publicKey, of: id, reason: .replaced, at: wall, db)
                detail = "key \(old.fingerprint) replaced by \(fingerprint) (\(group.name)); the old key is retired"
            }
        }
        try db.execute(sql: """
            INSERT INTO patients (id, key_group, public_key, fingerprint, enrolled_at, revoked_at)
            VALUES (?, ?, ?, ?, ?, NULL)
            ON CONFLICT (id) DO UPDATE SET key_group = excluded.key_group, public_key = excluded.public_key,
              fingerprint = excluded.fingerprint, enrolled_at = excluded.enrolled_at, revoked_at = NULL
            """, arguments: [id.value, group.name, Data(publicKey.bytes), fingerprint.hex, Int64(clamping: wall)])
        try Self.insertAudit(AuditRow(wall: wall, kind: kind == .replaced ? .replace : .enroll,
                                     patient: id.value, detail: detail), db)
        return kind
    }

    // MARK: - Revoke

    /// Revokes `id`: its row is marked revoked, its key retired, and an audit row written, in
    /// one transaction. Returns the revoked row.
    ///
    /// - Throws: ``StoreError/registry(_:)`` with `RegistryError.notEnrolled(_:)` (never
    ///   enrolled) or `RegistryError.alreadyRevoked(_:)`, having written nothing; or a write
    ///   failure.
    @discardableResult
    public func revoke(_ id: PeerID, at wall: UInt64) throws(StoreError) -> EnrolledPatient {
        try write { db in
            guard let existing = try Self.fetchPatient(id, db) else { throw RegistryError.notEnrolled(id) }
            guard existing.status == .enrolled else { throw RegistryError.alreadyRevoked(id) }
            try db.execute(sql: "UPDATE patients SET revoked_at = ? WHERE id = ?",
                           arguments: [Int64(clamping: wall), id.value])
            try Self.retire(existing.publicKey, of: id, reason: .revoked, at: wall, db)
            try Self.insertAudit(AuditRow(wall: wall, kind: .revoke, patient: id.value,
                                         detail: "key \(existing.fingerprint) revoked and retired"), db)
            return EnrolledPatient(id: id, publicKey: existing.publicKey, enrolledAt: existing.enrolledAt, revokedAt: wall)
        }
    }

    // MARK: - Legacy import

    /// True once ``importLegacyRegistry(_:group:at:)`` ran on this database.
    public func legacyRegistryImported() throws(StoreError) -> Bool {
        try read { db in
            try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'legacy_registry_imported'") != nil
        }
    }

    /// Copies the entries of the legacy `registry/<id>.json` files (as
    /// ``KeyStore/loadRegistry(group:)`` reads them) into the registry, once per database: the
    /// first call enrolls every entry whose id the store does not know yet and whose key is
    /// neither retired nor enrolled under another id (an `enroll` audit row each, "imported"),
    /// and records that the import happened, all in one transaction; every later call returns
    /// nil and writes nothing. Entries left out are returned with the reason. The files are not
    /// touched (see the theory of operation above).
    @discardableResult
    public func importLegacyRegistry(_ entries: [PeerID: PublicKey], group: TelemedGroup,
                                     at wall: UInt64) throws(StoreError) -> LegacyImport? {
        try write { db in
            if try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'legacy_registry_imported'") != nil {
                return nil
            }
            var imported: [PeerID] = []
            var skipped: [(id: PeerID, reason: RegistryError)] = []
            for (id, key) in entries.sorted(by: { $0.key < $1.key }) {
                let fingerprint = key.fingerprint
                if key.group != group {
                    skipped.append((id, .wrongGroup(expected: group.name, found: key.group.name)))
                } else if let known = try Self.fetchPatient(id, db) {
                    skipped.append((id, known.status == .enrolled ? .alreadyEnrolled(id) : .alreadyRevoked(id)))
                } else if try Self.isRetired(fingerprint, db) {
                    skipped.append((id, .keyRetired(fingerprint)))
                } else if let holder = try String.fetchOne(db, sql: """
                    SELECT id FROM patients WHERE fingerprint = ? AND revoked_at IS NULL
                    """, arguments: [fingerprint.hex]) {
                    skipped.append((id, .keyInUse(fingerprint, by: (try? PeerID(holder)) ?? id)))
                } else {
                    try db.execute(sql: """
                        INSERT INTO patients (id, key_group, public_key, fingerprint, enrolled_at, revoked_at)
                        VALUES (?, ?, ?, ?, ?, NULL)
                        """, arguments: [id.value, group.name, Data(key.bytes), fingerprint.hex, Int64(clamping: wall)])
                    try Self.insertAudit(AuditRow(wall: wall, kind: .enroll, patient: id.value,
                        detail: "key \(fingerprint) (\(group.name)); imported from the legacy registry files"), db)
                    imported.append(id)
                }
            }
            for (id, reason) in skipped {
                try Self.insertAudit(AuditRow(wall: wall, kind: .enroll, patient: id.value,
                                             detail: "legacy registry entry not imported: \(reason)"), db)
            }
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('legacy_registry_imported', ?)",
                           arguments: [Int64(clamping: wall)])
            return LegacyImport(imported: imported, skipped: skipped)
        }
    }

    // MARK: - Helpers

    private static func retire(_ key: PublicKey, of id: PeerID, reason: RetiredKey.Reason, at wall: UInt64,
                               _ db: Database) throws {
        try db.execute(sql: """
            INSERT OR IGNORE INTO retired_keys (fingerprint, patient, key_group, retired_at, reason)
            VALUES (?, ?, ?, ?, ?)
            """, arguments: [key.fingerprint.hex, id.value, key.group.name, Int64(clamping: wall), reason.rawValue])
    }

    private static func isRetired(_ fingerprint: KeyFingerprint, _ db: Database) throws -> Bool {
        try Int.fetchOne(db, sql: "SELECT 1 FROM retired_keys WHERE fingerprint = ?", arguments: [fingerprint.hex]) != nil
    }

    private static func fetchPatient(_ id: PeerID, _ db: Database) throws -> EnrolledPatient? {
        try Row.fetchOne(db, sql: "SELECT * FROM patients WHERE id = ?", arguments: [id.value]).map(patient)
    }

    /// Decodes a row, checking the id, the group, the key (a valid element) and its fingerprint.
    private static func patient(_ row: Row) throws -> EnrolledPatient {
        func corrupt(_ reason: String) -> StoreError { .corruptRow(table: "patients", reason: reason) }
        guard let id = try? PeerID(row["id"] as String) else { throw corrupt("not a patient id") }
        guard let group = try? TelemedGroup.named(row["key_group"] as String) else {
            throw corrupt("\(id) has an unknown group")
        }
        guard let data = row["public_key"] as Data?, let key = try? PublicKey(group: group, bytes: [UInt8](data)) else {
            throw corrupt("\(id) has no valid public key of \(group.name)")
        }
        guard (row["fingerprint"] as String?) == key.fingerprint.hex else {
            throw corrupt("\(id): the stored fingerprint does not match its key")
        }
        let revoked = (row["revoked_at"] as Int64?).map { UInt64(clamping: $0) }
        return EnrolledPatient(id: id, publicKey: key, enrolledAt: UInt64(clamping: row["enrolled_at"] as Int64),
                               revokedAt: revoked)
    }

    /// Runs a read, mapping every failure to a ``StoreError``.
    private func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try writer.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .readFailed("\(error)")
        }
    }

    /// Runs one write transaction; a ``RegistryError`` thrown inside rolls it back and comes out
    /// as ``StoreError/registry(_:)``.
    private func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try writer.write(body)
        } catch let error as RegistryError {
            throw .registry(error)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .writeFailed("\(error)")
        }
    }
}
