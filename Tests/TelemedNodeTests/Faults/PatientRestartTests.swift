import Foundation
import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport
import TelemedTestSupport
import XCTest

/// A patient that dies and comes back with the same credential: it rejoins with a new session
/// and a new epoch, and every frame of its old session, replayed on a new connection, is
/// refused and changes nothing.
final class PatientRestartTests: XCTestCase {
    private let codec = MessageCodec(groupName: TestKeys.group.name, elementLength: TestKeys.group.elementLength)

    func testRestartedPatientRejoinsAndItsOldSessionFramesAreRefused() async throws {
        let cluster = try await TCPCluster(enrolling: ["alice", "bob"])
        let port = cluster.port
        cluster.startPatient("bob")
        let bobIn = await eventually { cluster.latestEpoch("bob") == 1 }
        XCTAssertTrue(bobIn)

        // alice's first life (driven by hand so its frames can be kept): join, one broadcast,
        // its receipt.
        let old = try RawMember("alice", port: port, from: "127.0.0.5", seed: 1)
        try old.join()
        XCTAssertEqual(old.machine.epoch, 2)
        try await cluster.doctor.broadcast("one")
        try old.step()
        XCTAssertEqual(old.sent.count, 3, "KEY_VERIFICATION, KEY_CONFIRMATION, DEC_MSG")
        let aliceID = try PeerID("alice")
        let receiptSeen = await eventually {
            cluster.doctorEvents.all.contains(.receipt(aliceID, epoch: 2, seq: 0, known: true))
        }
        XCTAssertTrue(receiptSeen)

        // It dies (the process is gone: the kernel resets the connection).
        old.socket.reset()
        let gone = await eventually { await cluster.doctor.status().members.map(\.id) == ["bob"] }
        XCTAssertTrue(gone)
        let bobAtThree = await eventually { cluster.latestEpoch("bob") == 3 }
        XCTAssertTrue(bobAtThree)

        // Its second life, same credential, same source: a new session and a new epoch.
        let again = try RawMember("alice", port: port, from: "127.0.0.5", seed: 2)
        try again.join()
        XCTAssertEqual(again.machine.epoch, 4)
        let bobAtFour = await eventually { cluster.latestEpoch("bob") == 4 }
        XCTAssertTrue(bobAtFour)
        let before = await cluster.doctor.status()
        XCTAssertEqual(before.members.map(\.id), ["alice", "bob"])
        XCTAssertEqual(before.epoch, 4)
        // Reports (the observer) follow their audit rows' commit, which may come after the
        // frames went out: wait until epoch 4's report is in before counting.
        let reportedFour = await eventually { cluster.startedEpochs.last?.epoch == 4 }
        XCTAssertTrue(reportedFour)
        let epochsBefore = cluster.startedEpochs.count
        XCTAssertNotEqual(again.sent.first, old.sent.first)

        // Every frame of the old session, replayed on a new connection from 127.0.0.6.
        let rejected = Framing.frame(codec.encode(.rejected))
        for (index, frame) in old.sent.enumerated() {
            let replay = try RawSocket(port: port, from: "127.0.0.6")
            try replay.write(Framing.frame(frame))
            XCTAssertEqual(try replay.readUntilEndOfStream(), rejected, "old frame \(index) was not refused")
        }
        let failures = try await cluster.doctor.auditRows(kind: .authFailure).filter { $0.source == "127.0.0.6" }
        XCTAssertEqual(failures.count, 3, "\(failures)")
        XCTAssertEqual(failures.first?.rule, RuleID.replay.rawValue)

        // Nothing changed: same members, same epoch, no new epoch, the new session works.
        let after = await cluster.doctor.status()
        XCTAssertEqual(after.members.map(\.id), ["alice", "bob"])
        XCTAssertEqual(after.epoch, 4)
        XCTAssertEqual(cluster.startedEpochs.count, epochsBefore)
        try await cluster.doctor.broadcast("two")
        try again.step()
        XCTAssertTrue(again.events.contains { if case .broadcastReceived(4, 0, _, "two") = $0 { return true }; return false },
                      "\(again.events)")
        let bobGotBoth = await eventually { cluster.broadcasts("bob") == ["one", "two"] }
        XCTAssertTrue(bobGotBoth)
        let leaves = try await cluster.doctor.auditRows(kind: .leave)
        XCTAssertEqual(leaves.map { "\($0.patient ?? "-") \($0.detail)" }, ["alice connectionClosed"])
        again.socket.shutdownWrite()  // so the doctor's shutdown need not wait out its linger
        await cluster.shutdown()
    }

    func testKilledPatientProcessRejoinsWithANewEpoch() async throws {
        guard let doctorBinary = builtExecutable("doctor"), let patientBinary = builtExecutable("patient") else {
            throw XCTSkip("the doctor and patient executables are not built (run `swift build` first)")
        }
        let directory = try temporaryDirectory("patient-restart")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let doctor = try Spawned(doctorBinary, ["serve", "--demo-enroll", "alice,bob", "--port", String(try freeLoopbackPort()), "--state-dir", "state"],
                                 directory: directory, name: "doctor")
        defer { doctor.stop() }
        let listening = await doctor.waitFor("type \"help\" for commands")
        XCTAssertTrue(listening, doctor.output + doctor.errors)

        let bob = try Spawned(patientBinary, ["bob", "--state-dir", "state"], directory: directory, name: "bob")
        defer { bob.stop() }
        let bobIn = await bob.waitFor("bob: authenticated; group key epoch 1")
        XCTAssertTrue(bobIn, bob.output + bob.errors)
        let alice = try Spawned(patientBinary, ["alice", "--state-dir", "state"], directory: directory, name: "alice")
        defer { alice.stop() }
        let aliceIn = await alice.waitFor("alice: authenticated; group key epoch 2")
        XCTAssertTrue(aliceIn, alice.output + alice.errors)

        alice.signal(SIGKILL)
        let status = await alice.waitForExit()
        XCTAssertEqual(status, SIGKILL)
        let left = await doctor.waitFor("- alice left (connectionClosed)")
        XCTAssertTrue(left, doctor.output)
        let bobAtThree = await bob.waitFor("bob: group key epoch 3 (1 member)")
        XCTAssertTrue(bobAtThree, bob.output)

        let again = try Spawned(patientBinary, ["alice", "--state-dir", "state"], directory: directory, name: "alice2")
        defer { again.stop() }
        let rejoined = await again.waitFor("alice: authenticated; group key epoch 4 (2 members)")
        XCTAssertTrue(rejoined, again.output + again.errors)
        let bobAtFour = await bob.waitFor("bob: group key epoch 4 (2 members)")
        XCTAssertTrue(bobAtFour, bob.output)
        doctor.type("broadcast welcome back")
        let aliceGotIt = await again.waitFor("doctor: welcome back")
        XCTAssertTrue(aliceGotIt, again.output)
        XCTAssertEqual(doctor.output.components(separatedBy: "+ alice authenticated").count, 3, doctor.output)

        doctor.type("quit")
        let doctorStatus = await doctor.waitForExit()
        XCTAssertEqual(doctorStatus, 0)
        _ = await bob.waitForExit()
        _ = await again.waitForExit()
    }
}
