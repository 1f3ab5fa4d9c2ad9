import Foundation
import TelemedTestSupport
import XCTest
@testable import TelemedProtocol

/// Model-based testing of the doctor: seeded random sequences of honest and hostile events
/// run against the real DoctorMachine and the reference DoctorModel, compared after every step
/// (rejections with rule ids, command results, active set, epoch, pending handshakes, source
/// and device blocks with expiry, live failure counts, the minimum version and each session's
/// version). A divergence is shrunk to a 1-minimal sequence and printed with its seed. The
/// main test runs version-1 sequences against minimum 1; the "AcrossVersions" test mixes
/// versions 1 and 2 (PROTOCOL.md §8) and changes the minimum at run time.
///
/// Replay one seed:   TELEMED_SEED=<seed> swift test --filter DoctorModelTests/testMachineAgreesWithTheReferenceModel
/// Run more seeds:    TELEMED_MODEL_RUNS=<n> swift test --filter TelemedProtocolTests.DoctorModelTests
/// Longer sequences:  TELEMED_MODEL_EVENTS=<n> (default 60)
/// See a failure:     TELEMED_MODEL_MUTANT=noEpochOnLeave (or blocksNeverExpire) runs the main
///                    test against a deliberately wrong model, so it fails and prints its report;
///                    TELEMED_MODEL_MUTANT=skipReplayInsert (or another `DoctorMachine.Fault`)
///                    runs it against a deliberately wrong machine (see MachineMutantTests);
///                    countVersionRefusal shows only in ...AcrossVersions
final class DoctorModelTests: XCTestCase {
    static let defaultRuns: UInt64 = 10
    static let filter = "DoctorModelTests/testMachineAgreesWithTheReferenceModel"
    static let versionsFilter = "DoctorModelTests/testMachineAgreesWithTheReferenceModelAcrossVersions"

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The seed `TELEMED_SEED` names, else 1…TELEMED_MODEL_RUNS (default 10).
    func runSeeds() throws -> [UInt64] {
        if let text = environment["TELEMED_MODEL_RUNS"], let runs = UInt64(text), runs > 0 {
            return try ReplaySeed.seeds(1...runs)
        }
        return try ReplaySeed.seeds(1...Self.defaultRuns)
    }

    var mutant: ModelMutant {
        environment["TELEMED_MODEL_MUTANT"].flatMap(ModelMutant.init(rawValue:)) ?? .faithful
    }

    /// A machine mutant named by the same variable (the names of the two kinds differ).
    var fault: DoctorMachine.Fault? {
        environment["TELEMED_MODEL_MUTANT"].flatMap(DoctorMachine.Fault.init(rawValue:))
    }

    var length: Int {
        environment["TELEMED_MODEL_EVENTS"].flatMap(Int.init).map { max(1, $0) } ?? 60
    }

    static func events(seed: UInt64, count: Int, registry: Bool = false, versions: Bool = false) -> [ModelEvent] {
        var generator = ModelEventGenerator(seed: seed, registry: registry, versions: versions)
        return generator.events(count: count)
    }

    /// The configured minimum version of a run of the mixed-version sequences: 1 for odd
    /// seeds, 2 for even ones (the sequences change it at run time as well).
    static func minimumVersion(seed: UInt64) -> ProtocolVersion { seed % 2 == 0 ? .v2 : .v1 }

    static func report(seed: UInt64, events: [ModelEvent], divergence: ModelDivergence, replays: Int,
                       mutant: ModelMutant = .faithful, fault: DoctorMachine.Fault? = nil,
                       minimumVersion: ProtocolVersion = .v1, test: String = filter) -> String {
        let name = fault?.rawValue ?? (mutant == .faithful ? nil : mutant.rawValue)
        let settings = name.map { ["TELEMED_MODEL_MUTANT=\($0)"] } ?? []
        let steps = events.enumerated().map { "  \($0.offset + 1). \($0.element)" }.joined(separator: "\n")
        return """
        DoctorMachine diverges from the reference model (seed \(seed)).
        Shortest failing sequence (\(events.count) events, found in \(replays) replays; configured minimum version \(minimumVersion)):
        \(steps)
        Divergence \(divergence)
        \(ReplaySeed.hint(seed, test: test, settings: settings))
        """
    }

    // MARK: - The machine against the model

