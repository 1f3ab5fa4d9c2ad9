import Foundation
import XCTest
@testable import TelemedSimulation

/// R-FS, the erasure half of attack 30 (PROTOCOL.md §8.4, §8.8): after a version-2 run, the
/// persisted store, the audit log and the simulator trace hold none of that run's a, b, Z, K,
/// K_GWN or SK.
///
/// Production entry points exercised: the real `DoctorNode` and `PatientNode` of a simulated
/// run (`Simulation.runScript`, the code path of `simulate`) writing the doctor's
/// `SecurityStore` (a SQLite file here, read back table by table through
/// `SecurityStore.dumpTables` and byte by byte from disk) and its `AuditLog`. The secrets come
/// from the harness's insider route (`DrawRecorder.swift`, `Simulation+Recovery.swift`): it
/// rebuilt each a and b from the randomness it handed the machines, so the test first asserts
/// that it learned every kind of secret, and that its scanner finds one when it is planted.
final class ErasureScanTests: XCTestCase {
    /// One secret in every spelling looked for.
    private struct Needle {
        let kind: String
        let what: String
        let raw: [UInt8]
        let forms: [String]
    }

    /// The kinds of secret and how the harness labels them in its SecretBook.
    private static let kinds: [(kind: String, matches: @Sendable (String) -> Bool)] = [
        ("a", { $0.hasPrefix("a of ") && $0.contains("insider") }),
        ("b", { $0.hasPrefix("b for ") && $0.contains("insider") }),
        ("Z", { $0.hasPrefix("Z of ") }),
        ("K", { $0.hasPrefix("K of ") }),
        ("K_GWN", { $0.hasPrefix("K_GWN for ") }),
        ("SK", { $0.hasPrefix("SK of ") && $0.contains("v2, insider") }),
        ("k_d2p/k_p2d", { ($0.hasPrefix("k_d2p of ") || $0.hasPrefix("k_p2d of ")) && $0.contains("v2, insider") }),
    ]

