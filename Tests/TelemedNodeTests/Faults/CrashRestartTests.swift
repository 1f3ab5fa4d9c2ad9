import Foundation
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport
import TelemedTestSupport
import XCTest

/// The real `doctor serve` killed with SIGKILL in the middle of a burst of bad logins, then
/// restarted on the same state directory: every block it reported before the kill is in force
/// after the restart, the database passes `PRAGMA integrity_check` and holds, in order, the
/// rows of everything it reported, and honest patients rejoin in a fresh run.
final class CrashRestartTests: XCTestCase {
    /// A stop flag the burst thread polls.
    private final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        var isSet: Bool { lock.withLock { value } }
        func set() { lock.withLock { value = true } }
    }

    private static func listeningPort(_ doctor: Spawned) -> Int? {
        doctor.output.components(separatedBy: "listening on 127.0.0.1:").dropFirst().first
            .flatMap { Int($0.prefix { $0.isNumber }) }
    }

    /// (source, rule) of every `! rejected …` line, and the target of every `! blocked …` line.
    private static func reported(_ output: String) -> (rejections: [String], blocks: [String]) {
        var rejections: [String] = []
        var blocks: [String] = []
        for line in output.split(separator: "\n") {
            if line.hasPrefix("! rejected "), let from = line.range(of: " from "), let colon = line.range(of: ": R-") {
                let source = line[from.upperBound...].prefix { $0 != " " && $0 != ":" }
                let rule = "R-" + line[colon.upperBound...].prefix { $0 != " " }
                rejections.append("\(source) \(rule)")
            } else if line.hasPrefix("! blocked "), let until = line.range(of: " until ") {
                blocks.append(String(line[line.index(line.startIndex, offsetBy: 10)..<until.lowerBound]))
            }
        }
        return (rejections, blocks)
    }

    func testBlocksAndAuditRowsSurviveSIGKILLAndPatientsRejoinAFreshRun() async throws {
        guard let doctorBinary = builtExecutable("doctor"), let patientBinary = builtExecutable("patient") else {
            throw XCTSkip("the doctor and patient executables are not built (run `swift build` first)")
        }
        let directory = try temporaryDirectory("crash")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = directory + "/state"

        // First run. Minimum version 1 (migration): the hand-driven dave below speaks version 1,
        // alice (the real `patient`) version 2.
        let first = try Spawned(doctorBinary, ["serve", "--demo-enroll", "alice,dave", "--port", String(try freeLoopbackPort()), "--state-dir", "state",
                                               "--min-version", "1"],
                                directory: directory, name: "doctor")
        defer { first.stop() }
        let listening = await first.waitFor("type \"help\" for commands")
        XCTAssertTrue(listening, first.output + first.errors)
        let port = try XCTUnwrap(Self.listeningPort(first))
        let dave = try PatientDevice(directory: state).credential(try PeerID("dave"))
        let codec = MessageCodec(groupName: dave.privateKey.group.name, elementLength: dave.privateKey.group.elementLength)
        let rejected = Framing.frame(codec.encode(.rejected))

        let alice = try Spawned(patientBinary, ["alice", "--state-dir", "state"], directory: directory, name: "alice")
        defer { alice.stop() }
        let aliceIn = await alice.waitFor("alice: authenticated; group key epoch 1")
        XCTAssertTrue(aliceIn, alice.output + alice.errors)

        // dave joins by hand from 127.0.0.5 (epoch 2) and keeps a broadcast of this run.
        let oldDave = try RawMember(identity: dave.identity, privateKey: dave.privateKey, doctorID: dave.doctorID,
                                    doctorKey: dave.doctorKey, port: port, from: "127.0.0.5", seed: 5)
        try oldDave.join()
        XCTAssertEqual(oldDave.machine.epoch, 2)
        first.type("broadcast before the crash")
        var oldBroadcast: [UInt8] = []
        for _ in 0..<2 where !oldDave.events.contains(where: { if case .broadcastReceived = $0 { return true }; return false }) {
            oldBroadcast = try oldDave.step()
        }
        XCTAssertTrue(oldDave.events.contains { if case .broadcastReceived(2, 0, _, "before the crash") = $0 { return true }; return false })
        guard case let .encMsg(captured) = try codec.decode(oldBroadcast) else { return XCTFail("no broadcast captured") }
        XCTAssertEqual(captured.epoch, 2)
        let aliceGotIt = await alice.waitFor("doctor: before the crash")
        XCTAssertTrue(aliceGotIt, alice.output)

        // A device block: dave's real key from 127.0.0.3, then a wrong SKV (R-SKV).
        let skv = try RawMember(identity: dave.identity, privateKey: dave.privateKey, doctorID: dave.doctorID,
                                doctorKey: dave.doctorKey, port: port, from: "127.0.0.3", seed: 3)
        try skv.start()
        guard case .sessionToken = try skv.decode(try skv.socket.readFrame()) else { return XCTFail("no SESSION_TOKEN") }
        var rng = SeededRandom(seed: 33)
        let wrong = KeyConfirmation(idI: dave.identity, ts: SystemClock().now().wall, skv: Bytes32(random: &rng))
        try skv.socket.write(Framing.frame(codec.encode(.keyConfirmation(wrong))))
        XCTAssertEqual(try skv.socket.readUntilEndOfStream(), rejected)
        let deviceBlocked = await first.waitFor("! blocked device dave@127.0.0.3")
        XCTAssertTrue(deviceBlocked, first.output)

        // The burst from 127.0.0.2: bad signatures and unknown ids, as fast as the doctor answers,
        // on a thread of its own; SIGKILL lands while it is still going.
        let stop = Flag()
        let attempts = Recorder<String>()
        let burst = Thread {
            var seed: UInt64 = 1_000
            while !stop.isSet {
                seed += 1
                do {
                    let body = seed.isMultiple(of: 2)
                        ? try Forge.badSignature(identity: dave.identity, privateKey: dave.privateKey,
                                                 doctorID: dave.doctorID, doctorKey: dave.doctorKey, seed: seed)
                        : try Forge.unknownID("mallory\(seed)", doctorID: dave.doctorID, doctorKey: dave.doctorKey,
                                              seed: seed)
                    let socket = try RawSocket(port: port, from: "127.0.0.2")
                    try socket.write(Framing.frame(body))
                    _ = try socket.readUntilEndOfStream()
                    attempts.append("answered")
                } catch {
                    attempts.append("failed: \(error)")
                }
            }
        }
        burst.start()
        let sourceBlocked = await first.waitFor("! blocked source 127.0.0.2")
        XCTAssertTrue(sourceBlocked, first.output)
        let refusedOnAccept = await first.waitFor("R-BLOCK source blocked until")
        XCTAssertTrue(refusedOnAccept, "the burst did not go on past the block")
        first.signal(SIGKILL)
        let status = await first.waitForExit()
        stop.set()
        XCTAssertEqual(status, SIGKILL)
        XCTAssertEqual(first.process.terminationReason, .uncaughtSignal)
        try await Task.sleep(for: .milliseconds(200))  // let the pipe hand over the last lines
        let beforeKill = Self.reported(first.output)
        XCTAssertTrue(beforeKill.blocks.contains("source 127.0.0.2"), "\(beforeKill.blocks)")
        XCTAssertTrue(beforeKill.blocks.contains("device dave@127.0.0.3"), "\(beforeKill.blocks)")
        let burstDone = await eventually { burst.isFinished }
        XCTAssertTrue(burstDone)
        XCTAssertGreaterThanOrEqual(attempts.all.filter { $0 == "answered" }.count, 5)

        // The database the crash left: sound, and every reported event has its row, in order.
        do {
            let store = try SecurityStore(path: KeyStore(directory: state).databasePath)
            XCTAssertEqual(try store.integrityCheck(), ["ok"])
            let audit = AuditLog(store: store)
            let all = try audit.rows()
            XCTAssertEqual(all.map(\.id), all.map(\.id).sorted())
            XCTAssertEqual(all.map(\.wall), all.map(\.wall).sorted())
            let failures = try audit.rows(kind: .authFailure).map { "\($0.source ?? "-") \($0.rule ?? "-")" }
            XCTAssertGreaterThanOrEqual(failures.count, beforeKill.rejections.count)
            XCTAssertEqual(Array(failures.prefix(beforeKill.rejections.count)), beforeKill.rejections,
                           "the audit log does not hold what the console reported, in order")
            let blockRows = try audit.rows(kind: .block).compactMap(\.source)
            XCTAssertEqual(Array(blockRows.prefix(beforeKill.blocks.count)), beforeKill.blocks)
            let saved = try store.load()
            XCTAssertNotNil(saved.sourceBlocks[try XCTUnwrap(SourceAddress(ipText: "127.0.0.2"))])
            XCTAssertNotNil(saved.deviceBlocks[DeviceKey(patient: dave.identity,
                                                         source: try XCTUnwrap(SourceAddress(ipText: "127.0.0.3")))])
        }

        // Second run on the same state directory and port.
        let second = try Spawned(doctorBinary, ["serve", "--port", String(port), "--state-dir", "state", "--min-version", "1"],
                                 directory: directory, name: "doctor2")
        defer { second.stop() }
        let relistening = await second.waitFor("type \"help\" for commands")
        XCTAssertTrue(relistening, second.output + second.errors)
        second.type("blocks")
        let listed = await eventually {
            second.output.contains("  device dave@127.0.0.3 until") && second.output.contains("  source 127.0.0.2 until")
        }
        XCTAssertTrue(listed, second.output)

        // Every block is still in force: the source is refused on accept even with a genuine
        // request, the device is refused, and the same id from another source is not.
        let genuine = try Forge.request(identity: dave.identity, privateKey: dave.privateKey, doctorID: dave.doctorID,
                                        doctorKey: dave.doctorKey, seed: 90)
        let fromBlockedSource = try RawSocket(port: port, from: "127.0.0.2")
        try fromBlockedSource.write(Framing.frame(genuine))
        XCTAssertEqual(try fromBlockedSource.readUntilEndOfStream(), rejected)
        let fromBlockedDevice = try RawMember(identity: dave.identity, privateKey: dave.privateKey,
                                              doctorID: dave.doctorID, doctorKey: dave.doctorKey, port: port,
                                              from: "127.0.0.3", seed: 91)
        try fromBlockedDevice.start()
        XCTAssertEqual(try fromBlockedDevice.socket.readUntilEndOfStream(), rejected)
        let bothRefused = await eventually { Self.reported(second.output).rejections.count == 2 }
        XCTAssertTrue(bothRefused, second.output)
        XCTAssertEqual(Self.reported(second.output).rejections, ["127.0.0.2 R-BLOCK", "127.0.0.3 R-BLOCK"])

        // Honest patients: alice reconnects by herself into the new run (PROTOCOL.md §4: epochs
        // start at 1 in each doctor run, with a new session and new keys); dave rejoins from
        // 127.0.0.5. A broadcast of the old run, same epoch number and still within ΔTS, is
        // not delivered in the new one (its group key is gone with the old run).
        let aliceBack = await eventually(within: 15) {
            alice.output.components(separatedBy: "alice: authenticated;").count == 3
        }
        XCTAssertTrue(aliceBack, alice.output)
        let newDave = try RawMember(identity: dave.identity, privateKey: dave.privateKey, doctorID: dave.doctorID,
                                    doctorKey: dave.doctorKey, port: port, from: "127.0.0.5", seed: 55)
        try newDave.join()
        XCTAssertEqual(newDave.machine.epoch, 2)
        let beforeReplay = newDave.events.count
        var replayTarget = newDave.machine
        var replayRng = SeededRandom(seed: 56)
        let replayed = replayTarget.frameReceived(oldBroadcast, now: SystemClock().now(), using: &replayRng)
        // It passes the epoch, seq, time and signature checks (same numbers, same doctor key)
        // and fails to open: the session closes, as on any forged doctor frame (PROTOCOL.md §5).
        XCTAssertTrue(replayed.contains(.event(.ended(.protocolViolation(.aead, "broadcast does not open under GK")))),
                      "\(replayed)")
        XCTAssertFalse(replayed.contains { if case .event(.broadcastReceived) = $0 { return true }; return false },
                       "a broadcast of the previous run was delivered: \(replayed)")
        XCTAssertFalse(replayed.contains { if case .send = $0 { return true }; return false }, "a receipt went out")
        XCTAssertEqual(newDave.events.count, beforeReplay)

        second.type("broadcast after the restart")
        let aliceGotNew = await alice.waitFor("doctor: after the restart")
        XCTAssertTrue(aliceGotNew, alice.output)
        try newDave.step()
        XCTAssertTrue(newDave.events.contains { if case .broadcastReceived(2, 0, _, "after the restart") = $0 { return true }; return false },
                      "\(newDave.events)")

        second.type("quit")
        let secondStatus = await second.waitForExit()
        XCTAssertEqual(secondStatus, 0, second.output + second.errors)
        _ = await alice.waitForExit()
    }
}