    func testMachineAgreesWithTheReferenceModel() throws {
        var rules: Set<RuleID> = []
        var joins = 0
        var paths: [String: Int] = [:]
        let seeds = try runSeeds()
        for seed in seeds {
            let events = Self.events(seed: seed, count: length)
            var runner = try ModelRunner(mutant: mutant, fault: fault)
            let found = try runner.run(events)
            rules.formUnion(runner.rulesSeen)
            joins += runner.joinsCompleted
            paths.merge(runner.coverage, uniquingKeysWith: +)
            guard found != nil else { continue }
            var shrinker = ModelShrinker(mutant: mutant, fault: fault)
            if let (shortest, divergence) = try shrinker.shrink(events) {
                XCTFail(Self.report(seed: seed, events: shortest, divergence: divergence, replays: shrinker.replays,
                                    mutant: mutant, fault: fault))
            } else {
                XCTFail("seed \(seed): the divergence did not reproduce from a fresh start (nondeterminism)")
            }
        }
        // The default run must reach the interesting paths, or it proves little.
        if seeds.count >= Int(Self.defaultRuns) {
            let required: Set<RuleID> = [.block, .limit, .replay, .time, .start, .identity, .signature,
                                         .element, .group, .frame, .state, .skv]
            XCTAssertEqual(required.subtracting(rules), [], "rules the default run never exercised")
            XCTAssertGreaterThan(joins, 20, "too few completed joins")
            // Batched epochs (§7.1): windows that collect several changes, end on the clock, and
            // are absorbed by a rekey (a broadcast inside a window is rare in random runs:
            // testABroadcastStartsThePendingEpochInTheModelToo takes that path on purpose).
            let epochPaths: Set<String> = ["change joined a pending epoch", "epoch window ended",
                                           "rekey absorbed a pending epoch"]
            XCTAssertEqual(epochPaths.subtracting(paths.keys), [], "epoch-window paths the default run never took")
            print("model paths reached: \(paths.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))")
        }
    }

    /// The same comparison with the operator's `revoke` and `enroll` mixed into the random
    /// sequences (`DoctorMachine.revoke` / `.enroll` against `DoctorModel.revoke` / `.enroll`).
    func testMachineAgreesWithTheReferenceModelUnderRevocations() throws {
        var paths: [String: Int] = [:]
        let seeds = try runSeeds()
        for seed in seeds {
            let events = Self.events(seed: seed, count: length, registry: true)
            var runner = try ModelRunner(mutant: mutant, fault: fault)
            let found = try runner.run(events)
            paths.merge(runner.coverage, uniquingKeysWith: +)
            guard found != nil else { continue }
            var shrinker = ModelShrinker(mutant: mutant, fault: fault)
            if let (shortest, divergence) = try shrinker.shrink(events) {
                XCTFail(Self.report(seed: seed, events: shortest, divergence: divergence, replays: shrinker.replays,
                                    mutant: mutant, fault: fault)
                        + "\n(sequences with revoke/enroll: testMachineAgreesWithTheReferenceModelUnderRevocations)")
            } else {
                XCTFail("seed \(seed): the divergence did not reproduce from a fresh start (nondeterminism)")
            }
        }
        if seeds.count >= Int(Self.defaultRuns) {
            for path in ["revoke", "revoke ended a session", "enroll again"] {
                XCTAssertNotNil(paths[path], "the random run never reached \(path)")
            }
            print("model paths reached with revocations: \(paths.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))")
        }
    }

