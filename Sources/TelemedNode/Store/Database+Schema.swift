import GRDB

// MARK: - Schema

/// The doctor's database: security state (blocks, failure counters, T0), the patient registry
/// (enrolled and revoked patients, retired keys) and the audit log.
enum DoctorDatabase {
    /// Opens (creating if needed) the database at `path` in WAL mode with full syncs.
    ///
    /// `synchronous = FULL` is set on the writer connection after the pool is open: GRDB's
    /// `DatabasePool` sets `synchronous = NORMAL` when it switches the writer to WAL, after
    /// `prepareDatabase` has run, so a pragma there alone leaves commits without their fsync.
    static func open(path: String) throws(StoreError) -> any DatabaseWriter {
        var configuration = Configuration()
        configuration.label = "telemed-doctor"
        // The running doctor and the offline commands (`doctor enroll`, `revoke`) share the
        // file: a writer that finds it locked waits for the other instead of failing at once.
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        // Owner-only, like every file of the state directory; SQLite gives the -wal and -shm
        // files the permissions of the database file.
        if let failure = PrivateFiles.createOwnerOnly(path) { throw .openFailed(path: path, reason: failure) }
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try migrate(pool)
            return pool
        } catch {
            throw .openFailed(path: path, reason: "\(error)")
        }
    }

    /// A private in-memory database (the simulator and tests).
    static func inMemory() throws(StoreError) -> any DatabaseWriter {
        do {
            let queue = try DatabaseQueue()
            try migrate(queue)
            return queue
        } catch {
            throw .openFailed(path: ":memory:", reason: "\(error)")
        }
    }

    private static func migrate(_ writer: any DatabaseWriter) throws {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
                CREATE TABLE source_blocks (source BLOB PRIMARY KEY NOT NULL, until INTEGER NOT NULL);
                CREATE TABLE prefix_blocks (prefix BLOB PRIMARY KEY NOT NULL, until INTEGER NOT NULL);
                CREATE TABLE device_blocks (patient TEXT NOT NULL, source BLOB NOT NULL, until INTEGER NOT NULL,
                                            PRIMARY KEY (patient, source));
                CREATE TABLE failures (source BLOB NOT NULL, at INTEGER NOT NULL);
                CREATE INDEX failures_by_source ON failures (source);
                CREATE TABLE device_block_history (patient TEXT NOT NULL, source BLOB NOT NULL, at INTEGER NOT NULL);
                CREATE TABLE manual_unblocks (id INTEGER PRIMARY KEY AUTOINCREMENT, wall INTEGER NOT NULL,
                                              target TEXT NOT NULL);
                CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, wall INTEGER NOT NULL, kind TEXT NOT NULL,
                                    rule TEXT, patient TEXT, source TEXT, connection INTEGER, epoch INTEGER,
                                    seq INTEGER, detail TEXT NOT NULL);
                CREATE INDEX audit_by_kind ON audit (kind);
                """)
        }
        // The patient registry (issue 13): who is enrolled with which public key, who was
        // revoked, and every key that was revoked or replaced (never enrolled again).
        // `key_group` is the group's name; `public_key` its L-byte encoding; `fingerprint` the
        // 64 hex digits of KeyFingerprint (SHA-256 of `public_key`). At most one enrolled
        // (not revoked) row holds a given key.
        migrator.registerMigration("v2-registry") { db in
            try db.execute(sql: """
                CREATE TABLE patients (id TEXT PRIMARY KEY NOT NULL, key_group TEXT NOT NULL,
                                       public_key BLOB NOT NULL, fingerprint TEXT NOT NULL,
                                       enrolled_at INTEGER NOT NULL, revoked_at INTEGER);
                CREATE UNIQUE INDEX patients_enrolled_key ON patients (fingerprint) WHERE revoked_at IS NULL;
                CREATE TABLE retired_keys (fingerprint TEXT PRIMARY KEY NOT NULL, patient TEXT NOT NULL,
                                           key_group TEXT NOT NULL, retired_at INTEGER NOT NULL,
                                           reason TEXT NOT NULL);
                """)
        }
        try migrator.migrate(writer)
    }
}
