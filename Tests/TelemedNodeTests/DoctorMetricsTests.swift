import Metrics
import MetricsTestKit
import TelemedNode
import TelemedProtocol
import TelemedTransport
import XCTest

/// ``DoctorMetrics`` as ``DoctorNode`` feeds it from its machine's events, over the in-memory
/// network with a virtual clock (so every figure is exact).
final class DoctorMetricsTests: XCTestCase {
    /// ``DoctorNode/handle(_:)``, ``DoctorNode/broadcast(_:)``, ``DoctorNode/kick(_:)``,
    /// ``DoctorNode/timerFired(_:)`` and ``DoctorNode/sampleMetrics(timers:)``: logins,
    /// epochs, a broadcast's fan-out and receipts, a kick, a handshake timed out (R-STATE), a
    /// connection closed mid-handshake, commit latency and the sampled gauges.
    func testEveryEventMovesItsMetric() throws {
        let metrics = TestMetrics()
        let cluster = try InMemoryCluster(enrolling: ["alice", "bob", "carol"], metrics: DoctorMetrics(factory: metrics))
        let name = DoctorMetrics.Name.self
        for patient in ["alice", "bob", "carol"] { try cluster.connect(patient) }
        XCTAssertEqual(try metrics.expectCounter(name.handshakes, [("outcome", "authenticated"), ("rule", "none")]).totalValue, 3)
        XCTAssertEqual(try metrics.expectTimer(name.loginSeconds).values.count, 3)
        XCTAssertEqual(try metrics.expectCounter(name.epochs).totalValue, 3)

        try cluster.doctor.broadcast("hello")
        cluster.run()
        XCTAssertEqual(try metrics.expectCounter(name.broadcasts).totalValue, 1)
        XCTAssertEqual(try metrics.expectCounter(name.broadcastRecipients).totalValue, 3)
        XCTAssertEqual(try metrics.expectCounter(name.receipts, [("known", "true")]).totalValue, 3)

        try cluster.doctor.kick(TestKeys.id("bob"))
        cluster.run()
        XCTAssertEqual(try metrics.expectCounter(name.departures, [("reason", "kicked")]).totalValue, 1)
        XCTAssertEqual(try metrics.expectCounter(name.epochs).totalValue, 4)
        XCTAssertEqual(try metrics.expectGauge(name.members).lastValue, 2)
        XCTAssertEqual(try metrics.expectGauge(name.epoch).lastValue, 4)

        // A connection that stalls in its handshake until the timer rejects it (R-STATE).
        let staller = cluster.network.addEndpoint(named: "staller", host: "10.0.9.9")
        _ = staller.connect(to: cluster.listenAddress)
        cluster.run()
        cluster.doctor.sampleMetrics(timers: cluster.doctorTimers.due.count)
        XCTAssertEqual(try metrics.expectGauge(name.pendingHandshakes).lastValue, 1)
        XCTAssertEqual(try metrics.expectGauge(name.tableEntries, [("table", "connections")]).lastValue, 3)
        cluster.clock.advance(millis: 10_000)
        for key in cluster.doctorTimers.takeDue(atOrBefore: cluster.clock.now().monotonic + 1_000) {
            cluster.doctor.timerFired(key)
        }
        cluster.run()
        XCTAssertEqual(try metrics.expectCounter(name.handshakes, [("outcome", "rejected"), ("rule", "R-STATE")]).totalValue, 1)
        XCTAssertEqual(metrics.counterTotal(label: name.sessionRejections), 0)

        // A connection that closes before saying anything.
        let quitter = cluster.network.addEndpoint(named: "quitter", host: "10.0.9.10")
        let connection = quitter.connect(to: cluster.listenAddress)
        cluster.run()
        quitter.close(connection)
        cluster.run()
        XCTAssertEqual(try metrics.expectCounter(name.handshakes, [("outcome", "abandoned"), ("rule", "none")]).totalValue, 1)

        XCTAssertGreaterThan(try metrics.expectTimer(name.storeCommitSeconds, [("durability", "durable")]).values.count, 0)
        cluster.doctor.sampleMetrics(timers: 0)
        XCTAssertEqual(try metrics.expectGauge(name.pendingHandshakes).lastValue, 0)
        XCTAssertEqual(try metrics.expectGauge(name.tableEntries, [("table", "connections")]).lastValue, 2)
    }
}