    /// Version 2 (PROTOCOL.md §8) in the comparison: the random sequences mix version-1 and
    /// version-2 honest patients, signed version-2 requests with bad shares (A = 1, A = p − 1,
    /// A outside the subgroup, A = a B the doctor sent), downgraded requests, and run-time
    /// changes of the minimum version, against a doctor configured with minimum 1 (odd seeds)
    /// or 2 (even seeds). Entry points: `DoctorMachine.frameReceived` (opcodes 10 and 12),
    /// `setMinimumVersion`, `sessionVersion(of:)`, and those of the v1 comparison.
    func testMachineAgreesWithTheReferenceModelAcrossVersions() throws {
        var rules: Set<RuleID> = []
        var paths: [String: Int] = [:]
        let seeds = try runSeeds()
        for seed in seeds {
            let events = Self.events(seed: seed, count: length, versions: true)
            let minimum = Self.minimumVersion(seed: seed)
            var runner = try ModelRunner(mutant: mutant, fault: fault, minimumVersion: minimum)
            let found = try runner.run(events)
            rules.formUnion(runner.rulesSeen)
            paths.merge(runner.coverage, uniquingKeysWith: +)
            guard found != nil else { continue }
            var shrinker = ModelShrinker(mutant: mutant, fault: fault, minimumVersion: minimum)
            if let (shortest, divergence) = try shrinker.shrink(events) {
                XCTFail(Self.report(seed: seed, events: shortest, divergence: divergence, replays: shrinker.replays,
                                    mutant: mutant, fault: fault, minimumVersion: minimum, test: Self.versionsFilter))
            } else {
                XCTFail("seed \(seed): the divergence did not reproduce from a fresh start (nondeterminism)")
            }
        }
        if seeds.count >= Int(Self.defaultRuns) {
            XCTAssertEqual([RuleID.version, .element, .signature, .skv].filter { !rules.contains($0) }, [],
                           "rules the mixed-version run never exercised")
            for path in ["v1 join", "v2 join", "v2 request answered", "request below the minimum version",
                         "signed v2 request with a bad share", "minimum version raised", "minimum version lowered",
                         "raised minimum ended a session"] {
                XCTAssertNotNil(paths[path], "the mixed-version run never reached \(path)")
            }
            print("model paths reached across versions: \(paths.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))")
        }
    }

    func testTheGeneratorAndTheRunAreDeterministic() throws {
        let events = Self.events(seed: 4_242, count: 30)
        XCTAssertEqual(events, Self.events(seed: 4_242, count: 30))
        var first = try ModelRunner()
        var second = try ModelRunner()
        XCTAssertNil(try first.run(events))
        XCTAssertNil(try second.run(events))
        XCTAssertEqual(first.h.doctorLog, second.h.doctorLog)
        // The mixed-version sequences too (bad shares and downgrades draw from the step's generator).
        let mixed = Self.events(seed: 4_242, count: 30, versions: true)
        XCTAssertEqual(mixed, Self.events(seed: 4_242, count: 30, versions: true))
        XCTAssertNotEqual(mixed, events)
        var third = try ModelRunner(minimumVersion: .v2)
        var fourth = try ModelRunner(minimumVersion: .v2)
        XCTAssertNil(try third.run(mixed))
        XCTAssertNil(try fourth.run(mixed))
        XCTAssertEqual(third.h.doctorLog, fourth.h.doctorLog)
    }

    // MARK: - Directed sequences for paths random runs rarely reach

    func assertAgrees(_ events: [ModelEvent], expecting paths: [String], minimumVersion: ProtocolVersion = .v1,
                      file: StaticString = #filePath, line: UInt = #line) throws {
        var runner = try ModelRunner(minimumVersion: minimumVersion)
        if let divergence = try runner.run(events) {
            var shrinker = ModelShrinker(minimumVersion: minimumVersion)
            let shortest = try shrinker.shrink(events)
            XCTFail(Self.report(seed: 0, events: shortest?.events ?? events, divergence: shortest?.divergence ?? divergence,
                                replays: shrinker.replays), file: file, line: line)
            return
        }
        for path in paths {
            XCTAssertNotNil(runner.coverage[path], "the sequence never reached \(path)", file: file, line: line)
        }
    }

    static func burst(_ source: Int, _ count: Int = 3) -> [ModelEvent] {
        (0..<count).map { .hostile(.malformedJSON, source: source, seed: UInt64(source * 10 + $0)) }
    }

