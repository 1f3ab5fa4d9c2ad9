import Foundation
import GRDB
import TelemedProtocol

// MARK: - SecurityStore

/// The embedded ``DoctorStore``: the doctor's durable state in one SQLite file (WAL) — T0,
/// source, prefix and device blocks, failure counters and the repeated-block history, the
/// patient registry and the audit log (``AuditLog``).
///
/// ``commit(_:durability:)`` writes a group of batches in one transaction and returns once it
/// is committed: with `synchronous = FULL` (the WAL is fsynced) when the group is
/// ``StoreDurability/durable``, with `synchronous = NORMAL` for that one transaction when it is
/// ``StoreDurability/relaxed`` (audit rows alone: in the WAL, in order, not fsynced until the
/// next durable commit or checkpoint). Registry changes and the start record are always
/// durable. Operator unblocks are also kept in `manual_unblocks`.
///
/// Safe to use from several threads: GRDB serialises the writes on its writer queue and runs
/// reads on a pool of readers.
public final class SecurityStore: DoctorStore {
    let writer: any DatabaseWriter
    /// The database file, or `:memory:`.
    public let path: String

    /// Opens or creates the database at `path`.
    public init(path: String) throws(StoreError) {
        self.writer = try DoctorDatabase.open(path: path)
        self.path = path
    }

    private init(writer: any DatabaseWriter) {
        self.writer = writer
        self.path = ":memory:"
    }

    /// A private in-memory store (the simulator and tests).
    public static func inMemory() throws(StoreError) -> SecurityStore {
        SecurityStore(writer: try DoctorDatabase.inMemory())
    }

    /// The database file, or `:memory:`.
    public var location: String { path }

    // MARK: - Loading

    /// The saved state, as a restarted doctor hands it to its machine.
    public func load() throws(StoreError) -> SecurityState {
        do {
            return try writer.read { db in try Self.readState(db) }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .readFailed("\(error)")
        }
    }

