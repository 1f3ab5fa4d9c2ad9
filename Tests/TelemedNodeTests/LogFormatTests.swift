import Foundation
import Logging
import TelemedCrypto
import TelemedNode
import TelemedProtocol
import XCTest

/// `--log-format text|json` on both executables, and the JSON line format itself.
final class LogFormatTests: XCTestCase {
    /// ``JSONLogHandler/log(event:)``: one JSON object per line with the stable keys in order,
    /// metadata as an object (nested values kept), UTC ISO 8601 timestamps, and every control
    /// character a peer could put into a value escaped.
    func testJSONLinesHaveTheStableKeysAndEscapeEverything() throws {
        let lines = LineSink()
        var logger = Logger(label: "telemed.test") { label in
            JSONLogHandler(label: label, sink: .custom { lines.append($0) })
        }
        logger[metadataKey: "node"] = "doctor"
        logger.notice("rejected \u{1B}[31m\u{07}\n", metadata: [
            "source": "127.0.0.1", "members": .array(["alice", "bob"]), "nested": .dictionary(["k": "v\"\\"]),
        ])
        logger.debug("below the level: not written")
        XCTAssertEqual(lines.all.count, 1)
        let line = try XCTUnwrap(lines.all.first)
        XCTAssertFalse(line.contains("\n") || line.contains("\u{1B}") || line.contains("\u{07}"), line)
        XCTAssertTrue(line.hasPrefix("{\"ts\":\""), line)
        let keys = ["\"ts\":", "\"level\":", "\"label\":", "\"message\":", "\"source\":", "\"metadata\":"]
        let positions = keys.compactMap { line.range(of: $0)?.lowerBound }
        XCTAssertEqual(positions.count, keys.count, line)
        XCTAssertEqual(positions, positions.sorted(), "keys out of order: \(line)")

        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(object["level"] as? String, "notice")
        XCTAssertEqual(object["label"] as? String, "telemed.test")
        XCTAssertEqual(object["message"] as? String, "rejected \u{1B}[31m\u{07}\n")
        XCTAssertEqual(object["source"] as? String, "TelemedNodeTests")
        let metadata = try XCTUnwrap(object["metadata"] as? [String: Any])
        XCTAssertEqual(metadata["node"] as? String, "doctor")
        XCTAssertEqual(metadata["source"] as? String, "127.0.0.1")
        XCTAssertEqual(metadata["members"] as? [String], ["alice", "bob"])
        XCTAssertEqual((metadata["nested"] as? [String: String])?["k"], "v\"\\")
        let stamp = try XCTUnwrap(object["ts"] as? String)
        XCTAssertNotNil(stamp.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/), stamp)
    }

    /// The timestamp of ``JSONLogHandler`` against Foundation's ISO 8601 formatter, on dates
    /// around leap days, century years and the epoch.
    func testJSONTimestampsAreUTCISO8601() throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var generator = SystemRandomNumberGenerator()
        let fixed = [0, 951_782_400, 951_868_799, 4_107_542_400, 1_796_461_252, 253_402_300_799]
        let seconds = fixed + (0..<500).map { _ in Int.random(in: 0...4_102_444_800, using: &generator) }
        for second in seconds {
            let lines = LineSink()
            let logger = Logger(label: "t") { label in
                JSONLogHandler(label: label, sink: .custom { lines.append($0) }, now: { (second, 7) })
            }
            logger.info("x")
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(lines.all.first).utf8)) as? [String: Any])
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(second) + 0.007))
            XCTAssertEqual(object["ts"] as? String, expected, "second \(second)")
        }
    }

    /// The `doctor serve` and `patient` executables at `--log-level trace` in each
    /// `--log-format`: a login and a broadcast produce log lines (every one a JSON object in
    /// json), and no line holds the patient's or the doctor's private key.
    func testNoSecretInEitherLogFormat() async throws {
        guard let doctorBinary = builtExecutable("doctor"), let patientBinary = builtExecutable("patient") else {
            throw XCTSkip("the doctor and patient executables are not built (run `swift build` first)")
        }
        for format in LogFormat.allCases {
            let directory = try temporaryDirectory("logs-\(format)")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let logging = ["--log-level", "trace", "--log-format", format.rawValue]
            let doctor = try Spawned(doctorBinary, ["serve", "--demo-enroll", "alice", "--port", String(try freeLoopbackPort()), "--state-dir", "state"] + logging,
                                     directory: directory, name: "doctor")
            defer { doctor.stop() }
            let listening = await doctor.waitFor("type \"help\" for commands")
            XCTAssertTrue(listening, doctor.output + doctor.errors)
            let alice = try Spawned(patientBinary, ["alice", "--state-dir", "state"] + logging, directory: directory, name: "alice")
            defer { alice.stop() }
            let joined = await alice.waitFor("group key epoch 1")
            XCTAssertTrue(joined, alice.output + alice.errors)
            doctor.type("broadcast the secret word is swordfish")
            let received = await alice.waitFor("swordfish")
            XCTAssertTrue(received, alice.output)
            doctor.type("quit")
            _ = await doctor.waitForExit()
            _ = await alice.waitForExit()

            let aliceKey = try PatientDevice(directory: directory + "/state").loadKey(try PeerID("alice")).scalarBytes
            let doctorKey = try KeyStore(directory: directory + "/state").loadDoctor().privateKey.scalarBytes
            for (name, text) in [("doctor", doctor.errors), ("alice", alice.errors)] {
                let lines = text.split(separator: "\n")
                XCTAssertGreaterThan(lines.count, 3, "\(format): \(name) logged almost nothing: \(text)")
                for secret in [aliceKey, doctorKey] {
                    let hex = secret.map { String(format: "%02x", $0) }.joined()
                    for needle in [hex, hex.uppercased(), secret.map(String.init).joined(separator: ", ")] {
                        XCTAssertFalse(text.contains(needle), "\(format): \(name)'s log holds a private key")
                    }
                }
                switch format {
                case .json:
                    for line in lines {
                        let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                        XCTAssertNotNil(object?["ts"], "\(name): not a JSON log line: \(line)")
                        XCTAssertNotNil(object?["metadata"] as? [String: Any], "\(name): \(line)")
                    }
                case .text:
                    XCTAssertFalse(lines.contains { $0.hasPrefix("{") }, "\(name): JSON in text format: \(text)")
                }
            }
            XCTAssertTrue(doctor.errors.contains("patient authenticated"), doctor.errors)
        }
    }
}

/// Collects log lines (thread-safe).
private final class LineSink: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}