    /// §7.6: what the transport reports reaches the machine as `DoctorNode.handle` feeds it. A
    /// pending connection whose frame began and stalled ends R-FRAME at its handshake deadline
    /// (a silent one R-STATE); a verified one's refused prefix is R-FRAME, not counted; a
    /// member's stalled frame and a member's refused prefix are R-FRAME leaves; a member whose
    /// frame completes (its receipt of a broadcast) keeps its session.
    func testTransportReportsAreTheMachinesRejections() throws {
        let events: [ModelEvent] = [
            .join(patient: 0, source: 0, seed: 1), .join(patient: 1, source: 1, seed: 2),
            .join(patient: 2, source: 2, seed: 3),
            .openOnly(source: 3), .slotFrame(slot: 0, report: .begun), .openOnly(source: 4),
            .beginJoin(patient: 3, source: 2, seed: 4), .slotFrame(slot: 2, report: .refusedPrefix),
            .memberFrame(patient: 0, report: .begun), .memberFrame(patient: 2, report: .begun),
            .advance(millis: 6_500), .broadcast(seed: 5),
            .memberFrame(patient: 1, report: .refusedPrefix),
            .advance(millis: 6_500),
        ]
        try assertAgrees(events, expecting: ["handshake timeout inside a frame", "handshake timeout",
                                             "refused prefix, verified", "refused prefix, member"])
        let stalled: [ModelEvent] = [
            .join(patient: 0, source: 0, seed: 1), .join(patient: 1, source: 1, seed: 2),
            .memberFrame(patient: 1, report: .begun), .advance(millis: 6_500), .advance(millis: 6_500),
            .memberFrame(patient: 0, report: .begun), .memberFrame(patient: 0, report: .begun),
            .advance(millis: 61_000),
        ]
        try assertAgrees(stalled, expecting: ["member frame stalled"])
    }

    /// Four sources blocked with room for three: the fourth has no finer block in its /24, so
    /// the table saturates; once the wall clock has passed every expiry the table has room again
    /// and a connection that was pending all along may log in.
    func testASaturatedBlockTableRecoversWhenItsBlocksExpire() throws {
        let events: [ModelEvent] = [.openOnly(source: 1)] + Self.burst(2) + Self.burst(3) + Self.burst(4) + Self.burst(0)
            + [.openOnly(source: 1), .stepWall(millis: 3_600_000), .slotProceed(slot: 0, patient: 0, seed: 1),
               .slotProceed(slot: 0, patient: 0, seed: 2), .openOnly(source: 2)]
        try assertAgrees(events, expecting: ["block table saturated", "saturated refusal"])
    }

    /// The table is full when a second source of a blocked /24 is blocked: the /24 replaces it.
    func testAFullBlockTableFallsBackToThePrefix() throws {
        let events: [ModelEvent] = Self.burst(2) + Self.burst(3) + Self.burst(0) + Self.burst(1)
            + [.join(patient: 0, source: 1, seed: 3), .advance(millis: 121_000), .join(patient: 0, source: 1, seed: 4)]
        try assertAgrees(events, expecting: ["prefix block", "blocked source refused"])
    }

    /// Five wrong SKVs from five places fill the device table (4 × 1): the one closest to expiry goes.
    func testTheDeviceTableEvictsTheBlockClosestToExpiry() throws {
        var events: [ModelEvent] = []
        for (index, (patient, source)) in [(0, 0), (1, 2), (2, 3), (3, 4), (0, 4)].enumerated() {
            events += [.beginJoin(patient: patient, source: source, seed: UInt64(100 + index)),
                       .slotWrongSKV(slot: 0, patient: patient, seed: UInt64(200 + index)), .advance(millis: 1_000)]
        }
        events += [.join(patient: 0, source: 0, seed: 7), .join(patient: 1, source: 2, seed: 8)]
        try assertAgrees(events, expecting: ["wrong SKV", "device block evicted", "device-blocked request"])
    }

    /// A member repeating its last receipt (seq not above the last) is an R-AEAD leave; so is
    /// a receipt that does not open. Either way the rest get a new epoch (each change here is
    /// followed by an `advance` past the epoch window, so each is its own epoch).
    func testAStaleReceiptFromAMemberIsALeaveWithANewEpoch() throws {
        let pass = ModelEvent.advance(millis: 300)
        let events: [ModelEvent] = [.join(patient: 0, source: 0, seed: 1), pass, .join(patient: 1, source: 3, seed: 2), pass,
                                    .broadcast(seed: 3), .memberGarbage(patient: 0, kind: .staleReceipt), pass,
                                    .memberGarbage(patient: 1, kind: .staleReceipt), pass, .join(patient: 2, source: 2, seed: 4), pass,
                                    .memberGarbage(patient: 2, kind: .staleReceipt), pass]
        try assertAgrees(events, expecting: [])
        var runner = try ModelRunner()
        XCTAssertNil(try runner.run(events))
        XCTAssertEqual(runner.rulesSeen, [.aead])
        XCTAssertEqual(runner.model.epoch, 4)
    }

