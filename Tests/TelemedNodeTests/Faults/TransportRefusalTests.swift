import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTCP
import TelemedTransport
import TelemedTestSupport
import XCTest

/// PROTOCOL.md §7.6 against a live doctor (`DoctorService` over `TCPServerTransport`, the
/// production path of `doctor serve`): transport-level refusals are the machine's rejections.
/// The transport only reports a refused length prefix or a begun frame; the machine answers
/// REJECTED, closes, audits R-FRAME or R-STATE, counts first frames against the source, and
/// turns a member's refusal into a leave.
final class TransportRefusalTests: XCTestCase {
    private let codec = MessageCodec(groupName: TestKeys.group.name, elementLength: TestKeys.group.elementLength)
    private var rejectedFrame: [UInt8] { Framing.frame(codec.encode(.rejected)) }

    func testBadLengthPrefixesOnAFreshConnectionGetRejected() async throws {
        let cluster = try await TCPCluster(enrolling: ["alice"])
        let prefixes: [(bytes: [UInt8], declared: UInt32)] = [
            ([0, 0, 0, 0], 0), ([0, 1, 0, 1], 65_537), ([0x80, 0, 0, 0], 1 << 31),
        ]
        for (bytes, _) in prefixes {
            let socket = try RawSocket(port: cluster.port, from: "127.0.0.3")
            try socket.write(bytes)
            XCTAssertEqual(try socket.readUntilEndOfStream(), rejectedFrame, "prefix \(bytes)")
        }
        let rows = try await cluster.doctor.auditRows(kind: .authFailure).filter { $0.source == "127.0.0.3" }
        XCTAssertEqual(rows.map { $0.rule ?? "-" }, ["R-FRAME", "R-FRAME", "R-FRAME"])
        for (_, declared) in prefixes {
            XCTAssertTrue(rows.contains { $0.detail.contains("frame length \(declared) outside 1...65536") },
                          "no audit text for \(declared): \(rows.map(\.detail))")
        }
        let counters = await cluster.doctor.counters()
        XCTAssertEqual(counters.failureSources, 1, "the three first-frame refusals count against 127.0.0.3")
        await cluster.shutdown()
    }

    func testAMembersOversizePrefixIsAnAuditedRFrameLeave() async throws {
        let cluster = try await TCPCluster(enrolling: ["alice", "bob"])
        cluster.startPatient("alice")
        let aliceIn = await eventually { cluster.latestEpoch("alice") == 1 }
        XCTAssertTrue(aliceIn)
        let bob = try RawMember("bob", port: cluster.port, from: "127.0.0.4", seed: 7)
        try bob.join()
        let bothIn = await eventually { cluster.latestEpoch("alice") == 2 }
        XCTAssertTrue(bothIn)

        try bob.socket.write([0, 1, 0, 1])  // 65,537
        var tail = try bob.socket.readUntilEndOfStream()
        // Whatever else was queued (nothing here), REJECTED is the last frame before the close.
        XCTAssertTrue(tail.count >= rejectedFrame.count && Array(tail.suffix(rejectedFrame.count)) == rejectedFrame,
                      "got \(tail.count) bytes")
        tail = []
        let aliceRekeyed = await eventually { cluster.latestEpoch("alice") == 3 }
        XCTAssertTrue(aliceRekeyed, "bob's leave starts a new epoch for alice")
        let rows = try await cluster.doctor.auditRows().filter { $0.patient == "bob" }
        XCTAssertTrue(rows.contains { $0.rule == "R-FRAME" && $0.detail.contains("frame length 65537 outside") },
                      "\(rows.map { "\($0.kind) \($0.rule ?? "-") \($0.detail)" })")
        XCTAssertTrue(rows.contains { $0.kind == .leave && $0.detail.contains("rejected") },
                      "\(rows.map { "\($0.kind) \($0.detail)" })")
        let status = await cluster.doctor.status()
        XCTAssertEqual(status.members.map(\.id), ["alice"])
        await cluster.shutdown()
    }

    func testAMembersStalledFrameEndsItsSessionAfterTheHandshakeTimeout() async throws {
        var configuration = DoctorConfiguration.acceptingVersion1
        configuration.handshakeTimeoutMillis = 1_000
        let cluster = try await TCPCluster(enrolling: ["bob"], configuration: configuration)
        let bob = try RawMember("bob", port: cluster.port, from: "127.0.0.5", seed: 8)
        try bob.join()
        let started = ContinuousClock.now
        try bob.socket.write([0, 0, 0, 50, 0x7b])  // 50 announced, 1 sent, then silence
        XCTAssertEqual(try bob.socket.readUntilEndOfStream(), rejectedFrame)
        let waited = ContinuousClock.now - started
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(900), "the machine's timeout, not earlier")
        XCTAssertLessThan(waited, .seconds(5))
        let rows = try await cluster.doctor.auditRows().filter { $0.patient == "bob" }
        XCTAssertTrue(rows.contains { $0.rule == "R-FRAME" && $0.detail.contains("not completed within the handshake timeout") },
                      "\(rows.map { "\($0.kind) \($0.rule ?? "-") \($0.detail)" })")
        let status = await cluster.doctor.status()
        XCTAssertEqual(status.members.map(\.id), [])
        await cluster.shutdown()
    }

    func testAFrameCompletedInTimeKeepsTheMember() async throws {
        var configuration = DoctorConfiguration.acceptingVersion1
        configuration.handshakeTimeoutMillis = 1_000
        let cluster = try await TCPCluster(enrolling: ["bob"], configuration: configuration)
        let bob = try RawMember("bob", port: cluster.port, from: "127.0.0.6", seed: 9)
        try bob.join()
        // A (stale) receipt frame written in two parts 600 ms apart: the frame timer is cancelled
        // when it completes, and the receipt itself is judged as usual.
        let frame = Framing.frame(codec.encode(.decMsg(ReceiptMessage(idI: TestKeys.id("bob"), seq: 5,
                                                                      ct: [UInt8](repeating: 0, count: 32)))))
        try bob.socket.write(Array(frame.prefix(10)))
        try await Task.sleep(for: .milliseconds(600))
        try bob.socket.write(Array(frame.dropFirst(10)))
        XCTAssertEqual(try bob.socket.readUntilEndOfStream(), rejectedFrame, "a forged receipt is R-AEAD")
        let rows = try await cluster.doctor.auditRows().filter { $0.patient == "bob" }
        XCTAssertTrue(rows.contains { $0.rule == "R-AEAD" }, "\(rows.map { "\($0.rule ?? "-") \($0.detail)" })")
        XCTAssertFalse(rows.contains { $0.rule == "R-FRAME" }, "the frame completed in time")
        await cluster.shutdown()
    }
}
