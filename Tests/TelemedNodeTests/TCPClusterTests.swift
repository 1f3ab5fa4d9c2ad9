import TelemedNode
import TelemedProtocol
import XCTest

/// A doctor and three patients over real TCP on 127.0.0.1 (ephemeral port).
final class TCPClusterTests: XCTestCase {
    func testThreePatientsOverTCP() async throws {
        let cluster = try await TCPCluster(enrolling: ["alice", "bob", "carol"])
        for (index, name) in ["alice", "bob", "carol"].enumerated() {
            cluster.startPatient(name)
            // One at a time, each keyed in its own epoch (its epoch window ended, PROTOCOL.md
            // §7.1), so the epochs are predictable.
            let joined = await eventually { cluster.latestEpoch(name) == UInt64(index + 1) }
            XCTAssertTrue(joined, "\(name) did not authenticate in epoch \(index + 1)")
        }
        let allAtThree = await eventually { ["alice", "bob", "carol"].allSatisfy { cluster.latestEpoch($0) == 3 } }
        XCTAssertTrue(allAtThree, "epochs: \(["alice", "bob", "carol"].map(cluster.latestEpoch))")

        try await cluster.doctor.broadcast("over tcp")
        let delivered = await eventually { ["alice", "bob", "carol"].allSatisfy { cluster.broadcasts($0) == ["over tcp"] } }
        XCTAssertTrue(delivered)
        let receipts = await eventually {
            cluster.doctorEvents.all.filter { if case .receipt(_, 3, 0, true) = $0 { return true }; return false }.count == 3
        }
        XCTAssertTrue(receipts)
        // The console's `list` reads each member's last receipt from the machine.
        let listed = await cluster.doctor.status().members.map { member in member.lastReceipt.map { [$0.epoch, $0.seq] } }
        XCTAssertEqual(listed, [[3, 0], [3, 0], [3, 0]])

        // carol leaves; alice and bob move to epoch 4.
        await cluster.patients["carol"]?.leave()
        let carolOutcome = await cluster.runs["carol"]?.value
        XCTAssertEqual(carolOutcome, .left)
        let moved = await eventually { cluster.latestEpoch("alice") == 4 && cluster.latestEpoch("bob") == 4 }
        XCTAssertTrue(moved)

        // bob is kicked and cannot read the next broadcast; alice can.
        try await cluster.doctor.kick(try PeerID("bob"))
        let bobOutcome = await cluster.runs["bob"]?.value
        XCTAssertEqual(bobOutcome, .disconnectedByDoctor("kicked"))
        let aliceAtFive = await eventually { cluster.latestEpoch("alice") == 5 }
        XCTAssertTrue(aliceAtFive)
        try await cluster.doctor.broadcast("after the kick")
        let aliceGotIt = await eventually { cluster.broadcasts("alice") == ["over tcp", "after the kick"] }
        XCTAssertTrue(aliceGotIt)
        let aliceAcked = await eventually { await cluster.doctor.status().members.first?.lastReceipt?.epoch == 5 }
        XCTAssertTrue(aliceAcked, "alice's receipt for epoch 5 replaces her earlier one")
        XCTAssertEqual(cluster.broadcasts("bob"), ["over tcp"])
        XCTAssertEqual(cluster.broadcasts("carol"), ["over tcp"])

        // The table sizes: one member left, nothing pending, three (id, rn) pairs remembered.
        let counters = await cluster.doctor.counters()
        XCTAssertEqual(counters.members, 1)
        XCTAssertEqual(counters.connections, 1)
        XCTAssertEqual(counters.pendingHandshakes, 0)
        XCTAssertEqual(counters.timers, 0)
        XCTAssertEqual(counters.replayCacheEntries, 3)
        XCTAssertEqual(counters.epoch, 5)
        XCTAssertEqual(counters.lastReceipts, 1, "departed members' receipts leave with them")
        XCTAssertEqual(counters.sourceBlocks + counters.deviceBlocks + counters.failureSources, 0)

        await cluster.shutdown()
        let aliceOutcome = await cluster.runs["alice"]?.value
        XCTAssertEqual(aliceOutcome, .disconnectedByDoctor("shutdown"))
    }
}