    /// §7.1: joins inside one window, a broadcast that starts their pending epoch before it is
    /// sealed, then a leave whose window ends on the clock. Machine and model agree on every
    /// epoch and on which members hold the group key at each step.
    func testABroadcastStartsThePendingEpochInTheModelToo() throws {
        let events: [ModelEvent] = [.join(patient: 0, source: 0, seed: 1), .join(patient: 1, source: 3, seed: 2),
                                    .advance(millis: 10), .broadcast(seed: 3), .leave(patient: 0),
                                    .advance(millis: 10), .advance(millis: 10)]
        try assertAgrees(events, expecting: ["change joined a pending epoch", "broadcast started a pending epoch",
                                             "epoch window ended"])
        var runner = try ModelRunner()
        XCTAssertNil(try runner.run(events))
        XCTAssertEqual(runner.model.epoch, 2)
    }

    /// Attacks 1, 11 and 18 across a restart: the device block survives, the captured request
    /// is older than the new T0, and a clock stepped back an hour refuses everyone.
    func testBlocksAndTheStartTimeSurviveARestart() throws {
        let events: [ModelEvent] = [
            .beginJoin(patient: 0, source: 0, seed: 1), .slotWrongSKV(slot: 0, patient: 0, seed: 2),
            .advance(millis: 1_000), .restart, .join(patient: 0, source: 0, seed: 3), .join(patient: 0, source: 3, seed: 4),
            .replay(capture: 0, source: 2), .stepWall(millis: -3_600_000), .join(patient: 1, source: 2, seed: 5),
            .stepWall(millis: 3_600_000), .join(patient: 1, source: 2, seed: 6), .advance(millis: 300)]
        try assertAgrees(events, expecting: ["restart", "device-blocked request", "clock behind start"])
        var runner = try ModelRunner()
        XCTAssertNil(try runner.run(events))
        XCTAssertEqual(runner.rulesSeen, [.skv, .block, .start])
        XCTAssertEqual(runner.model.active.keys.sorted(), ModelWorld.patientIDs[0...1].sorted())
        // The joins after the restart (one of them replacing the other session of patient 0)
        // share one epoch window (§7.1): one epoch, not two.
        XCTAssertEqual(runner.model.epoch, 1)
    }

    // MARK: - Revision 1.1 (PROTOCOL.md §7)

    /// §7.2: stale and too-early requests never count, so four of them (threshold 3) leave the
    /// source free and its patient logs in.
    func testTimeRefusalsDoNotCountAgainstTheSource() throws {
        let events: [ModelEvent] = (0..<4).map { .hostile(.staleTimestamp(patient: 0, extra: 0), source: 3, seed: UInt64($0)) }
            + [.join(patient: 1, source: 3, seed: 9)]
        try assertAgrees(events, expecting: [])
        var runner = try ModelRunner()
        XCTAssertNil(try runner.run(events))
        XCTAssertEqual(runner.rulesSeen, [.time])
        XCTAssertEqual(runner.model.active.keys.sorted(), [ModelWorld.patientIDs[1]])
    }

    /// §7.3: a third verified request of one id within 2·ΔTS is over its quota (2): R-LIMIT.
    func testAnIDOverItsReplayQuotaIsRefused() throws {
        let events: [ModelEvent] = [.join(patient: 0, source: 0, seed: 1), .join(patient: 0, source: 3, seed: 2),
                                    .join(patient: 0, source: 2, seed: 3), .join(patient: 1, source: 2, seed: 4),
                                    .advance(millis: 4_000), .join(patient: 0, source: 2, seed: 5)]
        try assertAgrees(events, expecting: ["replay quota of an id full"])
    }

    /// §7.7: a signed request with a bad element is cached, so its replay is R-REPLAY.
    func testASignedRequestWithBadElementsCannotBeReplayed() throws {
        let events: [ModelEvent] = [.hostile(.badElement(patient: 0), source: 3, seed: 1), .replay(capture: 0, source: 4)]
        try assertAgrees(events, expecting: ["signed request with bad elements", "replay seen"])
        var runner = try ModelRunner()
        XCTAssertNil(try runner.run(events))
        XCTAssertEqual(runner.rulesSeen, [.element, .replay])
    }

