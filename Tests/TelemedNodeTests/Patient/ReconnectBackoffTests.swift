import Logging
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import XCTest

/// `ReconnectBackoff` (the pure delays of `PatientService.run()` after a drop or a doctor's
/// `restarting`) and `PatientService.run()` itself against a live doctor over TCP that
/// disconnects everyone with `restarting` (the patient comes back) or `shutdown` (it stops).
final class ReconnectBackoffTests: XCTestCase {
    /// `ReconnectBackoff.nextDelay(using:)`: ceilings 500, 1000, 2000, … capped at 30 000; every
    /// delay lies in 0...ceiling; `reset()` starts over at 500.
    func testCeilingsDoubleToTheCapAndEveryDelayLiesBelowItsCeiling() {
        var backoff = ReconnectBackoff(policy: ReconnectPolicy())
        var rng = SeededRandom(seed: 15)
        var ceilings: [UInt64] = []
        for _ in 0..<10 {
            let ceiling = backoff.ceilingMillis
            ceilings.append(ceiling)
            let delay = backoff.nextDelay(using: &rng)
            XCTAssertLessThanOrEqual(delay, ceiling)
        }
        XCTAssertEqual(ceilings, [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000])
        backoff.reset()
        XCTAssertEqual(backoff.ceilingMillis, 500)
        // A huge maximum does not overflow; an initial above the maximum is capped.
        var huge = ReconnectBackoff(initialDelayMillis: .max / 2, maximumDelayMillis: .max)
        for _ in 0..<4 { _ = huge.nextDelay(using: &rng) }
        XCTAssertEqual(huge.ceilingMillis, .max)
        XCTAssertEqual(ReconnectBackoff(initialDelayMillis: 9_000, maximumDelayMillis: 1_000).ceilingMillis, 1_000)
    }

    /// `ReconnectBackoff.nextDelay(using:)` is full jitter: 1 000 patients that lost the doctor at
    /// once, each with its own generator, spread their first retry over the whole first
    /// interval (every tenth of 0...500 ms gets some; none is the same for all), and the same
    /// seed replays the same delays.
    func testFullJitterSpreadsPatientsAndASeedReplays() {
        var buckets = [Int](repeating: 0, count: 10)
        for patient in 0..<1_000 {
            var backoff = ReconnectBackoff(policy: ReconnectPolicy())
            var rng = SeededRandom(seed: UInt64(patient))
            let delay = backoff.nextDelay(using: &rng)
            buckets[Int(min(delay * 10 / 501, 9))] += 1
        }
        XCTAssertTrue(buckets.allSatisfy { $0 > 50 }, "\(buckets)")
        func delays(seed: UInt64) -> [UInt64] {
            var backoff = ReconnectBackoff(policy: ReconnectPolicy())
            var rng = SeededRandom(seed: seed)
            return (0..<8).map { _ in backoff.nextDelay(using: &rng) }
        }
        XCTAssertEqual(delays(seed: 7), delays(seed: 7))
        XCTAssertNotEqual(delays(seed: 7), delays(seed: 8))
    }

    /// `PatientService.run()` with the doctor's `DoctorService.disconnectAll(kind: .restarting)`
    /// (the console's `disconnect`): the patient is told `restarting`, reconnects, authenticates
    /// again and receives the next broadcast. Then `DoctorService.shutdown(reason:kind: .shutdown)`:
    /// it stops with `.disconnectedByDoctor("shutdown")`.
    func testAPatientComesBackAfterRestartingAndStopsAfterShutdown() async throws {
        let cluster = try await TCPCluster(enrolling: ["alice"])
        cluster.startPatient("alice", reconnect: ReconnectPolicy(initialDelayMillis: 50, maximumDelayMillis: 200))
        let joined = await eventually { cluster.sessionEvents("alice").contains { if case .authenticated = $0 { return true }; return false } }
        XCTAssertTrue(joined, "\(cluster.serviceEvents("alice"))")

        await cluster.doctor.disconnectAll(kind: .restarting)
        let back = await eventually {
            cluster.sessionEvents("alice").filter { if case .authenticated = $0 { return true }; return false }.count == 2
        }
        XCTAssertTrue(back, "\(cluster.serviceEvents("alice"))")
        XCTAssertTrue(cluster.sessionEvents("alice").contains(.ended(.disconnectedByDoctor("restarting"))))
        XCTAssertTrue(cluster.serviceEvents("alice").contains {
            if case let .retrying(after, reason) = $0 { return reason == "the doctor is restarting" && after <= 50 }
            return false
        }, "\(cluster.serviceEvents("alice"))")
        try await cluster.doctor.broadcast("after the restart")
        let received = await eventually { cluster.broadcasts("alice") == ["after the restart"] }
        XCTAssertTrue(received, "\(cluster.broadcasts("alice"))")

        await cluster.shutdown()  // DoctorService.shutdown(reason:kind: .shutdown)
        let outcome = await cluster.runs["alice"]?.value
        XCTAssertEqual(outcome, .disconnectedByDoctor("shutdown"))
    }

    /// `PatientService.run()` with reconnecting off (`--no-reconnect`): `restarting` ends the run
    /// with that reason instead of reconnecting.
    func testRestartingWithoutReconnectEndsTheRun() async throws {
        let cluster = try await TCPCluster(enrolling: ["alice"])
        cluster.startPatient("alice", reconnect: .never)
        let joined = await eventually { cluster.sessionEvents("alice").contains { if case .authenticated = $0 { return true }; return false } }
        XCTAssertTrue(joined)
        await cluster.doctor.disconnectAll(kind: .restarting)
        let outcome = await cluster.runs["alice"]?.value
        XCTAssertEqual(outcome, .disconnectedByDoctor("restarting"))
        await cluster.shutdown()
    }
}
