import Foundation
import XCTest
import TelemedSimulation

/// Where the package's Fixtures folder is, found from this file's path.
enum FixturePaths {
    static var root: String {
        let file = URL(fileURLWithPath: #filePath)
        return file.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    static var fixtures: String { root + "/Fixtures" }

    /// Every scenario file, as the executable finds them for `simulate Fixtures/`.
    static func scenarioFiles() throws -> [String] {
        try ScenarioRunner.scenarioFiles(for: [fixtures])
    }
}

/// Builds a scenario from JSON text through the same decoder the executable uses.
func scenario(_ json: String, name: String = "inline") throws(ScenarioError) -> Scenario {
    try ScenarioDecoder.decode(Array(json.utf8), name: name)
}

/// The error `ScenarioDecoder.decode` throws for `bytes`, nil when they decode.
func scenarioError(_ bytes: [UInt8]) -> ScenarioError? {
    do {
        _ = try ScenarioDecoder.decode(bytes, name: "inline")
        return nil
    } catch {
        return error
    }
}

/// The error `ScenarioDecoder.decode` throws for `json`, nil when it decodes.
func scenarioError(_ json: String) -> ScenarioError? {
    scenarioError(Array(json.utf8))
}

/// The failure text of a report: every failed expectation, violation and the abort reason.
func failureText(_ report: ScenarioReport) -> String {
    let lines = (report.abort.map { ["aborted: \($0)"] } ?? []) + report.failedExpectations + report.violations
    return (lines + ["reproduce: \(report.reproduceCommand)"]).joined(separator: "\n")
}