    /// §7.4: a source blocked, or a device blocked, while a handshake was pending ends it at
    /// KEY_CONFIRMATION.
    func testBlocksSetWhileAHandshakeIsPendingRefuseItsConfirmation() throws {
        let sourceBlocked: [ModelEvent] = [.beginJoin(patient: 0, source: 3, seed: 1)] + Self.burst(3)
            + [.slotProceed(slot: 0, patient: 0, seed: 2)]
        try assertAgrees(sourceBlocked, expecting: ["blocked while pending"])
        let deviceBlocked: [ModelEvent] = [.beginJoin(patient: 0, source: 3, seed: 1), .beginJoin(patient: 0, source: 3, seed: 2),
                                           .slotWrongSKV(slot: 1, patient: 0, seed: 3), .slotProceed(slot: 0, patient: 0, seed: 4)]
        try assertAgrees(deviceBlocked, expecting: ["wrong SKV", "blocked while pending"])
        var runner = try ModelRunner()
        XCTAssertNil(try runner.run(deviceBlocked))
        XCTAssertEqual(runner.rulesSeen, [.skv, .block])
        XCTAssertEqual(runner.model.active, [:])
    }

    /// §7.5: three blocks fill the table (capacity 3) without saturating it; after a restart
    /// the full table is saturated at once, until a block expires.
    func testARestartWithAFullBlockTableIsSaturatedAtOnce() throws {
        let events: [ModelEvent] = Self.burst(2) + Self.burst(3) + Self.burst(4)
            + [.join(patient: 0, source: 0, seed: 1), .restart, .join(patient: 0, source: 0, seed: 2),
               .advance(millis: 121_000), .join(patient: 0, source: 0, seed: 3)]
        try assertAgrees(events, expecting: ["saturated after restart", "saturated refusal"])
        var runner = try ModelRunner()
        XCTAssertNil(try runner.run(events))
        XCTAssertEqual(runner.model.active.keys.sorted(), [ModelWorld.patientIDs[0]])
    }

    /// Enroll and revoke (`DoctorMachine.revoke` / `.enroll` against the model): amy and ben are
    /// members, ben has a second handshake verified and held, and amy's device from 10.0.0.2 is
    /// blocked (wrong SKV); revoking ben ends his session and handshake; revoking amy drops her
    /// device block; her replayed capture and her honest join are refused R-ID; a restart keeps
    /// both revoked; amy enrolled again joins; enrolling an enrolled id fails.
    func testRevokeAndEnrollAgreeWithTheModel() throws {
        let events: [ModelEvent] = [
            .join(patient: 0, source: 0, seed: 1), .join(patient: 1, source: 2, seed: 2),
            .beginJoin(patient: 1, source: 3, seed: 3),
            .beginJoin(patient: 0, source: 1, seed: 4), .slotWrongSKV(slot: 0, patient: 0, seed: 5),
            .revoke(patient: 1), .revoke(patient: 0), .revoke(patient: 0),
            .replay(capture: 0, source: 4), .join(patient: 0, source: 4, seed: 6),
            .restart, .join(patient: 1, source: 2, seed: 7),
            .enroll(patient: 0), .enroll(patient: 2), .advance(millis: 1_000), .join(patient: 0, source: 0, seed: 8),
        ]
        try assertAgrees(events, expecting: ["revoke", "revoke ended a pending handshake", "revoke ended a session",
                                             "enroll again", "restart"])
        var runner = try ModelRunner()
        XCTAssertNil(try runner.run(events))
        XCTAssertEqual(runner.model.active.keys.sorted(), [ModelWorld.patientIDs[0]])
        XCTAssertEqual(runner.model.enrolled.sorted(), [ModelWorld.patientIDs[0], ModelWorld.patientIDs[2], ModelWorld.patientIDs[3]])
        XCTAssertTrue(runner.rulesSeen.contains(.identity))
    }

