import TelemedCrypto

// MARK: - ReconnectBackoff

/// The delays between a patient's connection attempts after a dropped connection or a doctor's
/// `restarting`: exponential backoff with full jitter. Attempt n (0-based, counting failures
/// since the last session that became active) waits a uniformly random time in
/// `0 ... min(maximum, initial × 2ⁿ)`, so patients that lost the doctor at the same moment (a
/// restart) spread their logins over the whole interval instead of all coming back in lockstep.
///
/// Pure: the caller passes the randomness (the patient runtime the system generator, tests a
/// seeded one), so a test can replay a sequence of delays exactly.
public struct ReconnectBackoff: Sendable, Equatable {
    /// The ceiling of the first delay (ms).
    public let initialDelayMillis: UInt64
    /// The largest ceiling (ms).
    public let maximumDelayMillis: UInt64
    /// Doublings of the ceiling since the last reset: one per delay drawn, until the ceiling
    /// reaches the maximum.
    public private(set) var doublings: Int = 0

    /// A backoff with these bounds (the initial ceiling is capped by the maximum).
    public init(initialDelayMillis: UInt64, maximumDelayMillis: UInt64) {
        self.initialDelayMillis = min(initialDelayMillis, maximumDelayMillis)
        self.maximumDelayMillis = maximumDelayMillis
    }

    /// A backoff with the bounds of `policy`.
    public init(policy: ReconnectPolicy) {
        self.init(initialDelayMillis: policy.initialDelayMillis, maximumDelayMillis: policy.maximumDelayMillis)
    }

    /// The ceiling of the next delay: the initial ceiling doubled once per failure, capped.
    public var ceilingMillis: UInt64 {
        var ceiling = initialDelayMillis
        for _ in 0..<doublings {
            let (doubled, overflow) = ceiling.multipliedReportingOverflow(by: 2)
            guard !overflow, doubled < maximumDelayMillis else { return maximumDelayMillis }
            ceiling = doubled
        }
        return ceiling
    }

    /// The delay before the next attempt, uniform in `0 ... ceilingMillis`; then the ceiling
    /// doubles (up to the maximum).
    public mutating func nextDelay(using rng: inout some CryptographicRandomNumberGenerator) -> UInt64 {
        let delay = UInt64.random(in: 0...ceilingMillis, using: &rng)
        if ceilingMillis < maximumDelayMillis { doublings += 1 }
        return delay
    }

    /// A session became active: the next delay starts from the initial ceiling again.
    public mutating func reset() {
        doublings = 0
    }
}
