/// One generic loader for Botan's `.vec` format: `[Section]` headers, `Key = Value` lines,
/// `#` comments. A record is emitted when the output key (e.g. `Out`) is read. Botan clears
/// the collected keys after each record unless the test keeps them (DSA and DH-invalid files
/// set P, Q, G once for many records): `persistent` chooses.
struct BotanVectorFile {
    struct Record {
        let section: String
        let line: Int
        let fields: [String: String]

        func required(_ key: String) throws -> String {
            guard let value = fields[key] else { throw LoaderError.missingKey(key, line: line) }
            return value
        }
    }

    enum LoaderError: Error { case missingKey(String, line: Int), malformedLine(Int) }

    let records: [Record]

    init(text: String, outputKey: String, persistent: Bool) throws {
        var section = ""
        var fields: [String: String] = [:]
        var out: [Record] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
                fields = [:]
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { throw LoaderError.malformedLine(number + 1) }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            fields[key] = value
            if key == outputKey {
                out.append(Record(section: section, line: number + 1, fields: fields))
                if persistent { fields[outputKey] = nil } else { fields = [:] }
            }
        }
        records = out
    }
}

import Foundation
