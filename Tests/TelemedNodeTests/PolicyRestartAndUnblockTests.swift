import Foundation
import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport
import XCTest

/// Issue 11 items 4 and 5 through the node: `DoctorNode.start()` reports the saturation alert
/// of a source-block table that is still full after a restart (PROTOCOL.md §7.5), and
/// `DoctorNode.unblock` audits the block it actually lifted.
final class PolicyRestartAndUnblockTests: XCTestCase {
    private let codec = MessageCodec(groupName: TestKeys.group.name, elementLength: TestKeys.group.elementLength)
    private let wall: UInt64 = 1_764_000_000_000   // TestClock's start

    private func source(_ text: String) throws -> SourceAddress { try XCTUnwrap(SourceAddress(ipText: text)) }

    func testARestartWithAFullSourceBlockTableRefusesAtOnceAndAlertsThroughAuditAndObserver() throws {
        let store = try SecurityStore.inMemory()
        try store.apply([.blocked(.source(try source("203.0.113.1")), until: wall + 3_600_000),
                         .blocked(.prefix(try source("198.51.100.1").prefix), until: wall + 3_600_000)], at: wall - 1_000)
        var configuration = DoctorConfiguration()
        configuration.sourceBlockCapacity = 2
        let cluster = try InMemoryCluster(enrolling: ["alice"], store: store, configuration: configuration)
        XCTAssertTrue(cluster.doctor.machine.refusesUnauthenticated)
        XCTAssertEqual(cluster.events, [.alert(.sourceBlockTableSaturated)], "the observer sees the alert at start")
        let alerts = try cluster.audit.rows(kind: .alert)
        XCTAssertEqual(alerts.map(\.rule), ["R-LIMIT"])
        XCTAssertEqual(alerts.first?.detail, "source-block table saturated: refusing unauthenticated requests")
        let starts = try cluster.audit.rows(kind: .start)
        XCTAssertEqual(starts.count, 1)
        XCTAssertLessThan(starts[0].id, alerts[0].id, "the start row comes first")
        // A honest login from an unblocked address is refused before reading.
        try cluster.connect("alice", host: "192.0.2.9")
        XCTAssertEqual(cluster.doctor.machine.activePatients, [])
        let refusals = try cluster.audit.rows(kind: .authFailure)
        XCTAssertEqual(refusals.map(\.rule), ["R-LIMIT"])
        XCTAssertEqual(refusals.first?.source, "192.0.2.9")
    }

    func testARestartWithRoomInTheTableDoesNotAlert() throws {
        let store = try SecurityStore.inMemory()
        try store.apply([.blocked(.source(try source("203.0.113.1")), until: wall + 3_600_000),
                         .blocked(.source(try source("203.0.113.2")), until: wall - 1)], at: wall - 100_000)
        var configuration = DoctorConfiguration()
        configuration.sourceBlockCapacity = 2
        let cluster = try InMemoryCluster(enrolling: ["alice"], store: store, configuration: configuration)
        XCTAssertFalse(cluster.doctor.machine.refusesUnauthenticated)
        XCTAssertEqual(cluster.events, [])
        XCTAssertEqual(try cluster.audit.rows(kind: .alert).count, 0)
        XCTAssertEqual(try store.load().sourceBlocks.count, 1, "the expired block was dropped durably")
        try cluster.connect("alice", host: "192.0.2.9")
        XCTAssertEqual(cluster.doctor.machine.activePatients.map(\.value), ["alice"])
    }

    func testUnblockingAnAddressInsideAPrefixBlockAuditsThePrefix() throws {
        let store = try SecurityStore.inMemory()
        let prefix = try source("198.51.100.2").prefix
        try store.apply([.blocked(.prefix(prefix), until: wall + 3_600_000)], at: wall - 1_000)
        let cluster = try InMemoryCluster(enrolling: ["alice"], store: store)
        try cluster.doctor.unblock("198.51.100.2")
        XCTAssertEqual(cluster.events.last, .unblocked(.prefix(prefix)))
        let rows = try cluster.audit.rows(kind: .unblock)
        XCTAssertEqual(rows.map(\.source), ["prefix 198.51.100.0/24"])
        XCTAssertEqual(try store.manualUnblocks().map(\.target), ["prefix 198.51.100.0/24"])
        XCTAssertTrue(try store.load().prefixBlocks.isEmpty)
        // Nothing is left to lift for that address, under either name.
        XCTAssertThrowsError(try cluster.doctor.unblock("198.51.100.2"))
        XCTAssertThrowsError(try cluster.doctor.unblock("198.51.100.0/24"))
    }
}
