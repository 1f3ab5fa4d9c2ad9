import TelemedProtocol

// MARK: - ScenarioError

/// A scenario that cannot be run: unreadable, not JSON, or not a valid scenario. The message
/// names the JSON path of the problem (`$.steps[3].expect.rejected: unknown rule id "R-FOO"`).
public struct ScenarioError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file, when known.
    public var file: String?
    /// The JSON path of the problem (`$` for the whole document).
    public var path: String
    /// What is wrong.
    public var message: String

    /// An error at `path`.
    public init(file: String? = nil, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    /// `Fixtures/x.json: $.steps[3].expect.rejected: unknown rule id "R-FOO"`.
    public var description: String {
        (file.map { "\($0): " } ?? "") + "\(path): \(message)"
    }
}

// MARK: - ObjectReader

/// Reads one JSON object of a scenario, field by field, remembering which keys were used so
/// that ``finish()`` can refuse unknown ones. Every error carries the field's path.
struct ObjectReader {
    let path: String
    private let pairs: [(String, JSONValue)]
    private var used: Set<String> = []

    init(_ value: JSONValue, at path: String) throws(ScenarioError) {
        guard case let .object(members) = value else {
            throw ScenarioError(path: path, message: "expected an object, found \(value.kindName)")
        }
        let pairs = members.map { (String(decoding: $0.key, as: UTF8.self), $0.value) }
        var seen: Set<String> = []
        for (key, _) in pairs where !seen.insert(key).inserted {
            throw ScenarioError(path: "\(path).\(key)", message: "duplicate key")
        }
        self.path = path
        self.pairs = pairs
    }

    func child(_ key: String) -> String { "\(path).\(key)" }

    var keys: [String] { pairs.map(\.0) }

    func has(_ key: String) -> Bool { pairs.contains { $0.0 == key } }

    mutating func value(_ key: String) -> JSONValue? {
        guard let pair = pairs.first(where: { $0.0 == key }) else { return nil }
        used.insert(key)
        return pair.1
    }

    mutating func require(_ key: String) throws(ScenarioError) -> JSONValue {
        guard let value = value(key) else { throw ScenarioError(path: child(key), message: "missing") }
        return value
    }

    mutating func string(_ key: String) throws(ScenarioError) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value.stringValue else {
            throw ScenarioError(path: child(key), message: "expected a string, found \(value.kindName)")
        }
        return text
    }

    mutating func requireString(_ key: String) throws(ScenarioError) -> String {
        guard let text = try string(key) else { throw ScenarioError(path: child(key), message: "missing") }
        return text
    }

    mutating func bool(_ key: String) throws(ScenarioError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case let .bool(flag) = value else {
            throw ScenarioError(path: child(key), message: "expected true or false, found \(value.kindName)")
        }
        return flag
    }

    mutating func uint(_ key: String, max: UInt64 = UInt64.max) throws(ScenarioError) -> UInt64? {
        guard let value = value(key) else { return nil }
        guard let number = value.uintValue, number <= max else {
            throw ScenarioError(path: child(key), message: "expected a whole number 0...\(max), found \(Self.show(value))")
        }
        return number
    }

    mutating func int(_ key: String) throws(ScenarioError) -> Int64? {
        guard let value = value(key) else { return nil }
        guard let number = value.intValue else {
            throw ScenarioError(path: child(key), message: "expected a whole number, found \(Self.show(value))")
        }
        return number
    }

    mutating func probability(_ key: String) throws(ScenarioError) -> Double? {
        guard let value = value(key) else { return nil }
        guard let number = value.doubleValue, number >= 0, number <= 1 else {
            throw ScenarioError(path: child(key), message: "expected a probability 0...1, found \(Self.show(value))")
        }
        return number
    }

    mutating func array(_ key: String) throws(ScenarioError) -> [JSONValue]? {
        guard let value = value(key) else { return nil }
        guard case let .array(items) = value else {
            throw ScenarioError(path: child(key), message: "expected an array, found \(value.kindName)")
        }
        return items
    }

    /// A string or an array of strings.
    mutating func strings(_ key: String) throws(ScenarioError) -> [String]? {
        guard let value = value(key) else { return nil }
        switch value {
        case .string: return value.stringValue.map { [$0] }
        case let .array(items):
            var out: [String] = []
            for (index, item) in items.enumerated() {
                guard let text = item.stringValue else {
                    throw ScenarioError(path: "\(child(key))[\(index)]", message: "expected a string, found \(item.kindName)")
                }
                out.append(text)
            }
            return out
        default:
            throw ScenarioError(path: child(key), message: "expected a string or an array of strings, found \(value.kindName)")
        }
    }

    /// Refuses keys that were never read.
    func finish() throws(ScenarioError) {
        for key in keys where !used.contains(key) {
            throw ScenarioError(path: child(key), message: "unknown key")
        }
    }

    static func show(_ value: JSONValue) -> String {
        let text = value.compactText
        return text.count > 40 ? String(text.prefix(40)) + "…" : text
    }
}
