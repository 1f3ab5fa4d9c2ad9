import Foundation
import TelemedProtocol
import XCTest
@testable import TelemedSimulation

/// The story `simulate` prints for people (issue 16 item 5), through its production entry
/// points: `ScenarioRunner.load`/`run` for the reports, `StoryWriter.lines(for:)` for the text
/// the executable prints, `Glossary.firstMentions(in:)`, `UTCText`, and the built `simulate`
/// executable itself for the exit status of a file without steps and for `--explain`.
final class StoryTests: XCTestCase {
    private static let reports = Cache()

    /// Reports of the fixtures these tests read, run once.
    private final class Cache: @unchecked Sendable {
        private var stored: [String: ScenarioReport] = [:]
        private let lock = NSLock()

        func report(_ name: String) throws -> ScenarioReport {
            lock.lock()
            defer { lock.unlock() }
            if let report = stored[name] { return report }
            let file = FixturePaths.fixtures + "/\(name).json"
            let report = ScenarioRunner.run(try ScenarioRunner.load(file: file), file: file)
            stored[name] = report
            return report
        }
    }

    // MARK: - Headlines

    /// `Simulation.describe(_ spec:)` through `ScenarioRunner.run`: the eight forged requests of
    /// forged-signatures.json each say what is forged, so no two headlines are alike.
    func testEveryForgedSignatureStepHasItsOwnHeadline() throws {
        let report = try Self.reports.report("forged-signatures")
        let forged = report.steps.prefix(8).map(\.headline)
        XCTAssertEqual(Set(forged).count, 8, forged.joined(separator: "\n"))
        let expected = ["with a random (r, s)", "r = 0 (out of range)", "r = 1 (the identity element)",
                        "r = p−1 (the element of order 2)", "r = p (the modulus itself, out of range)", "s = 0 (out of range)",
                        "s = q (the subgroup order, one past the largest scalar)", "with alice's valid signature over other bytes"]
        for (headline, special) in zip(forged, expected) {
            XCTAssertTrue(headline.contains(special), "\(headline) does not say \(special)")
        }
    }

    /// Edits of captured frames are named one by one (`Simulation.describe(_ mutation:)`).
    func testEditedFramesNameTheirEdits() throws {
        let report = try Self.reports.report("broadcast-forgery-and-replay")
        let headlines = report.steps.map(\.headline)
        XCTAssertTrue(headlines.contains { $0.contains("edited: seq set to 7; signature recomputed with mallory's key") },
                      headlines.joined(separator: "\n"))
        XCTAssertFalse(headlines.contains { $0.contains("edit(s)") }, "an edit count instead of the edits")
    }

    // MARK: - The story

    /// `StoryWriter.lines(for:)`: a symbol or rule id is explained under its first mention in a
    /// run and never again; `glossary: false` prints no ⓘ line and otherwise the same lines.
    func testGlossaryLinesExplainEachTermOnceInARun() throws {
        let first = try Self.reports.report("forged-signatures")
        let second = try Self.reports.report("stale-and-future-timestamps")
        var writer = StoryWriter()
        let lines = writer.lines(for: first) + writer.lines(for: second)
        let glossary = lines.filter { $0.contains("ⓘ ") }
        let explained = glossary.compactMap { $0.components(separatedBy: "ⓘ ").last?.components(separatedBy: " — ").first }
        XCTAssertEqual(explained.count, Set(explained).count, "a term explained twice: \(explained)")
        for term in ["R-SIG", "REJECTED", "(r, s)", "KEY_VERIFICATION", "ΔTS", "ts_i", "R-TIME", "epoch"] {
            XCTAssertTrue(explained.contains(term), "\(term) never explained; explained: \(explained)")
        }
        // Explained right under the line of its first mention.
        let firstSig = try XCTUnwrap(lines.firstIndex { $0.contains("R-SIG") && !$0.contains("ⓘ") })
        XCTAssertTrue(lines[(firstSig + 1)...].prefix(4).contains { $0.contains("ⓘ R-SIG — ") }, lines[firstSig])

        var plain = StoryWriter(glossary: false)
        let plainLines = plain.lines(for: first) + plain.lines(for: second)
        XCTAssertFalse(plainLines.contains { $0.contains("ⓘ") })
        XCTAssertEqual(plainLines, lines.filter { !$0.contains("ⓘ ") })
    }

