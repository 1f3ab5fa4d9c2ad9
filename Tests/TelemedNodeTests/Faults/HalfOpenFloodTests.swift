import Foundation
import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTCP
import TelemedTransport
import TelemedTestSupport
import XCTest

/// Connections that open and then send nothing, or half a frame, over real TCP with short
/// timeouts. Two caps apply, and both are tested:
/// - the transport's `maxConnections` counts every open connection (members included); one
///   beyond it is accepted and closed at once, reported `.refused(_, .connectionLimit)`;
/// - the doctor's `pendingPerSource` (4 by default) counts handshakes in progress per source;
///   one beyond it gets REJECTED on accept (R-LIMIT), before anything is read.
/// The doctor's one handshake timeout (a machine timer, PROTOCOL.md §7.6) reaps the stalled
/// ones with REJECTED — R-STATE for the silent ones, R-FRAME for the half frames — after which
/// honest patients get in. The transport runs no timer of its own.
final class HalfOpenFloodTests: XCTestCase {
    private let codec = MessageCodec(groupName: TestKeys.group.name, elementLength: TestKeys.group.elementLength)

    func testHalfOpenFloodIsCappedAndReapedAndHonestPatientsGetIn() async throws {
        let settings = TCPConnectionSettings(lingerTimeout: .milliseconds(200))
        var configuration = DoctorConfiguration.acceptingVersion1
        configuration.handshakeTimeoutMillis = 1_000  // the smallest allowed
        let cluster = try await TCPCluster(enrolling: ["alice", "bob"], configuration: configuration,
                                           server: .init(host: "127.0.0.1", port: 0, maxConnections: 8,
                                                         connection: settings),
                                           recordTransport: true)
        let port = cluster.port
        cluster.startPatient("alice")
        let aliceIn = await eventually { cluster.latestEpoch("alice") == 1 }
        XCTAssertTrue(aliceIn)

        // 1. Seven stalled connections from seven sources fill the cap of 8 (alice holds one):
        //    even ones send nothing, odd ones half a frame (100 bytes announced, 6 sent).
        let floodStart = Date()
        var flood: [RawSocket] = []
        for index in 0..<7 {
            let socket = try RawSocket(port: port, from: "127.0.0.\(10 + index)")
            if index % 2 == 1 { try socket.write([0, 0, 0, 100, 0x7b, 0x22, 0x6f, 0x70, 0x22, 0x3a]) }
            flood.append(socket)
        }
        let allPending = await eventually { await cluster.doctor.status().pendingHandshakes == 7 }
        XCTAssertTrue(allPending, "the doctor did not see the seven stalled connections")

        // 2. The cap holds: four more sources and an honest probe from 127.0.0.1 are closed at once.
        for index in 0..<5 {
            let source = index < 4 ? "127.0.0.\(20 + index)" : "127.0.0.1"
            let extra = try RawSocket(port: port, from: source)
            let started = Date()
            XCTAssertEqual(try extra.readUntilEndOfStream(), [], "\(source) was not closed at once")
            XCTAssertLessThan(Date().timeIntervalSince(started), 0.5, "\(source) waited for the timeout")
        }

        // 3. The handshake timeout reaps the stalled ones: each reads REJECTED, then the end of
        //    stream, none before the timeout.
        let rejected = Framing.frame(codec.encode(.rejected))
        for socket in flood { XCTAssertEqual(try socket.readUntilEndOfStream(), rejected) }
        let reaped = Date().timeIntervalSince(floodStart)
        XCTAssertGreaterThan(reaped, 0.9)  // they waited out the 1 s handshake timeout
        XCTAssertLessThan(reaped, 4)
        let drained = await eventually { await cluster.doctor.status().pendingHandshakes == 0 }
        XCTAssertTrue(drained)
        let reasons = cluster.closeReasons
        XCTAssertEqual(reasons.values.filter { $0 != .byLocal && $0 != .byPeer }, [], "the transport closed nothing itself")
        let stallRows = try await cluster.doctor.auditRows(kind: .authFailure)
            .filter { ($0.source ?? "").hasPrefix("127.0.0.1") && $0.source != "127.0.0.1" }
        XCTAssertEqual(stallRows.filter { $0.rule == RuleID.state.rawValue }.count, 4, "silent: \(stallRows)")
        XCTAssertEqual(stallRows.filter { $0.rule == RuleID.frame.rawValue }.count, 3, "half frames: \(stallRows)")
        let refused = cluster.transportEvents.all.filter { if case .refused(_, .connectionLimit) = $0 { return true }; return false }
        XCTAssertEqual(refused.count, 5)
        let refusedRows = try await cluster.doctor.auditRows(kind: .refused)
        XCTAssertEqual(refusedRows.map { $0.source ?? "-" }, ["127.0.0.20", "127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.1"])

        // 4. Room again once the flood hangs up (the doctor shut its side after REJECTED and
        //    lingers up to 200 ms for the peer's end of stream): bob (127.0.0.1) joins, alice was
        //    never disturbed.
        flood.removeAll()
        try await Task.sleep(for: .milliseconds(300))
        cluster.startPatient("bob")
        let bobIn = await eventually { cluster.latestEpoch("bob") == 2 && cluster.latestEpoch("alice") == 2 }
        XCTAssertTrue(bobIn)

        // 5. The per-source cap: six stalled connections from one source while the transport has
        //    room; four are pending, the other two are refused by the doctor at once (R-LIMIT).
        var crowd: [RawSocket] = []
        for _ in 0..<6 {
            crowd.append(try RawSocket(port: port, from: "127.0.0.30"))
            try await Task.sleep(for: .milliseconds(20))
        }
        let crowdStart = Date()
        let answers = try crowd.map { try $0.readUntilEndOfStream() }
        XCTAssertLessThan(Date().timeIntervalSince(crowdStart), 4)
        XCTAssertEqual(answers.filter { $0 == rejected }.count, 6, "two at once, four at the timeout: \(answers)")
        let limitRows = try await cluster.doctor.auditRows(kind: .authFailure).filter { $0.source == "127.0.0.30" }
        XCTAssertEqual(limitRows.filter { $0.rule == RuleID.limit.rawValue }.count, 2, "\(limitRows)")
        XCTAssertEqual(limitRows.filter { $0.rule == RuleID.state.rawValue }.count, 4, "\(limitRows)")

        // Nothing here blocks anyone: one stall per flood source, four (under the threshold of
        // five) from 127.0.0.30; the members are still served.
        let blocks = try await cluster.doctor.auditRows(kind: .block)
        XCTAssertEqual(blocks, [])
        try await cluster.doctor.broadcast("after the flood")
        let delivered = await eventually {
            cluster.broadcasts("alice") == ["after the flood"] && cluster.broadcasts("bob") == ["after the flood"]
        }
        XCTAssertTrue(delivered)
        let status = await cluster.doctor.status()
        XCTAssertEqual(status.members.map(\.id), ["alice", "bob"])
        XCTAssertEqual(status.pendingHandshakes, 0)
        await cluster.shutdown()
    }
}
