import TelemedProtocol

// MARK: - TraceRecorder

/// The trace of one run: JSON lines with a fixed key order (`t`, `type`, then the event's
/// fields in the order the harness writes them). It never holds a secret or a plaintext: a
/// broadcast appears as its length and a SHA-256 prefix, a frame as its opcode, length and
/// digest prefix; the harness scans every line for every secret it knows.
struct TraceRecorder {
    /// The lines so far, without newlines.
    private(set) var lines: [String] = []
    /// Lines are not kept beyond this many (the scenario fails instead).
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Appends one event line; false when the trace is full.
    mutating func append(time: UInt64, type: String, fields: [(String, JSONValue)]) -> String? {
        guard lines.count < capacity else { return nil }
        let line = JSONValue.object([("t", .uint(time)), ("type", .string(type))] + fields).compactText
        lines.append(line)
        return line
    }

    /// The `type` of a line this recorder wrote (`{"t":…,"type":"frame",…}`).
    static func type(of line: String) -> String {
        guard let start = line.firstRange(of: "\"type\":\"") else { return "?" }
        let rest = line[start.upperBound...]
        return String(rest.prefix { $0 != "\"" })
    }
}
