import Logging

// MARK: - LogSink

/// Collects the log lines the nodes write, so that they go into the trace (and through the
/// secret scan) instead of the console.
final class LogSink {
    /// One captured line.
    struct Line {
        let actor: String
        let level: Logger.Level
        let message: String
        /// Metadata sorted by key (dictionary order is not stable across processes).
        let metadata: [(String, String)]
    }

    private(set) var lines: [Line] = []

    func append(_ line: Line) { lines.append(line) }

    /// Removes and returns the lines captured so far.
    func take() -> [Line] {
        defer { lines = [] }
        return lines
    }
}

// MARK: - CapturingLogHandler

/// A swift-log handler that writes into a ``LogSink``.
///
/// `@unchecked Sendable`: swift-log requires handlers to be `Sendable`, but a simulation
/// runs on one thread and its sink is never touched from another.
struct CapturingLogHandler: LogHandler, @unchecked Sendable {
    let actor: String
    let sink: LogSink
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        for (key, value) in event.metadata ?? [:] { merged[key] = value }
        let pairs = merged.map { ($0.key, "\($0.value)") }.sorted { $0.0 < $1.0 }
        sink.append(LogSink.Line(actor: actor, level: event.level, message: "\(event.message)", metadata: pairs))
    }

    /// A logger for `actor` writing into `sink`.
    static func logger(_ actor: String, sink: LogSink) -> Logger {
        Logger(label: "sim.\(actor)") { _ in CapturingLogHandler(actor: actor, sink: sink) }
    }
}