    /// With one device block allowed per enrolled patient (ModelWorld), four device blocks fill
    /// the table; a revocation of an id without blocks shrinks it and evicts the one closest
    /// to expiry, as the machine does.
    func testARevocationShrinksAFullDeviceBlockTable() throws {
        var events: [ModelEvent] = []
        for (index, patient) in [0, 0, 2, 3].enumerated() {
            events += [.beginJoin(patient: patient, source: index, seed: UInt64(10 + index)),
                       .slotWrongSKV(slot: 0, patient: patient, seed: UInt64(20 + index)), .advance(millis: 300)]
        }
        events += [.revoke(patient: 1)]
        try assertAgrees(events, expecting: ["wrong SKV", "revoke", "device block evicted by a revoke"])
    }

    // MARK: - Version 2 (PROTOCOL.md §8)

    /// §8.6.3 through `DoctorMachine.setMinimumVersion`: with minimum 1, amy (v1) and ben (v2)
    /// are members, cat (v1) and dan (v2) hold verified handshakes. Raising the minimum to 2
    /// ends amy's session and cat's handshake (R-VERSION, not counted) but not ben's or dan's;
    /// dan then joins as v2, a new v1 request is refused, lowering the minimum lets amy back
    /// in as v1. Every session keeps the version it joined with.
    func testRaisingTheMinimumVersionEndsVersion1HandshakesAndSessions() throws {
        let events: [ModelEvent] = [
            .join(patient: 0, source: 0, seed: 1, version: .v1), .join(patient: 1, source: 2, seed: 2, version: .v2),
            .beginJoin(patient: 2, source: 3, seed: 3, version: .v1), .beginJoin(patient: 3, source: 4, seed: 4, version: .v2),
            .advance(millis: 300), .setMinimum(.v2), .slotProceed(slot: 0, patient: 3, seed: 5),
            .slotProceed(slot: 1, patient: 3, seed: 6), .join(patient: 0, source: 0, seed: 7, version: .v1),
            .advance(millis: 300), .setMinimum(.v1), .join(patient: 0, source: 0, seed: 8, version: .v1),
            .advance(millis: 300),
        ]
        try assertAgrees(events, expecting: ["minimum version raised", "raised minimum ended a session",
                                             "raised minimum ended a handshake", "request below the minimum version",
                                             "minimum version lowered", "v1 join", "v2 join"])
        var runner = try ModelRunner()
        XCTAssertNil(try runner.run(events))
        XCTAssertEqual(runner.rulesSeen, [.version])
        let ids = ModelWorld.patientIDs
        XCTAssertEqual(runner.model.versions, [ids[0]: .v1, ids[1]: .v2, ids[3]: .v2])
        XCTAssertEqual(runner.h.doctor.sessionVersion(of: ids[0]), .v1)
        XCTAssertEqual(runner.h.doctor.sessionVersion(of: ids[3]), .v2)
    }

    /// §8.5, attacks 21a and 22: with minimum 2, four version-1 requests from one source
    /// (threshold 3), a replay of one and a downgraded v2 request are all R-VERSION and not
    /// counted, so a version-2 join from that source succeeds; with minimum 1 the downgraded
    /// request is a bad signature, and three of them block the source.
    func testVersionRefusalsDoNotCountButADowngradeBelowIsABadSignature() throws {
        let refused: [ModelEvent] = (0..<4).map { .join(patient: $0, source: 3, seed: UInt64(10 + $0), version: .v1) }
            + [.replay(capture: 1, source: 3), .hostile(.downgrade(patient: 0), source: 3, seed: 20),
               .join(patient: 1, source: 3, seed: 21, version: .v2)]
        try assertAgrees(refused, expecting: ["request below the minimum version", "v2 join"], minimumVersion: .v2)
        var runner = try ModelRunner(minimumVersion: .v2)
        XCTAssertNil(try runner.run(refused))
        XCTAssertEqual(runner.rulesSeen, [.version])
        XCTAssertEqual(runner.model.versions, [ModelWorld.patientIDs[1]: .v2])

        let downgraded: [ModelEvent] = (0..<3).map { .hostile(.downgrade(patient: $0), source: 3, seed: UInt64(30 + $0)) }
            + [.join(patient: 1, source: 3, seed: 40, version: .v2)]
        try assertAgrees(downgraded, expecting: ["source reached the threshold", "blocked source refused"])
        var second = try ModelRunner()
        XCTAssertNil(try second.run(downgraded))
        XCTAssertEqual(second.rulesSeen, [.signature, .block])
    }

