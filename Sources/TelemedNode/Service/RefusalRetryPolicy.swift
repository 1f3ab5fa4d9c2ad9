// MARK: - RefusalRetryPolicy

/// How the patient runtime answers a refused login: the doctor sent REJECTED.
///
/// A refusal is not always final. After a doctor restart an honest patient whose clock lags the
/// doctor's new start time T0 is refused (R-START, or R-TIME for a larger lag) until its clock
/// passes T0; the fix is to wait and try again. So the runtime retries a refused login after a
/// growing delay, a bounded number of times per window, then gives up. Under revision 1.1 of
/// the protocol (§7.2) R-TIME and R-START refusals are not counted against the source, so
/// these retries cannot get the patient's own address blocked; a refusal that is counted (an
/// unknown id, a bad signature) meets the source limit (default 5 in 15 min) only after more
/// refusals than the default budget allows (4 in 15 min).
///
/// Pure data; ``RefusalBudget`` applies it.
public struct RefusalRetryPolicy: Sendable, Equatable {
    /// Refusals retried within one window; the refusal after them ends the run. 0: never retry.
    public var retries: Int
    /// The sliding window, in monotonic milliseconds, in which refusals are counted. A refusal
    /// older than the window no longer counts.
    public var windowMillis: UInt64
    /// The delay before the first retry in a window; it doubles for each further refusal.
    public var initialDelayMillis: UInt64
    /// The largest delay.
    public var maximumDelayMillis: UInt64
    /// Up to this percentage (0–100) of each delay is taken off at random, so that patients
    /// refused together (a doctor restart) do not all come back in the same millisecond. A delay
    /// never grows by jitter. (The defaults' delays take 3.5 min of the 15; a retry that would
    /// start outside the window is not made: the runtime gives up instead.)
    public var jitterPercent: UInt64

    /// A policy. Defaults: 3 retries within 15 minutes, 30 s doubling (30, 60, 120 s) up to
    /// 5 min, up to 20 % jitter.
    public init(retries: Int = 3, windowMillis: UInt64 = 900_000, initialDelayMillis: UInt64 = 30_000,
                maximumDelayMillis: UInt64 = 300_000, jitterPercent: UInt64 = 20) {
        self.retries = retries
        self.windowMillis = windowMillis
        self.initialDelayMillis = initialDelayMillis
        self.maximumDelayMillis = maximumDelayMillis
        self.jitterPercent = jitterPercent
    }

    /// Never retry a refusal: the first REJECTED ends the run.
    public static let never = RefusalRetryPolicy(retries: 0)
}