    func testVersion2RunLeavesNoneOfItsSecretsInStoreAuditOrTrace() throws {
        let file = FixturePaths.fixtures + "/version-2.json"
        let scenario = try ScenarioRunner.load(file: file)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("telemed-erasure-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let storePath = folder.appendingPathComponent("doctor.sqlite").path

        let simulation = try Simulation(scenario: scenario, seed: scenario.seed, workers: 2, storePath: storePath)
        let report = simulation.runScript(file: file)
        XCTAssertTrue(report.passed, failureText(report))

        // The harness must have learned each kind of secret, or the scan below proves nothing.
        var needles: [Needle] = []
        for (hex, what) in simulation.secrets.hexSecrets.sorted(by: { $0.key < $1.key }) {
            guard let kind = Self.kinds.first(where: { $0.matches(what) })?.kind, let raw = Self.bytes(hex) else { continue }
            needles.append(Needle(kind: kind, what: what, raw: raw,
                                  forms: [hex, hex.uppercased(), Self.decimal(raw)]))
        }
        for (kind, _) in Self.kinds {
            let count = needles.filter { $0.kind == kind }.count
            XCTAssertGreaterThanOrEqual(count, 2, "the harness learned \(count) \(kind) of the run's v2 handshakes")
        }
        XCTAssertTrue(needles.contains { $0.kind == "a" && $0.raw.count == 32 }, "a is a 32-byte scalar")
        XCTAssertTrue(needles.contains { $0.kind == "Z" && $0.raw.count == 256 }, "Z is an L-byte element")

        // (a) The trace: every line, then the whole text (a secret split across lines counts).
        let lines = simulation.trace.lines
        XCTAssertGreaterThan(lines.count, 50)
        var findings: [String] = []
        for (index, line) in lines.enumerated() {
            findings += Self.find(needles, inText: line, bytes: Array(line.utf8), place: "trace line \(index)")
        }
        let whole = lines.joined(separator: "\n")
        findings += Self.find(needles, inText: whole, bytes: Array(whole.utf8), place: "the whole trace")

        // (b) The store: every table, row and column, as stored and as hex; then the files on disk.
        let cells = try simulation.persistedCells()
        XCTAssertTrue(cells.contains { $0.place.hasPrefix("audit[") }, "the dump reaches the audit table")
        XCTAssertTrue(cells.contains { $0.place.hasPrefix("meta[") }, "the dump reaches the meta table")
        for cell in cells {
            let text = String(decoding: cell.bytes, as: UTF8.self)
            findings += Self.find(needles, inText: text, bytes: cell.bytes, place: cell.place)
            findings += Self.find(needles, inText: Self.hex(cell.bytes), bytes: [], place: "\(cell.place) as hex")
        }
        for suffix in ["", "-wal", "-shm"] {
            guard let data = FileManager.default.contents(atPath: storePath + suffix) else { continue }
            let bytes = [UInt8](data)
            findings += Self.find(needles, inText: String(decoding: bytes, as: UTF8.self), bytes: bytes,
                                  place: "doctor.sqlite\(suffix) on disk")
        }
        XCTAssertNotNil(FileManager.default.contents(atPath: storePath), "the store was written to disk")

        // (c) The audit log as an operator reads it.
        let audit = try simulation.auditTexts()
        XCTAssertGreaterThan(audit.count, 3)
        for (index, row) in audit.enumerated() {
            findings += Self.find(needles, inText: row, bytes: Array(row.utf8), place: "audit row \(index)")
        }

        XCTAssertEqual(findings, [], "secrets of the run found")

        // The scanner itself finds a planted secret in every form.
        for kind in ["a", "b", "Z", "SK"] {
            guard let needle = needles.first(where: { $0.kind == kind }) else { continue }
            for form in needle.forms {
                let planted = (lines.first ?? "") + form
                XCTAssertFalse(Self.find([needle], inText: planted, bytes: [], place: "planted").isEmpty, "\(kind) as \(form.prefix(8))…")
            }
            XCTAssertFalse(Self.find([needle], inText: "", bytes: [1, 2] + needle.raw + [3], place: "planted").isEmpty)
        }
    }

    // MARK: - Helpers

    private static func find(_ needles: [Needle], inText text: String, bytes: [UInt8], place: String) -> [String] {
        var found: [String] = []
        for needle in needles {
            if let form = needle.forms.first(where: { text.contains($0) }) {
                found.append("\(needle.what) as \(form == needle.forms.last ? "decimal" : "hex") in \(place)")
            } else if !bytes.isEmpty, contains(bytes, needle.raw) {
                found.append("\(needle.what) as raw bytes in \(place)")
            }
        }
        return found
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count, let first = needle.first else { return false }
        var index = 0
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func bytes(_ hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case 0x30...0x39: return digit - 0x30
            case 0x61...0x66: return digit - 0x61 + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            out.append(high << 4 | low)
        }
        return out
    }

    /// The big-endian unsigned integer `bytes` in decimal (schoolbook division by 10).
    static func decimal(_ bytes: [UInt8]) -> String {
        var number = Array(bytes.drop { $0 == 0 })
        guard !number.isEmpty else { return "0" }
        var digits: [UInt8] = []
        while !number.isEmpty {
            var remainder = 0
            var quotient: [UInt8] = []
            quotient.reserveCapacity(number.count)
            for byte in number {
                let value = remainder * 256 + Int(byte)
                let digit = UInt8(value / 10)
                remainder = value % 10
                if !quotient.isEmpty || digit != 0 { quotient.append(digit) }
            }
            digits.append(UInt8(remainder) + 0x30)
            number = quotient
        }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }

    func testDecimalHelper() {
        XCTAssertEqual(Self.decimal([0x01, 0x00]), "256")
        XCTAssertEqual(Self.decimal([0x00, 0xff]), "255")
        XCTAssertEqual(Self.decimal([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), "18446744073709551615")
        XCTAssertEqual(Self.decimal([0]), "0")
    }
}
