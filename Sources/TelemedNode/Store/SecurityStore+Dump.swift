import Foundation
import GRDB

// MARK: - Raw dump (package)

/// One stored value, as SQLite holds it.
package enum StoredValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// One table of the store, every row and column.
package struct StoredTable: Sendable {
    /// The table's name (`sqlite_schema` order).
    package let name: String
    /// Each row as (column, value) pairs, in the table's column order.
    package let rows: [[(column: String, value: StoredValue)]]
}

extension SecurityStore {
    /// Every table of the database (SQLite's own `sqlite_*` tables included), every row and
    /// every column, as stored. For the simulator's erasure scan (PROTOCOL.md §8.8 attack 30:
    /// no run's a, b, Z, K, K_GWN or SK is ever persisted), which must look at what is on disk
    /// rather than at what the typed accessors choose to return.
    package func dumpTables() throws(StoreError) -> [StoredTable] {
        do {
            return try writer.read { db in
                let names = try String.fetchAll(db, sql: "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
                var tables: [StoredTable] = []
                for name in names {
                    let quoted = "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
                    var rows: [[(column: String, value: StoredValue)]] = []
                    for row in try Row.fetchAll(db, sql: "SELECT * FROM \(quoted)") {
                        var columns: [(column: String, value: StoredValue)] = []
                        for (column, value) in row {
                            columns.append((column, Self.stored(value)))
                        }
                        rows.append(columns)
                    }
                    tables.append(StoredTable(name: name, rows: rows))
                }
                return tables
            }
        } catch {
            throw .readFailed("\(error)")
        }
    }

    private static func stored(_ value: DatabaseValue) -> StoredValue {
        switch value.storage {
        case .null: return .null
        case let .int64(number): return .integer(number)
        case let .double(number): return .real(number)
        case let .string(text): return .text(text)
        case let .blob(data): return .blob([UInt8](data))
        }
    }
}
