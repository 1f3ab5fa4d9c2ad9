import Foundation
import Logging

/// Loggers for the runtime under test: silent unless `TELEMED_TEST_LOG=1` (then every line at
/// `info` and above goes to standard output, as swift-log's default handler writes it).
/// Keeps `swift test` output to the test results; set the variable to see what the nodes did.
enum TestLog {
    /// Whether log lines are asked for.
    static let enabled = ProcessInfo.processInfo.environment["TELEMED_TEST_LOG"].map { $0 != "" && $0 != "0" } ?? false

    /// A logger labelled `label`.
    static func logger(_ label: String) -> Logger {
        if enabled { return Logger(label: label) { StreamLogHandler.standardOutput(label: $0) } }
        return Logger(label: label) { _ in SwiftLogNoOpLogHandler() }
    }
}
