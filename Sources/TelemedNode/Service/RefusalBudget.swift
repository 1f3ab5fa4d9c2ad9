import TelemedCrypto

// MARK: - RefusalBudget

/// Counts a patient's refused logins in a sliding window and decides, for each one, whether to
/// retry and after how long. Pure: the caller passes the monotonic time and the randomness for
/// jitter, so tests can replay a decision exactly.
public struct RefusalBudget: Sendable, Equatable {
    /// The policy applied.
    public let policy: RefusalRetryPolicy
    /// The monotonic times (ms) of the refusals still inside the window, oldest first.
    public private(set) var refusals: [UInt64] = []

    /// An empty budget under `policy`.
    public init(policy: RefusalRetryPolicy) {
        self.policy = policy
    }

    /// What to do after one refusal.
    public enum Decision: Sendable, Equatable {
        /// Retry after this many milliseconds; this is retry `attempt` of `of`.
        case retry(afterMillis: UInt64, attempt: Int, of: Int)
        /// `refusals` refusals fell within `windowMillis`: stop retrying.
        case giveUp(refusals: Int, windowMillis: UInt64)
    }

    /// Records a refusal at monotonic time `now` (ms) and decides. Refusals at least one window
    /// older than `now` are forgotten first; a time earlier than the last recorded one (not
    /// monotonic) is taken as equal to it.
    ///
    /// It gives up when the refusals in the window exceed ``RefusalRetryPolicy/retries``, or
    /// when the retry would start a window or more after the oldest refusal still counted (a
    /// delay longer than the window would otherwise let refusals age out one by one and the
    /// retries never end). So a run of refusals makes at most `retries` retries, all inside one
    /// window.
    public mutating func refused(atMonotonic now: UInt64, using rng: inout some CryptographicRandomNumberGenerator) -> Decision {
        let now = max(now, refusals.last ?? 0)
        refusals.removeAll { now - $0 >= policy.windowMillis }
        refusals.append(now)
        let count = refusals.count
        guard count <= policy.retries else {
            return .giveUp(refusals: count, windowMillis: policy.windowMillis)
        }
        let delay = delay(forRetry: count, using: &rng)
        let (start, overflow) = now.addingReportingOverflow(delay)
        guard !overflow, start - refusals[0] < policy.windowMillis else {
            return .giveUp(refusals: count, windowMillis: policy.windowMillis)
        }
        return .retry(afterMillis: delay, attempt: count, of: policy.retries)
    }

    /// The delay before retry `attempt` (1-based): the initial delay doubled `attempt − 1`
    /// times, capped, minus up to the jitter percentage of it.
    func delay(forRetry attempt: Int, using rng: inout some RandomNumberGenerator) -> UInt64 {
        var base = min(policy.initialDelayMillis, policy.maximumDelayMillis)
        for _ in 1..<max(1, attempt) {
            let (doubled, overflow) = base.multipliedReportingOverflow(by: 2)
            base = overflow ? policy.maximumDelayMillis : min(doubled, policy.maximumDelayMillis)
        }
        let percent = min(policy.jitterPercent, 100)
        guard percent > 0, base > 0 else { return base }
        let spread = base / 100 * percent + base % 100 * percent / 100
        return base - UInt64.random(in: 0...spread, using: &rng)
    }
}
