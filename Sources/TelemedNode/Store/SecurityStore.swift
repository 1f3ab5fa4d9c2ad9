import Foundation
import GRDB
import TelemedProtocol

// MARK: - SecurityStore

/// The doctor's durable security state in SQLite (WAL, `synchronous = FULL`): T0, source,
/// prefix and device blocks, failure counters and the repeated-block history, plus the audit
/// log (``AuditLog``) in the same file.
///
/// ``apply(_:at:)`` writes synchronously and returns only once the transaction is committed, so
/// a host that applies each `.persist` before the next action never acknowledges something a
/// crash could forget. Operator unblocks are also kept in `manual_unblocks`.
///
/// Not thread-safe by contract: one node uses it from one place at a time (GRDB serialises
/// writes anyway).
public final class SecurityStore {
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

    /// Writes one change durably.
    public func apply(_ change: SecurityChange, at wall: UInt64) throws(StoreError) {
        try apply([change], at: wall)
    }

    /// Writes consecutive changes in one transaction; returns once it is committed.
    /// `wall` is the doctor's wall clock when the changes were made (for the device-block
    /// history and the record of manual unblocks).
    public func apply(_ changes: [SecurityChange], at wall: UInt64) throws(StoreError) {
        guard !changes.isEmpty else { return }
        do {
            try writer.write { db in
                for change in changes { try Self.write(change, at: Int64(clamping: wall), db) }
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
}
