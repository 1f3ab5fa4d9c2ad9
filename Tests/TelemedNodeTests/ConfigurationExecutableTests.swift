import Foundation
import TelemedTestSupport
import XCTest

/// The `doctor` executable's settings (issue 15.1) driven as an operator would: `doctor serve
/// --config`, `doctor config --print`, TELEMED_DOCTOR_* variables and flags, and the console's
/// `unblock` hint. Production entry points: `doctor serve` and `doctor config --print`
/// (Sources/doctor/Settings.swift, `ResolvedSettings.resolve`), the console's block event.
final class ConfigurationExecutableTests: XCTestCase {
    func run(_ binary: URL, _ arguments: [String], in directory: String,
             environment: [String: String] = [:]) async throws -> (status: Int32?, output: String) {
        let process = try Spawned(binary, arguments, directory: directory, name: arguments.first ?? "",
                                  environment: environment)
        let status = await process.waitForExit()
        try await Task.sleep(for: .milliseconds(50))  // the pipes hand over the last lines
        return (status, process.output + process.errors)
    }

    func doctor() throws -> URL {
        guard let binary = builtExecutable("doctor") else {
            throw XCTSkip("the doctor executable is not built (run `swift build` first)")
        }
        return binary
    }

    /// `doctor serve --config bad.json`: a value out of range is refused with key, value, source
    /// and range; the process exits 1 and the state directory is never created. The same for a
    /// mistyped key, a value of the wrong type and a bad trusted-source entry.
    func testABadConfigurationFileIsRefusedAndChangesNothing() async throws {
        let binary = try doctor()
        let directory = try temporaryDirectory("config-bad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cases: [(file: String, expected: String)] = [
            (#"{"failureThreshold": 0}"#, "failureThreshold = 0 (file bad.json) is outside the allowed range 1...100"),
            (#"{"epochWindowMillis": 5000}"#, "epochWindowMillis = 5000 (file bad.json) is outside the allowed range 0...1000"),
            (#"{"handshakeWorkers": 999}"#, "handshakeWorkers = 999 (file bad.json) is outside the allowed range 0...256"),
            (#"{"failureTreshold": 3}"#, #"unknown key "failureTreshold" in bad.json"#),
            (#"{"pendingTotal": "many"}"#, "pendingTotal (file bad.json) is not a whole number"),
            (#"{"trustedSources": ["10.0.0.0/40"]}"#, #"trustedSources entry "10.0.0.0/40" (file bad.json)"#),
            ("[1, 2]", "cannot read the configuration file bad.json: not a JSON object"),
        ]
        for (file, expected) in cases {
            try Data(file.utf8).write(to: URL(fileURLWithPath: directory + "/bad.json"))
            let result = try await run(binary, ["serve", "--config", "bad.json", "--port", "0", "--state-dir", "state"],
                                       in: directory)
            XCTAssertEqual(result.status, 1, "\(file): \(result.output)")
            XCTAssertTrue(result.output.contains(expected), "\(file): \(result.output)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/state"),
                           "\(file): a refused configuration created the state directory")
        }
        // An existing state directory is left exactly as it was.
        try FileManager.default.createDirectory(atPath: directory + "/state", withIntermediateDirectories: true)
        try Data(#"{"blockDurationMillis": 1}"#.utf8).write(to: URL(fileURLWithPath: directory + "/bad.json"))
        let result = try await run(binary, ["serve", "--config", "bad.json", "--port", "0", "--state-dir", "state"],
                                   in: directory)
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("blockDurationMillis = 1 (file bad.json) is outside the allowed range 60000...604800000"),
                      result.output)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory + "/state"), [])
    }

    /// `doctor config --print`: flags win over TELEMED_DOCTOR_* variables, which win over the
    /// file, which wins over the default; each row names where its value came from.
    func testPrecedenceAndConfigPrint() async throws {
        let binary = try doctor()
        let directory = try temporaryDirectory("config-print")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(#"{"failureThreshold": 7, "pendingTotal": 100, "epochWindowMillis": 40, "trustedSources": ["10.1.2.9/24"]}"#.utf8)
            .write(to: URL(fileURLWithPath: directory + "/clinic.json"))
        let result = try await run(
            binary, ["config", "--print", "--config", "clinic.json", "--failure-threshold", "9", "--handshake-workers", "0"],
            in: directory,
            environment: ["TELEMED_DOCTOR_FAILURE_THRESHOLD": "8", "TELEMED_DOCTOR_PENDING_TOTAL": "200",
                          "TELEMED_DOCTOR_BLOCK_DURATION_MILLIS": "120000"])
        XCTAssertEqual(result.status, 0, result.output)
        func row(_ key: String) -> [String] {
            let line = result.output.split(separator: "\n").first { $0.hasPrefix(key + " ") } ?? ""
            return line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        }
        XCTAssertEqual(row("failureThreshold"), ["failureThreshold", "9", "1...100", "flag", "--failure-threshold"])
        XCTAssertEqual(row("pendingTotal"), ["pendingTotal", "200", "1...1000000", "env", "TELEMED_DOCTOR_PENDING_TOTAL"])
        XCTAssertEqual(row("blockDurationMillis"),
                       ["blockDurationMillis", "120000", "60000...604800000", "env", "TELEMED_DOCTOR_BLOCK_DURATION_MILLIS"])
        XCTAssertEqual(row("epochWindowMillis"), ["epochWindowMillis", "40", "0...1000", "file", "clinic.json"])
        XCTAssertEqual(row("trustedSources"), ["trustedSources", "10.1.2.0/24", "0...1024", "entries", "file", "clinic.json"])
        XCTAssertEqual(row("timeWindowMillis"), ["timeWindowMillis", "30000", "1000...300000", "default"])
        XCTAssertEqual(row("handshakeWorkers"), ["handshakeWorkers", "0", "0...256", "flag", "--handshake-workers"])
        XCTAssertEqual(row("minimumVersion"), ["minimumVersion", "2", "1...2", "default"])

        // The minimum protocol version is a setting like the others: file, environment, and the
        // flag under both spellings (`--min-version` is the short one); 3 is refused.
        try Data(#"{"minimumVersion": 1}"#.utf8).write(to: URL(fileURLWithPath: directory + "/migrating.json"))
        let fromFile = try await run(binary, ["config", "--print", "--config", "migrating.json"], in: directory)
        XCTAssertTrue(fromFile.output.contains("minimumVersion"), fromFile.output)
        XCTAssertTrue(fromFile.output.split(separator: "\n").contains { $0.hasPrefix("minimumVersion ") && $0.contains(" 1 ") && $0.contains("file") },
                      fromFile.output)
        let fromFlag = try await run(binary, ["config", "--print", "--config", "migrating.json", "--min-version", "2"],
                                     in: directory, environment: ["TELEMED_DOCTOR_MINIMUM_VERSION": "1"])
        XCTAssertTrue(fromFlag.output.split(separator: "\n").contains { $0.hasPrefix("minimumVersion ") && $0.contains(" 2 ") && $0.contains("--minimum-version") },
                      fromFlag.output)
        let three = try await run(binary, ["config", "--print"], in: directory, environment: ["TELEMED_DOCTOR_MINIMUM_VERSION": "3"])
        XCTAssertEqual(three.status, 1, three.output)
        XCTAssertTrue(three.output.contains("minimumVersion = 3 (env TELEMED_DOCTOR_MINIMUM_VERSION) is outside the allowed range 1...2"),
                      three.output)

        // A bad environment value names the variable and its text.
        let bad = try await run(binary, ["config", "--print"], in: directory,
                                environment: ["TELEMED_DOCTOR_REPLAY_QUOTA_PER_ID": "lots"])
        XCTAssertEqual(bad.status, 1, bad.output)
        XCTAssertTrue(bad.output.contains(#"replayQuotaPerID = "lots" (env TELEMED_DOCTOR_REPLAY_QUOTA_PER_ID) is not a whole number"#),
                      bad.output)
    }

    /// `doctor serve --failure-threshold 1`: one malformed frame from 127.0.0.2 blocks it and the
    /// console prints the exact `unblock` command, which lifts the block when typed; a source in
    /// `--trusted-sources` sends the same frames and is never blocked.
    func testTheConsolePrintsTheUnblockCommandAndTrustedSourcesAreNotBlocked() async throws {
        let binary = try doctor()
        let directory = try temporaryDirectory("config-serve")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let doctor = try Spawned(binary, ["serve", "--port", "0", "--state-dir", "state", "--failure-threshold", "1",
                                          "--trusted-sources", "127.0.0.3"],
                                 directory: directory, name: "doctor")
        defer { doctor.stop() }
        let listening = await doctor.waitFor("type \"help\" for commands")
        XCTAssertTrue(listening, doctor.output + doctor.errors)
        let portText = doctor.output.components(separatedBy: "listening on 127.0.0.1:").dropFirst().first?
            .prefix { $0.isNumber } ?? ""
        let port = try XCTUnwrap(Int(portText), doctor.output)
        let garbage: [UInt8] = [0, 0, 0, 8] + Array("not json".utf8)

        for _ in 0..<3 {
            let trusted = try RawSocket(port: port, from: "127.0.0.3")
            try trusted.write(garbage)
            _ = try? trusted.readFrame()
        }
        let rejected = await eventually { doctor.output.components(separatedBy: "from 127.0.0.3").count == 4 }
        XCTAssertTrue(rejected, doctor.output)
        XCTAssertFalse(doctor.output.contains("blocked source 127.0.0.3"), doctor.output)

        let attacker = try RawSocket(port: port, from: "127.0.0.2")
        try attacker.write(garbage)
        let blocked = await doctor.waitFor("to lift it, type: unblock 127.0.0.2")
        XCTAssertTrue(blocked, doctor.output)
        doctor.type("unblock 127.0.0.2")
        let lifted = await doctor.waitFor("unblocked source 127.0.0.2")
        XCTAssertTrue(lifted, doctor.output)
    }

    /// The DocC article Configuration.md against `doctor config --print` (the production table):
    /// every numeric key appears with its default, its range, its variable and its flag.
    func testTheConfigurationArticleListsEveryKeyAsPrinted() async throws {
        let binary = try doctor()
        let directory = try temporaryDirectory("config-doc")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let article = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/TelemedNode/TelemedNode.docc/Configuration.md")
        let text = try String(contentsOf: article, encoding: .utf8)
        let printed = try await run(binary, ["config", "--print"], in: directory)
        XCTAssertEqual(printed.status, 0, printed.output)
        let rows = printed.output.split(separator: "\n").dropFirst().map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(rows.count, 21, printed.output)
        for row in rows where row.count >= 3 {
            let key = row[0]
            if key == "handshakeWorkers" || key == "trustedSources" {
                XCTAssertTrue(text.contains("| `\(key)` |"), key)
                continue
            }
            XCTAssertTrue(text.contains("| `\(key)` | \(row[1]) | \(row[2]) |"), "\(key) \(row[1]) \(row[2]) is not in the article")
        }
        for variable in ["TELEMED_DOCTOR_FAILURE_THRESHOLD", "TELEMED_DOCTOR_REPLAY_QUOTA_PER_ID", "--replay-quota-per-id",
                         "TELEMED_DOCTOR_MINIMUM_VERSION",
                         "--repeated-device-block-alert-sources", "TELEMED_DOCTOR_TRUSTED_SOURCES"] {
            XCTAssertTrue(text.contains("`\(variable)`"), variable)
        }
        // The flags the article names exist: `serve --help` lists them.
        let help = try await run(binary, ["serve", "--help"], in: directory)
        for row in rows where !row.isEmpty {
            let flag = "--" + row[0].replacingOccurrences(of: "([a-z0-9])([A-Z])", with: "$1-$2", options: .regularExpression)
                .lowercased()
            XCTAssertTrue(help.output.contains(flag), "serve --help lacks \(flag)")
            XCTAssertTrue(text.contains("`\(flag)`"), "the article lacks \(flag)")
        }
    }
}