    /// Attacks 23–25 at the doctor: validly signed version-2 requests with A = 1, A = p − 1 and
    /// A outside the subgroup are R-ELEM after the signature, not counted (three from one
    /// source, threshold 3) and cached (a replay is R-REPLAY); a request reflecting the B the
    /// doctor sent ben is answered (a valid element), and its sender, who holds no SK, can only
    /// confirm wrongly: its device alone is blocked.
    func testSignedVersion2RequestsWithBadSharesAreRefusedWithoutCounting() throws {
        let events: [ModelEvent] = [
            .hostile(.badShare(patient: 0, .one), source: 3, seed: 1),
            .hostile(.badShare(patient: 1, .minusOne), source: 3, seed: 2),
            .hostile(.badShare(patient: 2, .outsideSubgroup), source: 3, seed: 3),
            .replay(capture: 0, source: 3), .advance(millis: 300),
            .join(patient: 1, source: 0, seed: 4, version: .v2),
            .hostile(.badShare(patient: 2, .reflected), source: 3, seed: 5),
            .slotWrongSKV(slot: 0, patient: 2, seed: 6),
            .join(patient: 3, source: 3, seed: 7, version: .v2),
        ]
        try assertAgrees(events, expecting: ["signed v2 request with a bad share", "replay seen", "wrong SKV", "v2 join"])
        var runner = try ModelRunner()
        XCTAssertNil(try runner.run(events))
        XCTAssertEqual(runner.rulesSeen, [.element, .replay, .skv])
        XCTAssertEqual(runner.model.active.keys.sorted(), [ModelWorld.patientIDs[1], ModelWorld.patientIDs[3]])
        XCTAssertNotNil(runner.model.deviceBlock(DeviceKey(patient: ModelWorld.patientIDs[2], source: ModelWorld.sourceAddresses[3])))
    }

    // MARK: - The checker can fail

    /// Finds a divergence for `mutant` within a few seeds and shrinks it.
    func shrunkDivergence(_ mutant: ModelMutant) throws -> (seed: UInt64, events: [ModelEvent], divergence: ModelDivergence, replays: Int)? {
        for seed in UInt64(1)...40 {
            let events = Self.events(seed: seed, count: 30)
            var shrinker = ModelShrinker(mutant: mutant)
            if let (shortest, divergence) = try shrinker.shrink(events) {
                return (seed, shortest, divergence, shrinker.replays)
            }
        }
        return nil
    }

    func testAModelThatForgetsTheEpochOnLeaveIsCaughtAndShrunk() throws {
        let found = try XCTUnwrap(try shrunkDivergence(.noEpochOnLeave), "no seed exposed the mutant")
        let message = Self.report(seed: found.seed, events: found.events, divergence: found.divergence,
                                  replays: found.replays, mutant: .noEpochOnLeave)
        print("expected divergence of the mutant (not a failure):\n\(message)")
        // A join, the end of its epoch window, and a departure are enough: the departure opens
        // a pending epoch in the machine and none in the mutant model.
        XCTAssertLessThanOrEqual(found.events.count, 3, message)
        XCTAssertTrue(found.divergence.differences.contains { $0.hasPrefix("epoch") }, message)
        let joins = found.events.filter { if case .join = $0 { return true }; return false }.count
        XCTAssertGreaterThanOrEqual(joins, 1, message)
    }

    func testAModelWhoseBlocksNeverExpireIsCaughtAndShrunk() throws {
        let found = try XCTUnwrap(try shrunkDivergence(.blocksNeverExpire), "no seed exposed the mutant")
        let message = Self.report(seed: found.seed, events: found.events, divergence: found.divergence,
                                  replays: found.replays, mutant: .blocksNeverExpire)
        print("expected divergence of the mutant (not a failure):\n\(message)")
        // A device block (begin join, wrong SKV) or a source block (three failures), then time.
        XCTAssertLessThanOrEqual(found.events.count, 4, message)
        XCTAssertTrue(found.divergence.differences.contains { $0.contains("block") }, message)
        switch found.events.last {
        case .advance?, .stepWall?: break
        default: XCTFail("the last event should move the clock: \(message)")
        }
    }

    func testTheCorrectModelHasNoDivergenceToShrink() throws {
        var shrinker = ModelShrinker()
        XCTAssertNil(try shrinker.shrink(Self.events(seed: 3, count: 20)))
    }
}
