
import Foundation
import XCTest
@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol
import enum TelemedTransport.Framing
import enum TelemedTransport.FrameError
import struct TelemedTransport.FrameReader

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

    /// The reader's expectations for a hand-cut stream, and the reader check can fail: fed
    /// expectations of another stream or another limit, `FrameReaderCheck.run` throws. (Entry
    /// point: `FrameReader.receive`, both overloads, as `ConnectionHandler.channelRead` and
    /// `InMemoryNetwork.receive` call it.)
    func testFrameReaderCheckExpectsOneStartPerFrameSpanningAChunk() throws {
        let stream = Framing.frame([1, 2, 3]) + Framing.frame([4, 5])   // units [0, 7) and [7, 13)
        let model = FrameStreamModel(stream, limit: Framing.maxBodyLength)
        XCTAssertEqual(model.expectedReports(from: 0, to: 2), [.frameStarted])
        XCTAssertEqual(model.expectedReports(from: 2, to: 8), [.frame([1, 2, 3]), .frameStarted])
        XCTAssertEqual(model.expectedReports(from: 8, to: 11), [])
        XCTAssertEqual(model.expectedReports(from: 11, to: 13), [.frame([4, 5])])
        XCTAssertEqual(model.expectedReports(from: 0, to: 13), [.frame([1, 2, 3]), .frame([4, 5])])
        XCTAssertEqual(model.unitsSpanningABoundary([2, 8, 11, 13]), 2)
        XCTAssertEqual(model.partialBytes(at: 2), 2)    // two header bytes
        XCTAssertEqual(model.partialBytes(at: 11), 0)   // header of [4, 5] complete, no body byte
        XCTAssertNotNil(model.openUnit(at: 11))
        for path in [FrameReaderCheck.Path.socketBuffer, .array] {
            XCTAssertNoThrow(try FrameReaderCheck.run(stream, limit: Framing.maxBodyLength, chunks: [2, 6, 3, 2],
                                                      path: path, model: model))
            let other = FrameStreamModel(Framing.frame([1, 2, 3]) + Framing.frame([4, 6]), limit: Framing.maxBodyLength)
            XCTAssertThrowsError(try FrameReaderCheck.run(stream, limit: Framing.maxBodyLength, chunks: [2, 6, 3, 2],
                                                          path: path, model: other))
            XCTAssertThrowsError(try FrameReaderCheck.run(stream, limit: Framing.maxBodyLength, chunks: [13],
                                                          path: path, model: FrameStreamModel(stream, limit: 2)))
        }

        // A zero prefix split 2 + 2: started, then refused, then nothing.
        let zero = FrameStreamModel([0, 0, 0, 0, 0, 0, 0, 1, 9], limit: Framing.maxBodyLength)
        XCTAssertEqual(zero.expectedReports(from: 0, to: 2), [.frameStarted])
        XCTAssertEqual(zero.expectedReports(from: 2, to: 4), [.refused(.emptyFrame)])
        XCTAssertEqual(zero.expectedReports(from: 4, to: 9), [])
        XCTAssertNoThrow(try FrameReaderCheck.run([0, 0, 0, 0, 0, 0, 0, 1, 9], limit: Framing.maxBodyLength,
                                                  chunks: [2, 2, 5], path: .socketBuffer, model: zero))
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

    /// The same corpus through `DoctorScript.runWithHeldJobs`: the doctor's handshake jobs held
    /// and completed out of order between the script's steps (`DoctorMachine.jobFinished` racing
    /// closes, timers, replays, commands and clock steps); every invariant still holds, and at
    /// least one script really had a job in flight across a step.
    func testDoctorScriptCorpusKeepsInvariantsWithHeldJobs() throws {
        let files = try FuzzFiles.corpus("doctor") + FuzzFiles.inputs("doctor-")
        var acrossSteps = 0
        for file in files {
            XCTAssertNoThrow(try DoctorScript.runWithHeldJobs(file.bytes), "doctor script \(file.name)")
            acrossSteps += heldAcrossSteps(file.bytes).held
        }
        XCTAssertGreaterThan(acrossSteps, 0, "no job was ever held across a step")
    }

    /// Replays `script` with held jobs step by step: how many steps ended with a job held, and
    /// how many jobs ran.
    private func heldAcrossSteps(_ bytes: [UInt8]) -> (held: Int, jobs: Int) {
        var script = DoctorScript()
        script.holdJobs(seed: bytes)
        var input = FuzzInput(bytes)
        var held = 0
        while !input.isAtEnd {
            guard (try? script.step(&input)) != nil, (try? script.completeSomeJobs()) != nil,
                  (try? script.driver.pump()) != nil else { break }
            if !script.driver.heldJobs.isEmpty { held += 1 }
        }
        return (held, script.driver.jobsRun)
    }

    /// Seeded random scripts, biased towards honest handshakes, closes, timers and replays,
    /// through `DoctorScript.runWithHeldJobs` (`DoctorMachine.jobFinished` out of order).
    func testRandomDoctorScriptsKeepInvariantsWithHeldJobs() throws {
        var rng = SeededRandom(seed: Array("held-job scripts".utf8))
        var (heldSteps, jobsRun) = (0, 0)
        for index in 0..<40 {
            var script: [UInt8] = []
            for _ in 0..<40 {
                // Well-formed steps (opcode and its two operand bytes, DoctorScript.step): open,
                // honest start, close, time, replay, command, doctor timer — what a race needs.
                let op = [0, 0, 1, 1, 1, 4, 5, 7, 9, 11][Int(rng.next() % 10)]
                let slot = UInt8(rng.next() % 4)
                switch op {
                case 5: script += [5, UInt8(rng.next() % 4)]     // 1 ms … 9,999 ms
                default: script += [UInt8(op), slot, UInt8(truncatingIfNeeded: rng.next())]
                }
            }
            XCTAssertNoThrow(try DoctorScript.runWithHeldJobs(script), "random script \(index): \(script)")
            let (held, jobs) = heldAcrossSteps(script)
            heldSteps += held
            jobsRun += jobs
        }
        XCTAssertGreaterThan(jobsRun, 40, "the scripts verified requests")
        XCTAssertGreaterThan(heldSteps, 40, "jobs were in flight across steps")
    }

    /// The seed `member-stalled-and-oversize-frames` does what Fuzz/README.md says, through the
    /// production `FrameReader` as `DoctorNode.handle` feeds the machine: a member's frame stalled
    /// in its header ends the membership when opcode 11 fires `.frameCompletion`; one stalled in
    /// its body ends it when the clock passes the handshake timeout; an oversize prefix split
    /// over two chunks is refused and the connection closed.
    func testDoctorSeedEndsStalledAndOversizeMemberFrames() throws {
        let seed = try FuzzFiles.corpus("doctor").first { $0.name == "member-stalled-and-oversize-frames" }?.bytes
        let script = try XCTUnwrap(seed)
        let world = DoctorScriptWorld.shared
        func state(after length: Int) throws -> DoctorScript {
            var run = DoctorScript()
            try run.run(Array(script.prefix(length)))
            return run
        }
        let patient1 = world.patients[0].id, patient2 = world.patients[1].id

        var run = try state(after: 12)   // patient1 active on slot 0, 3 header bytes sent
        let slot0 = try XCTUnwrap(run.slots[0]).connection
        XCTAssertEqual(run.driver.doctor.activePatients, [patient1])
        XCTAssertNotNil(run.driver.timers[.frameCompletion(slot0)])
        XCTAssertTrue(try XCTUnwrap(run.slots[0]).reader.isInsideFrame)
        run = try state(after: 15)       // its frame-completion timer fired
        XCTAssertEqual(run.driver.doctor.activePatients, [])
        XCTAssertFalse(run.driver.observer.isOpen(slot0))

        run = try state(after: 30)       // patient2 active on slot 1, header and 2 of 9 body bytes
        let slot1 = try XCTUnwrap(run.slots[1]).connection
        XCTAssertEqual(run.driver.doctor.activePatients, [patient2])
        XCTAssertNotNil(run.driver.timers[.frameCompletion(slot1)])
        run = try state(after: 32)       // 10,001 ms later
        XCTAssertEqual(run.driver.doctor.activePatients, [])
        XCTAssertFalse(run.driver.observer.isOpen(slot1))

        run = try state(after: 43)       // patient1 again, on slot 2; 2 bytes of a 65,537 prefix
        let slot2 = try XCTUnwrap(run.slots[2]).connection
        XCTAssertEqual(run.driver.doctor.activePatients, [patient1])
        XCTAssertTrue(run.driver.observer.isOpen(slot2))
        run = try state(after: script.count)   // the prefix's last 2 bytes: refused, closed
        XCTAssertEqual(run.driver.doctor.activePatients, [])
        XCTAssertFalse(run.driver.observer.isOpen(slot2))
        XCTAssertNil(run.live(2), "the host drops a slot the doctor closed")
    }

    // MARK: - Version 2 (PROTOCOL.md §8)

    /// The doctor corpus reaches the version-2 paths of `DoctorMachine.frameReceived` (opcode
    /// 12: signature over SignData1_v2, replay insert, the dh_i test, the SESSION_TOKEN_V2
    /// answer; opcode 10 below the minimum: R-VERSION) and `DoctorMachine.setMinimumVersion`
    /// (a v1 session ended), inline and with held jobs, under the checker's version invariants
    /// (answers in kind, no v1 answer or member while the minimum is 2).
    func testDoctorCorpusReachesTheVersion2Paths() throws {
        let files = try FuzzFiles.corpus("doctor")
        for held in [false, true] {
            var counts: [String: Int] = [:]
            for file in files {
                var script = DoctorScript()
                if held { script.holdJobs(seed: file.bytes) }
                XCTAssertNoThrow(try script.run(file.bytes), "doctor script \(file.name)")
                counts.merge(script.driver.observer.versionCounts, uniquingKeysWith: +)
            }
            XCTAssertGreaterThanOrEqual(counts["SESSION_TOKEN_V2"] ?? 0, 4, "held jobs \(held): \(counts)")
            XCTAssertGreaterThanOrEqual(counts["SESSION_TOKEN"] ?? 0, 4, "held jobs \(held): \(counts)")
            XCTAssertGreaterThanOrEqual(counts["R-VERSION"] ?? 0, 3, "held jobs \(held): \(counts)")
            XCTAssertGreaterThanOrEqual(counts["R-ELEM dh_i"] ?? 0, 3, "held jobs \(held): \(counts)")
            XCTAssertGreaterThanOrEqual(counts["session ended: minimum raised"] ?? 0, 1, "held jobs \(held): \(counts)")
        }
    }

    /// The message corpus holds valid v2 requests and answers (worked example and seeded run)
    /// that `MessageCodec.decode` reads as opcodes 12 and 22, and mutations of them the strict
    /// codec refuses (a missing share, a share under the other version's opcode, a short or
    /// uppercase share).
    func testMessageCorpusHasVersion2FramesAndRefusedMutations() throws {
        let files = Dictionary(uniqueKeysWithValues: try FuzzFiles.corpus("message").map { ($0.name, $0.bytes) })
        let codec = MessageCodec(groupName: "telemed-2048-256", elementLength: 256)
        for name in ["key-verification-v2", "key-verification-v2-seeded", "key-verification-v2-spaced",
                     "key-verification-v2-share-one", "key-verification-v2-share-p-minus-1",
                     "key-verification-v2-share-outside-subgroup"] {
            let body = try XCTUnwrap(files[name], name)
            XCTAssertEqual(try codec.decode(body).opcode, .keyVerificationV2, name)
        }
        for name in ["session-token-v2", "session-token-v2-seeded", "session-token-v2-dh-is-request-share"] {
            let body = try XCTUnwrap(files[name], name)
            XCTAssertEqual(try codec.decode(body).opcode, .sessionTokenV2, name)
        }
        for name in ["key-verification-v2-without-dh", "key-verification-v1-opcode-with-dh", "key-verification-v2-dh-short",
                     "key-verification-v2-dh-uppercase", "session-token-v2-without-dh", "session-token-v1-opcode-with-dh"] {
            let body = try XCTUnwrap(files[name], name)
            XCTAssertThrowsError(try codec.decode(body), name)
        }
    }

    /// The seeded v2 run of the independent reference (Fuzz/make-corpus.py, telemed_ref_v2.py)
    /// is what `PatientMachine` makes from the same inputs: a v2 patient (the doctor scripts'
    /// patient1) given the run's t, ElGamal k, rn_i and the k' of a and of the signature sends
    /// the corpus request byte for byte, and confirms the corpus answer
    /// (`PatientMachine.frameReceived`, opcode 22: R-ECHO, R-TIME, R-FS, the signature over
    /// SignData2_v2 with its H_1, c1/c2, K_GWN, dh_gwn, Z, SK). Every other corpus answer and
    /// every one-byte mutation of the valid one closes the patient without KEY_CONFIRMATION.
    func testVersion2PatientConfirmsTheSeededAnswerAndNoMutationOfIt() throws {
        let world = DoctorScriptWorld.shared
        let files = Dictionary(uniqueKeysWithValues: try FuzzFiles.corpus("message").map { ($0.name, $0.bytes) })
        let request = try XCTUnwrap(files["key-verification-v2-seeded"])
        let answer = try XCTUnwrap(files["session-token-v2-seeded"])
        let group = world.group
        let codec = MessageCodec(groupName: group.name, elementLength: group.elementLength)
        func seeded(_ name: String) -> [UInt8] { Hashing.sha256(Array("fuzz corpus v2 seeded \(name)".utf8)).bytes }
        func seededScalarDraw(_ name: String) throws -> [UInt8] {
            // randomScalar draws 1 + (a value below q − 1): the draw is SHA-256 mod (q − 1).
            try (BigInt(bigEndian: seeded(name)) % (group.q - .one)).bytes(width: 32)
        }
        var rng = WorkedExampleTests.ScriptedRandom()
        rng.push(try seededScalarDraw("t"))
        rng.push(try seededScalarDraw("k"))
        rng.push(seeded("rn_i"))
        rng.push(seeded("kprime_a"))
        rng.push(seeded("kprime_kv"))
        var configuration = PatientConfiguration()
        configuration.version = .v2
        let (id, key) = world.patients[0]
        var waiting = try PatientMachine(configuration: configuration, identity: id, privateKey: key,
                                         doctorID: world.doctorID, doctorKey: world.doctorKey.publicKey)
        let start = Instant(wall: DoctorScriptWorld.startWall, monotonic: 0)
        let sent = waiting.connected(now: start, using: &rng).compactMap { action -> [UInt8]? in
            if case let .send(body) = action { return body }
            return nil
        }
        XCTAssertEqual(sent.map { String(decoding: $0, as: UTF8.self) }, [String(decoding: request, as: UTF8.self)])
        XCTAssertTrue(rng.exhausted, "the request drew exactly the seeded run's randomness")

        let later = Instant(wall: DoctorScriptWorld.startWall + 250, monotonic: 250)
        func confirms(_ body: [UInt8]) -> Bool {
            var patient = waiting
            var none = WorkedExampleTests.ScriptedRandom()
            let actions = patient.frameReceived(body, now: later, using: &none)
            return actions.contains { action in
                if case let .send(frame) = action, case .keyConfirmation? = try? codec.decode(frame) { return true }
                return false
            }
        }
        XCTAssertTrue(confirms(answer), "the seeded answer is valid for the seeded request")
        for name in files.keys.sorted() where name != "session-token-v2-seeded" {
            XCTAssertFalse(confirms(files[name] ?? []), "\(name) was confirmed")
        }
        var mutations = 0
        for index in stride(from: 0, to: answer.count, by: 7) {
            var mutated = answer
            mutated[index] ^= 0x01
            XCTAssertFalse(confirms(mutated), "byte \(index) flipped was confirmed")
            mutations += 1
        }
        XCTAssertGreaterThan(mutations, 300)
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

    /// The checker's version invariants can fail: a SESSION_TOKEN_V2 answering an opcode-10
    /// first frame, a SESSION_TOKEN answering opcode 12, a SESSION_TOKEN while the minimum
    /// version is 2 (`DoctorMachine.setMinimumVersion`), and an R-VERSION refusal of an
    /// opcode-12 request are each reported.
    func testDoctorCheckerRejectsAnswersOfTheOtherVersion() throws {
        let world = DoctorScriptWorld.shared
        let files = Dictionary(uniqueKeysWithValues: try FuzzFiles.corpus("message").map { ($0.name, $0.bytes) })
        let v1Request = try XCTUnwrap(files["key-verification"]), v2Request = try XCTUnwrap(files["key-verification-v2-seeded"])
        let v1Answer = try XCTUnwrap(files["session-token"]), v2Answer = try XCTUnwrap(files["session-token-v2-seeded"])
        let now = Instant(wall: DoctorScriptWorld.startWall, monotonic: 0)
        func checker(firstFrame: [UInt8]) -> DoctorScriptChecker {
            var checker = DoctorScriptChecker(configuration: world.configuration, group: world.group)
            checker.opened(ConnectionID(1))
            checker.frameToDoctor(firstFrame, on: ConnectionID(1))
            return checker
        }
        var inKind = checker(firstFrame: v1Request)
        XCTAssertNoThrow(try inKind.check([.send(ConnectionID(1), v1Answer)], doctor: world.template, now: now))
        inKind = checker(firstFrame: v2Request)
        XCTAssertNoThrow(try inKind.check([.send(ConnectionID(1), v2Answer)], doctor: world.template, now: now))

        var crossed = checker(firstFrame: v1Request)
        XCTAssertThrowsError(try crossed.check([.send(ConnectionID(1), v2Answer)], doctor: world.template, now: now))
        crossed = checker(firstFrame: v2Request)
        XCTAssertThrowsError(try crossed.check([.send(ConnectionID(1), v1Answer)], doctor: world.template, now: now))

        var raised = world.template
        var rng = SeededRandom(seed: 1)
        _ = raised.setMinimumVersion(.v2, now: now, using: &rng)
        var belowMinimum = checker(firstFrame: v1Request)
        XCTAssertThrowsError(try belowMinimum.check([.send(ConnectionID(1), v1Answer)], doctor: raised, now: now))
        let source = world.sources[0]
        var wrongRefusal = checker(firstFrame: v2Request)
        XCTAssertThrowsError(try wrongRefusal.check([.event(.rejected(ConnectionID(1), source: source, rule: .version,
                                                                      reason: "test", patient: nil))],
                                                    doctor: raised, now: now))
    }
}