    private static func readState(_ db: Database) throws -> SecurityState {
        var state = SecurityState()
        state.startTime = try UInt64(clamping: Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'start_time'") ?? 0)
        for row in try Row.fetchAll(db, sql: "SELECT source, until FROM source_blocks") {
            state.sourceBlocks[try source(row["source"], "source_blocks")] = UInt64(clamping: row["until"] as Int64)
        }
        for row in try Row.fetchAll(db, sql: "SELECT prefix, until FROM prefix_blocks") {
            let bytes = [UInt8]((row["prefix"] as Data?) ?? Data())
            guard bytes.count == 3 || bytes.count == 6 else {
                throw StoreError.corruptRow(table: "prefix_blocks", reason: "prefix of \(bytes.count) bytes")
            }
            state.prefixBlocks[SourcePrefix(bytes: bytes)] = UInt64(clamping: row["until"] as Int64)
        }
        for row in try Row.fetchAll(db, sql: "SELECT patient, source, until FROM device_blocks") {
            let device = DeviceKey(patient: try patient(row["patient"], "device_blocks"),
                                   source: try source(row["source"], "device_blocks"))
            state.deviceBlocks[device] = UInt64(clamping: row["until"] as Int64)
        }
        for row in try Row.fetchAll(db, sql: "SELECT source, at FROM failures ORDER BY at, rowid") {
            state.failures[try source(row["source"], "failures"), default: []].append(UInt64(clamping: row["at"] as Int64))
        }
        for row in try Row.fetchAll(db, sql: "SELECT patient, source, at FROM device_block_history ORDER BY at, rowid") {
            let record = DeviceBlockRecord(source: try source(row["source"], "device_block_history"),
                                           at: UInt64(clamping: row["at"] as Int64))
            state.deviceBlockHistory[try patient(row["patient"], "device_block_history"), default: []].append(record)
        }
        return state
    }

    private static func source(_ data: Data?, _ table: String) throws -> SourceAddress {
        guard let data, let source = SourceAddress(storedBytes: [UInt8](data)) else {
            throw StoreError.corruptRow(table: table, reason: "not a source address")
        }
        return source
    }

    private static func patient(_ text: String?, _ table: String) throws -> PeerID {
        guard let text, let id = try? PeerID(text) else {
            throw StoreError.corruptRow(table: table, reason: "not a patient id")
        }
        return id
    }

    // MARK: - Writing

    /// Writes the batches, in order, in one transaction: each batch's security changes, then
    /// its audit rows. Returns once committed with `durability`; throws having written nothing.
    public func commit(_ batches: [StoreBatch], durability: StoreDurability) throws(StoreError) {
        guard batches.contains(where: { !$0.isEmpty }) else { return }
        do {
            try writer.writeWithoutTransaction { db in
                // Set for every commit: FULL is the connection's standing level (registry
                // writes rely on it), NORMAL only for the one relaxed transaction.
                try db.execute(sql: durability == .durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
                defer { if durability == .relaxed { try? db.execute(sql: "PRAGMA synchronous = FULL") } }
                try db.inTransaction(.immediate) {
                    for batch in batches {
                        let wall = Int64(clamping: batch.wall)
                        for change in batch.changes { try Self.write(change, at: wall, db) }
                        for row in batch.audit { try Self.insertAudit(row, db) }
                    }
                    return .commit
                }
            }
        } catch {
            throw .writeFailed("\(error)")
        }
    }

    private static func write(_ change: SecurityChange, at wall: Int64, _ db: Database) throws {
        switch change {
        case let .startTimeRecorded(time):
            try db.execute(sql: """
                INSERT INTO meta (key, value) VALUES ('start_time', ?)
                ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)
                """, arguments: [Int64(clamping: time)])
        case let .failureCounted(source, at):
            let key = Data(source.bytes)
            try db.execute(sql: "INSERT INTO failures (source, at) VALUES (?, ?)", arguments: [key, Int64(clamping: at)])
            try db.execute(sql: """
                DELETE FROM failures WHERE source = ? AND rowid NOT IN
                  (SELECT rowid FROM failures WHERE source = ? ORDER BY at DESC, rowid DESC LIMIT 100)
                """, arguments: [key, key])
        case let .failuresCleared(source):
            try db.execute(sql: "DELETE FROM failures WHERE source = ?", arguments: [Data(source.bytes)])
        case let .blocked(target, until):
            try writeBlock(target, until: Int64(clamping: until), at: wall, db)
        case let .unblocked(target, reason):
            try deleteBlock(target, db)
            if reason == .operatorUnblock {
                try db.execute(sql: "INSERT INTO manual_unblocks (wall, target) VALUES (?, ?)",
                               arguments: [wall, target.description])
            }
        }
    }

    private static func writeBlock(_ target: BlockTarget, until: Int64, at wall: Int64, _ db: Database) throws {
        switch target {
        case let .source(source):
            try db.execute(sql: "INSERT OR REPLACE INTO source_blocks (source, until) VALUES (?, ?)",
                           arguments: [Data(source.bytes), until])
        case let .prefix(prefix):
            try db.execute(sql: "INSERT OR REPLACE INTO prefix_blocks (prefix, until) VALUES (?, ?)",
                           arguments: [Data(prefix.bytes), until])
        case let .device(device):
            try db.execute(sql: "INSERT OR REPLACE INTO device_blocks (patient, source, until) VALUES (?, ?, ?)",
                           arguments: [device.patient.value, Data(device.source.bytes), until])
            try db.execute(sql: "INSERT INTO device_block_history (patient, source, at) VALUES (?, ?, ?)",
                           arguments: [device.patient.value, Data(device.source.bytes), wall])
            try db.execute(sql: "DELETE FROM device_block_history WHERE at < ?",
                           arguments: [wall - 24 * 3_600_000])
        }
    }

    private static func deleteBlock(_ target: BlockTarget, _ db: Database) throws {
        switch target {
        case let .source(source):
            try db.execute(sql: "DELETE FROM source_blocks WHERE source = ?", arguments: [Data(source.bytes)])
        case let .prefix(prefix):
            try db.execute(sql: "DELETE FROM prefix_blocks WHERE prefix = ?", arguments: [Data(prefix.bytes)])
        case let .device(device):
            try db.execute(sql: "DELETE FROM device_blocks WHERE patient = ? AND source = ?",
                           arguments: [device.patient.value, Data(device.source.bytes)])
        }
    }

    /// SQLite's `PRAGMA integrity_check` on the whole file: `["ok"]` for a sound database,
    /// otherwise one message per problem found (for an operator after a crash, and for tests).
    public func integrityCheck() throws(StoreError) -> [String] {
        do {
            return try writer.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        } catch {
            throw .readFailed("\(error)")
        }
    }

    /// The writer connection's `PRAGMA synchronous` level (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA),
    /// for the tests that pin the durability of commits.
    package func writerSynchronousLevel() throws(StoreError) -> Int {
        do {
            return try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
        } catch {
            throw .readFailed("\(error)")
        }
    }

    /// The operator unblocks recorded so far: (wall ms, target description), oldest first.
    public func manualUnblocks() throws(StoreError) -> [(wall: UInt64, target: String)] {
        do {
            return try writer.read { db in
                try Row.fetchAll(db, sql: "SELECT wall, target FROM manual_unblocks ORDER BY id").map {
                    (wall: UInt64(clamping: $0["wall"] as Int64), target: $0["target"] as String)
                }
            }
        } catch {
            throw .readFailed("\(error)")
        }
    }

    // MARK: - Audit log

    /// Audit rows in order, optionally only of one kind, at most `limit` of the most recent.
    public func auditRows(kind: AuditKind?, limit: Int) throws(StoreError) -> [AuditRow] {
        do {
            return try writer.read { db in
                let filter = kind == nil ? "" : "WHERE kind = ?"
                let arguments: StatementArguments = kind.map { [$0.rawValue, limit] } ?? [limit]
                let fetched = try Row.fetchAll(db, sql: """
                    SELECT * FROM (SELECT * FROM audit \(filter) ORDER BY id DESC LIMIT ?) ORDER BY id
                    """, arguments: arguments)
                return try fetched.map(Self.auditRow)
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .readFailed("\(error)")
        }
    }

    /// Inserts one audit row inside a transaction the caller holds (the registry writes its
    /// audit rows in the same transaction as the change they record).
    static func insertAudit(_ row: AuditRow, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO audit (wall, kind, rule, patient, source, connection, epoch, seq, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [Int64(clamping: row.wall), row.kind.rawValue, row.rule, row.patient,
                             row.source, row.connection.map { Int64(clamping: $0) },
                             row.epoch.map { Int64(clamping: $0) }, row.seq.map { Int64(clamping: $0) },
                             row.detail])
    }

    private static func auditRow(_ row: Row) throws -> AuditRow {
        guard let kind = AuditKind(rawValue: row["kind"] as String) else {
            throw StoreError.corruptRow(table: "audit", reason: "unknown kind")
        }
        func unsigned(_ column: String) -> UInt64? { (row[column] as Int64?).map { UInt64(clamping: $0) } }
        return AuditRow(id: row["id"], wall: unsigned("wall") ?? 0, kind: kind, rule: row["rule"],
                        patient: row["patient"], source: row["source"], connection: unsigned("connection"),
                        epoch: unsigned("epoch"), seq: unsigned("seq"), detail: row["detail"])
    }
}
