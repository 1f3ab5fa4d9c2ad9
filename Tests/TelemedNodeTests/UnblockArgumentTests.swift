import Foundation
import TelemedNode
import TelemedProtocol
import TelemedTransport
import XCTest

/// `BlockTarget.unblockArgument` (the command the doctor's console prints next to a new block)
/// fed back to `DoctorNode.unblock`: for every kind of block, IPv4 and IPv6, the printed
/// argument lifts exactly that block, durably.
final class UnblockArgumentTests: XCTestCase {
    private let wall: UInt64 = 1_764_000_000_000   // TestClock's start

    private func source(_ text: String) throws -> SourceAddress { try XCTUnwrap(SourceAddress(ipText: text)) }

    func testThePrintedUnblockArgumentLiftsEachKindOfBlock() throws {
        let alice = try PeerID("alice")
        let targets: [BlockTarget] = [
            .source(try source("203.0.113.1")),
            .source(try source("2001:db8:1:2::99")),
            .prefix(try source("198.51.100.7").prefix),
            .prefix(try source("2001:db8:5:6::1").prefix),
            .device(DeviceKey(patient: alice, source: try source("192.0.2.44"))),
            .device(DeviceKey(patient: alice, source: try source("2001:db8:9:9::1"))),
        ]
        XCTAssertEqual(targets.map(\.unblockArgument),
                       ["203.0.113.1", "2001:db8:1:2::", "198.51.100.0/24", "2001:db8:5::/48",
                        "alice@192.0.2.44", "alice@2001:db8:9:9::"])
        let store = try SecurityStore.inMemory()
        try store.apply(targets.map { .blocked($0, until: wall + 3_600_000) }, at: wall - 1_000)
        let cluster = try InMemoryCluster(enrolling: ["alice"], store: store)
        var remaining = targets.count
        for target in targets {
            try cluster.doctor.unblock(target.unblockArgument)
            remaining -= 1
            let state = try store.load()
            let count = state.sourceBlocks.count + state.prefixBlocks.count + state.deviceBlocks.count
            XCTAssertEqual(count, remaining, "unblock \(target.unblockArgument) did not lift \(target)")
            XCTAssertFalse(cluster.doctor.machine.activeBlocks(at: wall).contains { $0.target == target })
        }
    }
}
