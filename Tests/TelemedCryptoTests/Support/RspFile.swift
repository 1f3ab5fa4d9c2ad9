/// One generic loader for NIST CAVS `.rsp` files: `[Section]` lines, `Key = Value` lines,
/// `#` comments, records separated by blank lines.
struct RspFile {
    struct Record {
        let section: String
        let fields: [String: String]
    }

    let records: [Record]

    init(text: String) {
        var section = ""
        var fields: [String: String] = [:]
        var out: [Record] = []
        func flush() {
            if !fields.isEmpty { out.append(Record(section: section, fields: fields)) }
            fields = [:]
        }
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { flush(); continue }
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("[") { flush(); section = String(line.dropFirst().dropLast()); continue }
            guard let equals = line.firstIndex(of: "=") else { continue }
            fields[line[..<equals].trimmingCharacters(in: .whitespaces)] =
                line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        flush()
        records = out
    }
}

import Foundation
