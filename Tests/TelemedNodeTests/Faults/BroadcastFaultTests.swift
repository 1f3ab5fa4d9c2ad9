import TelemedNode
import TelemedProtocol
import TelemedTCP
import TelemedTransport
import TelemedTestSupport
import XCTest

/// Members that fail while the doctor broadcasts, over real TCP: one reset in the middle of a
/// burst, one that never reads. The others get every broadcast, the failed one leaves the
/// doctor's list and a new epoch follows; the doctor's outbound queue for the silent one
/// stays within the configured bound.
final class BroadcastFaultTests: XCTestCase {
    private let honest = ["alice", "bob", "carol", "erin"]

    /// Honest members one at a time (predictable epochs), then dave by hand from 127.0.0.2.
    private func joinEveryone(_ cluster: TCPCluster, daveReceiveBuffer: Int32? = nil) async throws -> RawMember {
        for (index, name) in honest.enumerated() {
            cluster.startPatient(name)
            let joined = await eventually { cluster.latestEpoch(name) == UInt64(index + 1) }
            XCTAssertTrue(joined, "\(name) did not join")
        }
        let dave = try RawMember("dave", port: cluster.port, from: "127.0.0.2", seed: 77, receiveBuffer: daveReceiveBuffer)
        try dave.join()
        XCTAssertEqual(dave.machine.epoch, 5)
        let allAtFive = await eventually { self.honest.allSatisfy { cluster.latestEpoch($0) == 5 } }
        XCTAssertTrue(allAtFive)
        return dave
    }

    private func recipients(_ cluster: TCPCluster) -> [Int] {
        cluster.doctorEvents.all.compactMap {
            if case let .broadcastSent(_, _, recipients) = $0 { return recipients }
            return nil
        }
    }

    // MARK: - Reset mid-broadcast

    func testMemberResetDuringABroadcastBurstLeavesAndTheOthersGetEveryBroadcast() async throws {
        let cluster = try await TCPCluster(enrolling: honest + ["dave"])
        let dave = try await joinEveryone(cluster)

        let texts = (0..<40).map { "burst \($0)" }
        for (index, text) in texts.enumerated() {
            try await cluster.doctor.broadcast(text)
            if index == 10 { dave.socket.reset() }
            try await Task.sleep(for: .milliseconds(15))
        }
        let delivered = await eventually(within: 10) { self.honest.allSatisfy { cluster.broadcasts($0) == texts } }
        XCTAssertTrue(delivered, "\(honest.map { cluster.broadcasts($0).count })")

        // dave is gone from the list, and exactly one new epoch (6) covers the rest.
        let left = await eventually { await cluster.doctor.status().members.map(\.id) == self.honest }
        XCTAssertTrue(left)
        let status = await cluster.doctor.status()
        XCTAssertEqual(status.epoch, 6)
        XCTAssertEqual(cluster.startedEpochs.last?.epoch, 6)
        XCTAssertEqual(cluster.startedEpochs.last?.members, honest)
        let movedOn = await eventually { self.honest.allSatisfy { cluster.latestEpoch($0) == 6 } }
        XCTAssertTrue(movedOn)
        let daveConnection = try XCTUnwrap(cluster.connection(of: "dave"))
        XCTAssertTrue(cluster.doctorEvents.all.contains(.patientLeft(try PeerID("dave"),
                                                                     TelemedProtocol.ConnectionID(daveConnection),
                                                                     reason: .connectionClosed)),
                      "\(cluster.doctorEvents.all.filter { if case .patientLeft = $0 { return true }; return false })")
        // Every broadcast went out; the first eleven reached five members, the later ones four
        // (a few in between may have gone out before the doctor saw the reset).
        let counts = recipients(cluster)
        XCTAssertEqual(counts.count, texts.count)
        XCTAssertEqual(Array(counts.prefix(11)), Array(repeating: 5, count: 11))
        XCTAssertEqual(counts.last, 4)
        XCTAssertTrue(counts.allSatisfy { $0 == 4 || $0 == 5 } && counts == counts.sorted(by: >), "\(counts)")

        // Receipts: every honest member acknowledged every broadcast.
        let receipts = await eventually {
            cluster.doctorEvents.all.filter { if case .receipt(_, _, _, true) = $0 { return true }; return false }.count
                >= self.honest.count * texts.count
        }
        XCTAssertTrue(receipts)
        await cluster.shutdown()
    }

