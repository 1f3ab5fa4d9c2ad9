import TelemedNode

// MARK: - What the doctor persisted
//
// The erasure test of R-FS (PROTOCOL.md §8.8 attack 30) scans everything a run left behind
// for that run's secrets. These read the doctor's store as stored: every table (SQLite's own
// included), every row, every column, each value as its raw bytes (a blob as is, text as
// UTF-8, a number as its decimal text), and the audit log as the typed rows an operator reads.

/// One stored cell: where it is, and its bytes.
struct PersistedCell {
    /// `audit[3].detail`.
    let place: String
    let bytes: [UInt8]
}

extension Simulation {
    /// Every cell of every table of the doctor's store.
    func persistedCells() throws(SimulationFailure) -> [PersistedCell] {
        let tables: [StoredTable]
        do {
            tables = try store.dumpTables()
        } catch {
            throw SimulationFailure(message: "the store could not be read: \(error)")
        }
        var cells: [PersistedCell] = []
        for table in tables {
            for (index, row) in table.rows.enumerated() {
                for (column, value) in row {
                    let bytes: [UInt8]
                    switch value {
                    case .null: continue
                    case let .integer(number): bytes = Array(String(number).utf8)
                    case let .real(number): bytes = Array(String(number).utf8)
                    case let .text(text): bytes = Array(text.utf8)
                    case let .blob(blob): bytes = blob
                    }
                    cells.append(PersistedCell(place: "\(table.name)[\(index)].\(column)", bytes: bytes))
                }
            }
        }
        return cells
    }

    /// The audit log as an operator reads it: one text per row.
    func auditTexts() throws(SimulationFailure) -> [String] {
        do {
            return try audit.rows().map { "\($0)" }
        } catch {
            throw SimulationFailure(message: "the audit log could not be read: \(error)")
        }
    }
}
