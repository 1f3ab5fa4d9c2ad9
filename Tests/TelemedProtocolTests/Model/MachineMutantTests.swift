import TelemedTestSupport
import XCTest
@testable import TelemedProtocol

/// Machine mutants: `DoctorMachine.Fault` (a `package` switch, off unless a test sets it)
/// makes the real DoctorMachine break one rule of PROTOCOL.md, and the seeded model search of
/// `DoctorModelTests` — the same generator, runner, comparison and shrinker — must find a
/// divergence and shrink it. Where the model mutants show that the comparison notices a wrong
/// model, these show that it notices a wrong machine: each rule below is one a green model
/// run is taken to prove.
///
/// A reported sequence replays with `TELEMED_MODEL_MUTANT=<fault> TELEMED_SEED=<seed>`
/// on `DoctorModelTests/testMachineAgreesWithTheReferenceModel` (the search uses its default
/// length of 60 events).
///
/// Entry points exercised: `DoctorMachine.connectionOpened`, `frameReceived`,
/// `connectionClosed`, `timerFired`, `kick`, `rekey`, `broadcast` (through `ModelRunner`).
final class MachineMutantTests: XCTestCase {
    static let seeds = UInt64(1)...60
    static let length = 60

    struct Found {
        var seed: UInt64
        var events: [ModelEvent]
        var divergence: ModelDivergence
        var replays: Int
        var report: String
    }

    /// The first seed whose event sequence makes the mutated machine diverge, shrunk. With
    /// `versions`, the mixed-version sequences of
    /// `DoctorModelTests.testMachineAgreesWithTheReferenceModelAcrossVersions`, with its
    /// configured minimum version per seed.
    func search(_ fault: DoctorMachine.Fault, versions: Bool = false) throws -> Found? {
        for seed in Self.seeds {
            let events = DoctorModelTests.events(seed: seed, count: Self.length, versions: versions)
            let minimum = versions ? DoctorModelTests.minimumVersion(seed: seed) : .v1
            guard try ModelRunner.firstDivergence(events, fault: fault, minimumVersion: minimum) != nil else { continue }
            var shrinker = ModelShrinker(fault: fault, minimumVersion: minimum)
            guard let (shortest, divergence) = try shrinker.shrink(events) else { continue }
            let report = DoctorModelTests.report(seed: seed, events: shortest, divergence: divergence,
                                                 replays: shrinker.replays, fault: fault, minimumVersion: minimum,
                                                 test: versions ? DoctorModelTests.versionsFilter : DoctorModelTests.filter)
            print("expected divergence of machine mutant \(fault.rawValue) (not a failure):\n\(report)")
            return Found(seed: seed, events: shortest, divergence: divergence, replays: shrinker.replays, report: report)
        }
        return nil
    }

    func mentions(_ found: Found, _ prefixes: String...) -> Bool {
        found.divergence.differences.contains { difference in prefixes.contains { difference.hasPrefix($0) } }
    }

    func testTheFaultIsOffByDefaultAndTheSameSeedsAgreeWithoutIt() throws {
        let runner = try ModelRunner()
        XCTAssertNil(runner.h.doctor.fault)
        for seed in Self.seeds.prefix(5) {
            XCTAssertNil(try ModelRunner.firstDivergence(DoctorModelTests.events(seed: seed, count: Self.length)),
                         "seed \(seed): the faithful machine diverges")
        }
    }

    /// §7.7 / §7.3: without the insert a captured request is answered again (the model says
    /// R-REPLAY) and an id's quota never fills (the model says R-LIMIT).
    func testAMachineThatSkipsTheReplayInsertIsCaught() throws {
        let found = try XCTUnwrap(try search(.skipReplayInsert), "no seed exposed the machine mutant")
        XCTAssertTrue(mentions(found, "rejections: model [conn#") && found.divergence.differences.contains {
            $0.hasPrefix("rejections") && ($0.contains("R-REPLAY") || $0.contains("R-LIMIT"))
        }, found.report)
        XCTAssertLessThanOrEqual(found.events.count, 6, found.report)
    }

