@_spi(Testing) import TelemedCrypto
import TelemedNode
import XCTest

/// `RefusalBudget.refused(atMonotonic:using:)`, the decision `PatientService.run()` takes after
/// each REJECTED.
final class RefusalBudgetTests: XCTestCase {
    var noJitter = SeededRandom(seed: 1)

    func testDefaultsRetryThreeTimesWithDoublingDelaysThenGiveUpOnTheFourthRefusal() {
        var budget = RefusalBudget(policy: RefusalRetryPolicy(jitterPercent: 0))
        XCTAssertEqual(budget.refused(atMonotonic: 0, using: &noJitter), .retry(afterMillis: 30_000, attempt: 1, of: 3))
        XCTAssertEqual(budget.refused(atMonotonic: 31_000, using: &noJitter), .retry(afterMillis: 60_000, attempt: 2, of: 3))
        XCTAssertEqual(budget.refused(atMonotonic: 92_000, using: &noJitter), .retry(afterMillis: 120_000, attempt: 3, of: 3))
        XCTAssertEqual(budget.refused(atMonotonic: 213_000, using: &noJitter), .giveUp(refusals: 4, windowMillis: 900_000))
    }

    func testRefusalsAWindowOldAreForgotten() {
        var budget = RefusalBudget(policy: RefusalRetryPolicy(retries: 1, windowMillis: 1_000, initialDelayMillis: 10,
                                                              jitterPercent: 0))
        XCTAssertEqual(budget.refused(atMonotonic: 0, using: &noJitter), .retry(afterMillis: 10, attempt: 1, of: 1))
        XCTAssertEqual(budget.refused(atMonotonic: 1_000, using: &noJitter), .retry(afterMillis: 10, attempt: 1, of: 1))
        XCTAssertEqual(budget.refusals, [1_000])
        XCTAssertEqual(budget.refused(atMonotonic: 1_500, using: &noJitter), .giveUp(refusals: 2, windowMillis: 1_000))
    }

    func testARetryThatWouldStartOutsideTheWindowIsNotMade() {
        var budget = RefusalBudget(policy: RefusalRetryPolicy(retries: 3, windowMillis: 1_000, initialDelayMillis: 400,
                                                              maximumDelayMillis: 10_000, jitterPercent: 0))
        XCTAssertEqual(budget.refused(atMonotonic: 0, using: &noJitter), .retry(afterMillis: 400, attempt: 1, of: 3))
        // The second retry (800 ms) would start at 1,300: past the window of the refusal at 0.
        XCTAssertEqual(budget.refused(atMonotonic: 500, using: &noJitter), .giveUp(refusals: 2, windowMillis: 1_000))
    }

    func testDelaysDoubleUpToTheCap() {
        var budget = RefusalBudget(policy: RefusalRetryPolicy(retries: 10, windowMillis: 1_000_000,
                                                              initialDelayMillis: 100, maximumDelayMillis: 500,
                                                              jitterPercent: 0))
        let delays = (0..<5).compactMap { step -> UInt64? in
            if case let .retry(after, _, _) = budget.refused(atMonotonic: UInt64(step) * 1_000, using: &noJitter) {
                return after
            }
            return nil
        }
        XCTAssertEqual(delays, [100, 200, 400, 500, 500])
    }

    func testNoRetriesGivesUpOnTheFirstRefusal() {
        var budget = RefusalBudget(policy: .never)
        XCTAssertEqual(budget.refused(atMonotonic: 5, using: &noJitter), .giveUp(refusals: 1, windowMillis: 900_000))
    }

    func testATimeBeforeTheLastRefusalCountsAsTheLast() {
        var budget = RefusalBudget(policy: RefusalRetryPolicy(retries: 5, windowMillis: 10_000, initialDelayMillis: 1,
                                                              jitterPercent: 0))
        _ = budget.refused(atMonotonic: 1_000, using: &noJitter)
        _ = budget.refused(atMonotonic: 500, using: &noJitter)
        XCTAssertEqual(budget.refusals, [1_000, 1_000])
    }

    /// Jitter takes at most its percentage off a delay, never adds, varies, and replays
    /// exactly from the same seed.
    func testJitterShortensByAtMostItsPercentageAndReplaysFromTheSeed() {
        let policy = RefusalRetryPolicy(retries: 1_000, windowMillis: .max / 2, initialDelayMillis: 10_000,
                                        maximumDelayMillis: 10_000, jitterPercent: 20)
        func draws(seed: UInt64) -> [UInt64] {
            var rng = SeededRandom(seed: seed)
            var budget = RefusalBudget(policy: policy)
            return (0..<200).compactMap { step in
                if case let .retry(after, _, _) = budget.refused(atMonotonic: UInt64(step), using: &rng) { return after }
                return nil
            }
        }
        let first = draws(seed: 7)
        XCTAssertEqual(first.count, 200)
        XCTAssertTrue(first.allSatisfy { (8_000...10_000).contains($0) }, "\(first.filter { !(8_000...10_000).contains($0) })")
        XCTAssertGreaterThan(Set(first).count, 50, "the delays vary")
        XCTAssertLessThan(first.min() ?? 0, 8_500)
        XCTAssertEqual(draws(seed: 7), first)
        XCTAssertNotEqual(draws(seed: 8), first)
    }
}
