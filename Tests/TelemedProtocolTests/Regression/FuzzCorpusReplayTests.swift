
import Foundation
import XCTest
import TelemedCrypto
@testable import TelemedProtocol

// MARK: - FuzzCorpusReplayTests
//
// Replays the committed seed corpora of the libFuzzer targets (Fuzz/corpus/) and every
// regression input (Regression/Inputs/) through the same drivers the fuzz targets run:
// FuzzHarness/*.swift are symlinks to Fuzz/Sources/FuzzHarness/, so the invariant checks of
// the fuzzer also run in `swift test`. A violation fails the test with the file's name.

/// Paths of the fuzz corpora and regression inputs, found from this file.
enum FuzzFiles {
    static let regressionDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let root = regressionDirectory
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The files of Fuzz/corpus/<target>, sorted by name.
    static func corpus(_ target: String) throws -> [(name: String, bytes: [UInt8])] {
        try files(in: root.appendingPathComponent("Fuzz/corpus/\(target)"))
    }

    /// The regression inputs whose names start with `prefix`.
    static func inputs(_ prefix: String) throws -> [(name: String, bytes: [UInt8])] {
        try files(in: regressionDirectory.appendingPathComponent("Inputs")).filter { $0.name.hasPrefix(prefix) }
    }

    /// One regression input by name.
    static func input(_ name: String) throws -> [UInt8] {
        let url = regressionDirectory.appendingPathComponent("Inputs/\(name)")
        return [UInt8](try Data(contentsOf: url))
    }

    static func files(in directory: URL) throws -> [(name: String, bytes: [UInt8])] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        return try names.map { name in
            (name, [UInt8](try Data(contentsOf: directory.appendingPathComponent(name))))
        }
    }
}

final class FuzzCorpusReplayTests: XCTestCase {
    func testFrameCorpusKeepsDecoderProperties() throws {
        let files = try FuzzFiles.corpus("frame") + FuzzFiles.inputs("frame-")
        XCTAssertFalse(files.isEmpty, "Fuzz/corpus/frame is empty")
        for file in files {
            XCTAssertNoThrow(try FrameDecoderCheck.run(file.bytes), "frame input \(file.name)")
        }
    }

    func testMessageCorpusRoundTrips() throws {
        let files = try FuzzFiles.corpus("message") + FuzzFiles.inputs("message-")
        XCTAssertFalse(files.isEmpty, "Fuzz/corpus/message is empty")
        var decoded = 0
        let codec = MessageCodec(groupName: "telemed-2048-256", elementLength: 256)
        for file in files {
            XCTAssertNoThrow(try MessageCodecCheck.run(file.bytes), "message input \(file.name)")
            if (try? codec.decode(file.bytes)) != nil { decoded += 1 }
        }
        // The worked example's eight bodies (and two variants) are valid: the round trip ran.
        XCTAssertGreaterThanOrEqual(decoded, 8)
    }

    func testDoctorScriptCorpusKeepsInvariants() throws {
        let files = try FuzzFiles.corpus("doctor") + FuzzFiles.inputs("doctor-")
        XCTAssertFalse(files.isEmpty, "Fuzz/corpus/doctor is empty")
        for file in files {
            XCTAssertNoThrow(try DoctorScript.run(file.bytes), "doctor script \(file.name)")
        }
    }

    /// The checker itself must be able to fail: a doctor that sends GROUP_KEY to a connection
    /// that never completed a handshake is reported.
    func testDoctorCheckerRejectsGroupKeyToUnauthenticatedConnection() throws {
        let world = DoctorScriptWorld.shared
        var checker = DoctorScriptChecker(configuration: world.configuration, group: world.group)
        let connection = ConnectionID(1)
        checker.opened(connection)
        let codec = MessageCodec(groupName: world.group.name, elementLength: world.group.elementLength)
        let body = codec.encode(.groupKey(GroupKeyMessage(epoch: 0, seq: 0, members: 1, ct: [UInt8](repeating: 0, count: 48))))
        XCTAssertThrowsError(try checker.check([.send(connection, body)], doctor: world.template,
                                               now: Instant(wall: DoctorScriptWorld.startWall, monotonic: 0)))
        XCTAssertThrowsError(try checker.check([.close(ConnectionID(9))], doctor: world.template,
                                               now: Instant(wall: DoctorScriptWorld.startWall, monotonic: 0)))
    }
}
