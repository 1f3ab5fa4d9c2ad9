import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport
import TelemedTestSupport
import XCTest

/// Connections reset (RST, SO_LINGER 0) in the middle of the handshake, over real TCP: the
/// doctor frees each pending slot, honest patients are served throughout, and the captured
/// KEY_VERIFICATION replayed on a new connection is refused (R-REPLAY).
final class ResetMidHandshakeTests: XCTestCase {
    func testResetsDuringTheHandshakeFreeTheSlotsAndTheCapturedRequestIsRefused() async throws {
        let cluster = try await TCPCluster(enrolling: ["alice", "bob", "dave"])
        let port = cluster.port
        cluster.startPatient("alice")
        let aliceIn = await eventually { cluster.latestEpoch("alice") == 1 }
        XCTAssertTrue(aliceIn)

        // 1. dave from 127.0.0.2, six times (a source holds at most 4 pending handshakes):
        //    KEY_VERIFICATION, SESSION_TOKEN read, then a reset instead of KEY_CONFIRMATION.
        var captured: [UInt8] = []
        for round in 0..<6 {
            let dave = try RawMember("dave", port: port, from: "127.0.0.2", seed: 100 + UInt64(round))
            let request = try dave.start()
            if round == 0 { captured = request }
            let answer = try dave.decode(try dave.socket.readFrame())
            guard case .sessionToken = answer else { return XCTFail("round \(round): got \(answer.opcode), not a token") }
            dave.socket.reset()
            let freed = await eventually { await cluster.doctor.status().pendingHandshakes == 0 }
            XCTAssertTrue(freed, "round \(round): the pending slot was not freed")
        }

        // 2. From 127.0.0.3: KEY_VERIFICATION then a reset at once (the doctor may or may not have
        //    read the request); and half a KEY_CONFIRMATION then a reset.
        for round in 0..<3 {
            let hasty = try RawMember("dave", port: port, from: "127.0.0.3", seed: 200 + UInt64(round))
            try hasty.start()
            hasty.socket.reset()
            let half = try RawMember("dave", port: port, from: "127.0.0.3", seed: 300 + UInt64(round))
            try half.start()
            _ = try half.socket.readFrame()
            try half.socket.write([0, 0, 0, 200, 0x7b, 0x22])
            half.socket.reset()
        }
        let allFreed = await eventually { await cluster.doctor.status().pendingHandshakes == 0 }
        XCTAssertTrue(allFreed)

        // 3. A connection that sends nothing and is reset is a peer close, not a rejection
        //    (PROTOCOL.md §5): ten of them from 127.0.0.4 do not block the source.
        for _ in 0..<10 {
            let silent = try RawSocket(port: port, from: "127.0.0.4")
            try await Task.sleep(for: .milliseconds(20))
            silent.reset()
        }
        let quiet = await eventually { await cluster.doctor.status().pendingHandshakes == 0 }
        XCTAssertTrue(quiet)
        let silentFailures = try await cluster.doctor.auditRows(kind: .authFailure).filter { $0.source == "127.0.0.4" }
        XCTAssertEqual(silentFailures, [], "a reset before any byte was counted as a failure")

        // 4. The captured request, replayed on a new connection, is refused.
        let replay = try RawSocket(port: port, from: "127.0.0.2")
        try replay.write(Framing.frame(captured))
        let codec = MessageCodec(groupName: TestKeys.group.name, elementLength: TestKeys.group.elementLength)
        XCTAssertEqual(try replay.readUntilEndOfStream(), Framing.frame(codec.encode(.rejected)))

        // 5. Honest patients never noticed: bob joins, both get a broadcast.
        cluster.startPatient("bob")
        let bobIn = await eventually { cluster.latestEpoch("bob") == 2 }
        XCTAssertTrue(bobIn)
        try await cluster.doctor.broadcast("after the resets")
        let delivered = await eventually {
            cluster.broadcasts("alice") == ["after the resets"] && cluster.broadcasts("bob") == ["after the resets"]
        }
        XCTAssertTrue(delivered)
        let status = await cluster.doctor.status()
        XCTAssertEqual(status.members.map(\.id), ["alice", "bob"])
        XCTAssertEqual(status.pendingHandshakes, 0)

        let failures = try await cluster.doctor.auditRows(kind: .authFailure)
        let cut = failures.filter { $0.source == "127.0.0.3" && $0.rule == RuleID.frame.rawValue }
        XCTAssertEqual(cut.count, 3, "a reset inside a frame is still a cut frame: \(failures)")
        let replays = failures.filter { $0.rule == RuleID.replay.rawValue }
        XCTAssertEqual(replays.map(\.source), ["127.0.0.2"], "\(failures)")
        let blocks = try await cluster.doctor.auditRows(kind: .block)
        XCTAssertEqual(blocks, [], "nobody should be blocked")
        let successes = try await cluster.doctor.auditRows(kind: .authSuccess)
        XCTAssertEqual(successes.map(\.patient), ["alice", "bob"])
        await cluster.shutdown()
    }
}