    /// §7.2: a request refused for a blocked device does not count against its source.
    func testAMachineThatCountsADeviceBlockedRequestIsCaught() throws {
        let found = try XCTUnwrap(try search(.countDeviceBlockedRequest), "no seed exposed the machine mutant")
        XCTAssertTrue(mentions(found, "live failures", "source block"), found.report)
        XCTAssertTrue(found.events.contains { if case .slotWrongSKV = $0 { return true }; return false },
                      "a device block comes only from a wrong SKV: \(found.report)")
        XCTAssertLessThanOrEqual(found.events.count, 6, found.report)
    }

    /// §7.4: a block set while a handshake was pending ends it at KEY_CONFIRMATION.
    func testAMachineThatForgetsTheBlockRecheckAtConfirmationIsCaught() throws {
        let found = try XCTUnwrap(try search(.skipBlockRecheckAtConfirmation), "no seed exposed the machine mutant")
        XCTAssertTrue(found.divergence.differences.contains { $0.hasPrefix("rejections") && $0.contains("R-BLOCK") },
                      found.report)
        switch found.events.last {
        case .slotProceed?, .join?: break
        default: XCTFail("the divergence should come with a KEY_CONFIRMATION: \(found.report)")
        }
    }

    /// §7.2: R-TIME does not count against the source.
    func testAMachineThatCountsATimeRefusalIsCaught() throws {
        let found = try XCTUnwrap(try search(.countTimeRefusal), "no seed exposed the machine mutant")
        XCTAssertTrue(mentions(found, "live failures", "source block"), found.report)
        let timeAttacks = found.events.filter { event in
            switch event {
            case .hostile(.staleTimestamp, _, _), .hostile(.futureTimestamp, _, _): return true
            default: return false
            }
        }
        XCTAssertFalse(timeAttacks.isEmpty, "an R-TIME refusal should be in the sequence: \(found.report)")
    }

    /// §8.5 and §8.6.3: an R-VERSION refusal (a request below the minimum version) does not
    /// count against the source. A machine that counts it blocks a source the model leaves
    /// free. Entry point: `DoctorMachine.frameReceived` with opcode 10 under minimum 2 (from
    /// the configuration or `setMinimumVersion`), through `ModelRunner`.
    func testAMachineThatCountsAVersionRefusalIsCaught() throws {
        let found = try XCTUnwrap(try search(.countVersionRefusal, versions: true), "no seed exposed the machine mutant")
        XCTAssertTrue(mentions(found, "live failures", "source block"), found.report)
        XCTAssertTrue(found.events.contains { event in
            switch event {
            case .join(_, _, _, .v1), .beginJoin(_, _, _, .v1), .slotProceed(_, _, _, .v1), .replay,
                 .hostile(.downgrade, _, _), .hostile(.unknownID, _, _), .hostile(.forgedSignature, _, _),
                 .hostile(.staleTimestamp, _, _), .hostile(.futureTimestamp, _, _), .hostile(.oldInWindow, _, _),
                 .hostile(.badElement, _, _), .hostile(.wrongGateway, _, _):
                return true
            default:
                return false
            }
        }, "a version-1 request should be in the sequence: \(found.report)")
        XCTAssertLessThanOrEqual(found.events.count, 8, found.report)
    }

    /// §8.6.3: below the minimum version nothing is answered. A machine that verifies and
    /// answers a version-1 request while the minimum is 2 (from the configuration or raised by
    /// `setMinimumVersion`) is caught at that request: the model says R-VERSION.
    func testAMachineThatAcceptsVersion1BelowTheMinimumIsCaught() throws {
        let found = try XCTUnwrap(try search(.acceptVersion1BelowMinimum, versions: true), "no seed exposed the machine mutant")
        XCTAssertTrue(found.divergence.differences.contains { $0.hasPrefix("rejections") && $0.contains("R-VERSION") },
                      found.report)
        XCTAssertLessThanOrEqual(found.events.count, 3, found.report)
    }
}