    // MARK: - Slow reader

    func testMemberThatNeverReadsIsDroppedAtTheQueueBoundAndTheOthersAreServed() async throws {
        let bound = 256 * 1024
        // A fixed kernel send buffer (no autotuning up to 4 MB), so the transport's own queue,
        // not the kernel, is what fills; no write timeout in the way.
        // The bound and the write timeout are the doctor's configuration, handed to the transport
        // as `doctor serve` hands them (`DoctorConfiguration.transportBounds`).
        var configuration = DoctorConfiguration.acceptingVersion1
        configuration.outboundQueueBytes = bound
        configuration.writeTimeoutMillis = 60_000
        var settings = TCPConnectionSettings(bounds: configuration.transportBounds)
        settings.sendBufferBytes = 32 * 1024
        let cluster = try await TCPCluster(enrolling: honest + ["dave"], configuration: configuration,
                                           server: .init(host: "127.0.0.1", port: 0, connection: settings),
                                           recordTransport: true)
        let dave = try await joinEveryone(cluster, daveReceiveBuffer: 4_096)
        let daveConnection = try XCTUnwrap(cluster.connection(of: "dave"))
        _ = dave  // dave never reads again

        // Large broadcasts, each delivered to the honest members before the next (they read
        // at their own pace; only dave never does).
        let count = 40
        let filler = String(repeating: "x", count: 16_000)
        var droppedAfter: Int?
        for index in 0..<count {
            let text = "\(index) \(filler)"
            try await cluster.doctor.broadcast(text)
            let delivered = await eventually(within: 10) {
                self.honest.allSatisfy { cluster.broadcasts($0).count == index + 1 }
            }
            XCTAssertTrue(delivered, "broadcast \(index) did not reach everyone")
            if droppedAfter == nil, cluster.closeReasons[daveConnection] != nil { droppedAfter = index }
        }

        // dave's connection was closed because its queue would have passed the bound, long
        // before the burst ended; nothing else was closed.
        let closed = await eventually { cluster.closeReasons[daveConnection] != nil }
        XCTAssertTrue(closed, "dave was never dropped")
        XCTAssertEqual(cluster.closeReasons[daveConnection], .outboundQueueFull)
        XCTAssertEqual(cluster.closeReasons.count, 1, "\(cluster.closeReasons)")
        // …and audited with its own reason, not as a plain close.
        let daveID = try PeerID("dave")
        let daveLeft = await eventually {
            cluster.doctorEvents.all.contains(.patientLeft(daveID,
                                                           TelemedProtocol.ConnectionID(daveConnection),
                                                           reason: .outboundQueueFull))
        }
        XCTAssertTrue(daveLeft)
        // An ENC_MSG of this text is about 32.8 KB on the wire (ct, r and s in hex). The queue
        // filled after the bound's worth of frames plus what the kernel took (32 KiB send
        // buffer, a few KiB of dave's receive window), never later.
        let frameBytes = 2 * (16_000 + 3 + 16) + 2 * 256 + 64 + 128
        let after = try XCTUnwrap(droppedAfter)
        XCTAssertGreaterThan((after + 1) * frameBytes, bound, "dropped after \(after + 1) broadcasts, before the bound")
        XCTAssertLessThan(after * frameBytes, bound + 256 * 1024,
                          "dropped only after \(after + 1) broadcasts: the queue was not bounded")
        let status = await cluster.doctor.status()
        XCTAssertEqual(status.members.map(\.id), honest)
        XCTAssertEqual(cluster.startedEpochs.last?.members, honest)
        for name in honest {
            XCTAssertEqual(cluster.broadcasts(name).count, count, name)
            XCTAssertEqual(cluster.broadcasts(name).map { $0.prefix { $0 != " " } }, (0..<count).map { "\($0)"[...] })
        }
        XCTAssertEqual(recipients(cluster).last, 4)
        await cluster.shutdown()
    }
}
