import Foundation
import TelemedNode
import TelemedTestSupport
import XCTest

/// `doctor serve --metrics-port 0`: the Prometheus endpoint scraped over real HTTP while a
/// patient logs in, a raw client fails a handshake, and a broadcast goes out.
final class MetricsEndpointTests: XCTestCase {
    /// Exercises `doctor serve --metrics-port` (MetricsEndpoint, ``DoctorMetrics``,
    /// ``DoctorService/sampleMetrics()``): the text format parses, every family named in
    /// ``DoctorMetrics/Name`` that has a value moved as the doctor's events say, and any other
    /// path is a 404.
    func testAScrapeOverHTTPShowsTheLoginTheRejectionAndTheBroadcast() async throws {
        guard let doctorBinary = builtExecutable("doctor"), let patientBinary = builtExecutable("patient") else {
            throw XCTSkip("the doctor and patient executables are not built (run `swift build` first)")
        }
        let directory = try temporaryDirectory("metrics")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let doctor = try Spawned(doctorBinary, ["serve", "--demo-enroll", "alice", "--port", String(try freeLoopbackPort()), "--metrics-port", "0",
                                                "--state-dir", "state"], directory: directory, name: "doctor")
        defer { doctor.stop() }
        let listening = await doctor.waitFor("type \"help\" for commands")
        XCTAssertTrue(listening, doctor.output + doctor.errors)
        let metricsPort = try XCTUnwrap(Self.port(after: "metrics on http://127.0.0.1:", in: doctor.output), doctor.output)
        let doctorPort = try XCTUnwrap(Self.port(after: "listening on 127.0.0.1:", in: doctor.output), doctor.output)

        let before = try Self.parse(try Self.get("/metrics", port: metricsPort).body)
        XCTAssertEqual(before["telemed_doctor_handshakes_total{outcome=\"authenticated\",rule=\"none\"}"], 0)
        XCTAssertEqual(before["telemed_doctor_members"], 0)

        let alice = try Spawned(patientBinary, ["alice", "--state-dir", "state"], directory: directory, name: "alice")
        defer { alice.stop() }
        let joined = await alice.waitFor("group key epoch 1")
        XCTAssertTrue(joined, alice.output + alice.errors)
        // A client that sends a frame of garbage in its handshake is rejected.
        let raw = try RawSocket(port: doctorPort)
        try raw.write([0, 0, 0, 3, 0xFF, 0xFE, 0xFD])
        _ = try? raw.readUntilEndOfStream()
        doctor.type("broadcast metrics check")
        let receipt = await doctor.waitFor("receipt from alice")
        XCTAssertTrue(receipt, doctor.output)

        let scrape = try Self.get("/metrics", port: metricsPort)
        XCTAssertTrue(scrape.head.hasPrefix("HTTP/1.1 200"), scrape.head)
        XCTAssertTrue(scrape.head.lowercased().contains("content-type: text/plain; version=0.0.4"), scrape.head)
        let after = try Self.parse(scrape.body)
        XCTAssertEqual(after["telemed_doctor_handshakes_total{outcome=\"authenticated\",rule=\"none\"}"], 1, scrape.body)
        let rejected = after.filter { $0.key.hasPrefix("telemed_doctor_handshakes_total{outcome=\"rejected\"") }
        XCTAssertEqual(rejected.values.reduce(0, +), 1, scrape.body)
        XCTAssertEqual(after["telemed_doctor_members"], 1)
        XCTAssertEqual(after["telemed_doctor_epoch"], 1)
        XCTAssertEqual(after["telemed_doctor_epochs_total"], 1)
        XCTAssertEqual(after["telemed_doctor_broadcasts_total"], 1)
        XCTAssertEqual(after["telemed_doctor_broadcast_recipients_total"], 1)
        XCTAssertEqual(after["telemed_doctor_receipts_total{known=\"true\"}"], 1)
        XCTAssertEqual(after["telemed_doctor_login_seconds_count"], 1, scrape.body)
        XCTAssertGreaterThan(after["telemed_doctor_login_seconds_sum"] ?? 0, 0)
        XCTAssertGreaterThan(after["telemed_doctor_store_commit_seconds_count{durability=\"durable\"}"] ?? 0, 0, scrape.body)
        XCTAssertEqual(after["telemed_doctor_pending_handshakes"], 0)
        XCTAssertNotNil(after["telemed_doctor_table_entries{table=\"replay_cache\"}"], scrape.body)
        XCTAssertFalse(scrape.body.contains("127.0.0.1") || scrape.body.contains("alice"), "an address or id as a label")

        let missing = try Self.get("/other", port: metricsPort)
        XCTAssertTrue(missing.head.hasPrefix("HTTP/1.1 404"), missing.head)
        doctor.type("quit")
        _ = await doctor.waitForExit()
        _ = await alice.waitForExit()
    }

    /// The number after `marker` in `text`.
    static func port(after marker: String, in text: String) -> Int? {
        guard let range = text.range(of: marker) else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    /// One HTTP/1.1 GET over a plain socket: the response head and body.
    static func get(_ path: String, port: Int) throws -> (head: String, body: String) {
        let socket = try RawSocket(port: port)
        try socket.write(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
        let text = String(decoding: try socket.readUntilEndOfStream(), as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw RawSocket.Failure(description: "no HTTP head: \(text)") }
        return (String(text[..<split.lowerBound]), String(text[split.upperBound...]))
    }

    /// The Prometheus text format: `name{labels} value` per sample (labels as written).
    static func parse(_ body: String) throws -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in body.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                throw RawSocket.Failure(description: "not a sample line: \(line)")
            }
            samples[String(line[..<space])] = value
        }
        return samples
    }
}
