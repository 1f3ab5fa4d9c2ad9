#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

// MARK: - LogFormat

/// How the executables write log lines on standard error (`--log-format`).
public enum LogFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    /// swift-log's human-readable line: `2026-12-05T09:00:52+0000 info telemed.doctor: key=value [module] message`.
    case text
    /// One JSON object per line with the stable keys `ts`, `level`, `label`, `message`,
    /// `source` and `metadata` (see ``JSONLogHandler``).
    case json

    public var description: String { rawValue }
}

extension LogFormat {
    /// A factory for `LoggingSystem.bootstrap`: every logger writes to standard error in this
    /// format, at `level` and above.
    public func handlerFactory(level: Logger.Level) -> @Sendable (String) -> any LogHandler {
        switch self {
        case .text:
            return { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        case .json:
            return { label in
                var handler = JSONLogHandler(label: label, sink: .standardError)
                handler.logLevel = level
                return handler
            }
        }
    }
}

// MARK: - JSONLogHandler

/// A swift-log handler that writes one JSON object per line.
///
/// Keys, always in this order: `ts` (UTC ISO 8601 with milliseconds, `2026-12-05T09:00:52.123Z`),
/// `level` (`trace` … `critical`), `label` (the logger's label, e.g. `telemed.doctor`),
/// `message`, `source` (the module that logged), and `metadata` (an object: the handler's
/// metadata merged with the message's; strings stay strings, `Logger.MetadataValue` arrays and
/// dictionaries become JSON arrays and objects). Every string is escaped per RFC 8259, so a
/// line never contains a raw newline or control character, whatever a peer managed to put
/// into a logged value.
public struct JSONLogHandler: LogHandler {
    /// Where lines go.
    public struct Sink: Sendable {
        let deliver: @Sendable (String) -> Void

        /// Writes each line (with its newline) to file descriptor 2 in one `write(2)` call.
        public static let standardError = Sink(deliver: { line in
            var bytes = Array(line.utf8)
            bytes.append(0x0A)
            bytes.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                var offset = 0
                while offset < raw.count {
                    let written = write(2, base + offset, raw.count - offset)
                    if written <= 0 { return }
                    offset += written
                }
            }
        })

        /// Hands each line (without its newline) to `write` (tests).
        public static func custom(_ write: @escaping @Sendable (String) -> Void) -> Sink {
            Sink(deliver: write)
        }
    }

    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    private let label: String
    private let sink: Sink
    private let now: @Sendable () -> (seconds: Int, milliseconds: Int)

    /// A handler for the logger `label` writing to `sink`.
    public init(label: String, sink: Sink) {
        self.init(label: label, sink: sink, now: JSONLogHandler.wallClock)
    }

    /// A handler with its own clock (seconds and milliseconds since the Unix epoch).
    package init(label: String, sink: Sink, now: @escaping @Sendable () -> (seconds: Int, milliseconds: Int)) {
        self.label = label
        self.sink = sink
        self.now = now
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let (seconds, milliseconds) = now()
        var line = "{\"ts\":"
        Self.appendString(Self.iso8601(seconds: seconds, milliseconds: milliseconds), to: &line)
        line += ",\"level\":"
        Self.appendString(event.level.rawValue, to: &line)
        line += ",\"label\":"
        Self.appendString(label, to: &line)
        line += ",\"message\":"
        Self.appendString(event.message.description, to: &line)
        line += ",\"source\":"
        Self.appendString(event.source, to: &line)
        line += ",\"metadata\":"
        Self.appendObject(merged, to: &line)
        line += "}"
        sink.deliver(line)
    }

    // MARK: - Formatting

    /// `seconds` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian, UTC).
    static func iso8601(seconds: Int, milliseconds: Int) -> String {
        UTCDate.iso8601(millis: Int64(seconds) * 1_000 + Int64(milliseconds), fraction: true)
    }

    /// The system's wall clock.
    static let wallClock: @Sendable () -> (seconds: Int, milliseconds: Int) = {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return (Int(spec.tv_sec), Int(spec.tv_nsec) / 1_000_000)
    }

    static func appendString(_ text: String, to line: inout String) {
        line += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }

    static func appendObject(_ metadata: Logger.Metadata, to line: inout String) {
        line += "{"
        for (index, key) in metadata.keys.sorted().enumerated() {
            if index > 0 { line += "," }
            appendString(key, to: &line)
            line += ":"
            if let value = metadata[key] { appendValue(value, to: &line) }
        }
        line += "}"
    }

    static func appendValue(_ value: Logger.MetadataValue, to line: inout String) {
        switch value {
        case let .string(text):
            appendString(text, to: &line)
        case let .stringConvertible(convertible):
            appendString(convertible.description, to: &line)
        case let .array(values):
            line += "["
            for (index, element) in values.enumerated() {
                if index > 0 { line += "," }
                appendValue(element, to: &line)
            }
            line += "]"
        case let .dictionary(dictionary):
            appendObject(dictionary, to: &line)
        }
    }
}