    /// `StoryWriter.lines(for:)`: every protocol timestamp in the story carries its UTC time, each
    /// step shows its true UTC time, and the same report gives the same bytes.
    func testTimestampsAreShownInUTCAndTheStoryIsDeterministic() throws {
        let report = try Self.reports.report("stale-and-future-timestamps")
        var writer = StoryWriter()
        let lines = writer.lines(for: report)
        let stamped = lines.filter { $0.range(of: #"(?<![0-9A-Za-z_.])1[0-9]{12}(?![0-9A-Za-z_])"#, options: .regularExpression) != nil }
        XCTAssertFalse(stamped.isEmpty, "the fixture should print protocol timestamps")
        for line in stamped where !line.contains("startWall") {
            XCTAssertNotNil(line.range(of: #"1[0-9]{12} \[20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z\]"#, options: .regularExpression), line)
        }
        XCTAssertTrue(lines.contains { $0.contains("virtual time 0 is 2025-11-24T16:00:00.000Z (startWall 1764000000000 ms)") })
        XCTAssertTrue(lines.contains { $0.hasPrefix("      0.000s  2025-11-24T16:00:00.000Z  #0  ") }, lines.prefix(8).joined(separator: "\n"))
        var again = StoryWriter()
        XCTAssertEqual(again.lines(for: report), lines)
    }

    // MARK: - Pieces

    /// `Glossary.firstMentions(in:)` matches whole words only: SKV is not SK, and
    /// `epochs-join-leave` does not mention an epoch.
    func testGlossaryMatchesWholeWords() {
        var glossary = Glossary()
        XCTAssertEqual(glossary.firstMentions(in: "guessed SKV in epochs-join-leave").map { String($0.prefix(5)) }, ["SKV —"])
        XCTAssertEqual(glossary.firstMentions(in: "SKV again, then SK and R-SIG").map { String($0.prefix(7)) }, ["SK — th", "R-SIG —"])
        XCTAssertEqual(glossary.firstMentions(in: "SK, SKV, R-SIG"), [])
        XCTAssertEqual(glossary.firstMentions(in: "ts_gwn 1 outside ΔTS").map { String($0.prefix(6)) }, ["ts_gwn", "ΔTS — "])
    }

    /// `Glossary.reference` (`simulate --explain`) lists every rule id with its meaning and every term.
    func testReferenceListsEveryRuleAndTerm() {
        let reference = Glossary.reference
        for rule in RuleID.allCases {
            XCTAssertTrue(reference.contains { $0.hasPrefix("  \(rule.rawValue) ") && $0.hasSuffix(Glossary.meaning(of: rule)) }, rule.rawValue)
        }
        for term in Glossary.terms {
            XCTAssertTrue(reference.contains { $0.hasPrefix("  \(term.name) ") && $0.contains(term.meaning) }, term.name)
        }
    }

    /// `UTCText.iso8601(millis:)` against Python's `datetime` (leap day, century ends, epoch) and
    /// `UTCText.annotating` leaves numbers that are not timestamps alone.
    func testUTCText() {
        XCTAssertEqual(UTCText.iso8601(millis: 0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(UTCText.iso8601(millis: 1_764_000_000_000), "2025-11-24T16:00:00.000Z")
        XCTAssertEqual(UTCText.iso8601(millis: 951_782_400_000), "2000-02-29T00:00:00.000Z")
        XCTAssertEqual(UTCText.iso8601(millis: 946_684_799_999), "1999-12-31T23:59:59.999Z")
        XCTAssertEqual(UTCText.iso8601(millis: 4_102_444_799_999), "2099-12-31T23:59:59.999Z")
        XCTAssertEqual(UTCText.iso8601(millis: 1_764_086_400_193), "2025-11-25T16:00:00.193Z")
        XCTAssertEqual(UTCText.annotating("until 1764086400193."), "until 1764086400193 [2025-11-25T16:00:00.193Z].")
        XCTAssertEqual(UTCText.annotating(#"ts_i set to "1764000000000""#), #"ts_i set to "1764000000000 [2025-11-24T16:00:00.000Z]""#)
        for untouched in ["length 2147483648", "sha256 ab1764000000000…", "17640000000001 ms", "1764000000000x", "v1.1764000000000",
                          "123456789012345678901234567890", "0000000000001"] {
            XCTAssertEqual(UTCText.annotating(untouched), untouched)
        }
    }

    // MARK: - The executable

    /// The `simulate` executable (`Simulate.run`): a file holding `{}`, or `"steps": []`, is
    /// malformed — exit 2, the reason on stderr, no story; `--explain` prints the glossary.
    func testTheExecutableRefusesAScenarioWithoutStepsAndExplains() throws {
        let binary = try XCTUnwrap(Self.simulateBinary(),
                                   "the simulate executable is not built next to the tests (swift build --build-tests builds it)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("story-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, text, reason) in [("empty.json", "{}", #"$: no "steps": a scenario needs at least one step"#),
                                     ("none.json", #"{"steps":[]}"#, "$.steps: empty: a scenario needs at least one step")] {
            let file = directory.appendingPathComponent(name)
            try Data(text.utf8).write(to: file)
            let (status, output, errors) = try Self.run(binary, [file.path])
            XCTAssertEqual(status, 2, "\(name): \(output)\(errors)")
            XCTAssertEqual(output, "", name)
            XCTAssertEqual(errors, "simulate: \(file.path): \(reason)\n")
        }
        let (status, output, _) = try Self.run(binary, ["--explain"])
        XCTAssertEqual(status, 0)
        XCTAssertEqual(output, Glossary.reference.joined(separator: "\n") + "\n")
    }

    private static func simulateBinary() -> URL? {
        var candidates = [URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()]
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent())
        }
        return candidates.map { $0.appendingPathComponent("simulate") }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    private static func run(_ binary: URL, _ arguments: [String]) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self))
    }
}
