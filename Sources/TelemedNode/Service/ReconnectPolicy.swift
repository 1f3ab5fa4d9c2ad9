// MARK: - ReconnectPolicy

/// When the patient runtime connects again: after a dropped connection or the doctor's
/// DISCONNECT `restarting` (exponential backoff with full jitter, ``ReconnectBackoff``,
/// unbounded) and after a refused login (``RefusalRetryPolicy``, bounded).
public struct ReconnectPolicy: Sendable, Equatable {
    /// Whether to reconnect at all (a dropped connection or a refusal then ends the run).
    public var enabled: Bool
    /// The ceiling of the first delay after a dropped connection; it doubles after each failed
    /// attempt (each delay is drawn uniformly below its ceiling).
    public var initialDelayMillis: UInt64
    /// The largest ceiling of a delay after a dropped connection.
    public var maximumDelayMillis: UInt64
    /// Retries of a refused login (REJECTED), when ``enabled``.
    public var refusals: RefusalRetryPolicy

    /// A policy (defaults: on, ceilings 500 ms doubling up to 30 s; refusals as ``RefusalRetryPolicy``'s
    /// defaults, 3 retries within 15 min).
    public init(enabled: Bool = true, initialDelayMillis: UInt64 = 500, maximumDelayMillis: UInt64 = 30_000,
                refusals: RefusalRetryPolicy = RefusalRetryPolicy()) {
        self.enabled = enabled
        self.initialDelayMillis = initialDelayMillis
        self.maximumDelayMillis = maximumDelayMillis
        self.refusals = refusals
    }

    /// Never reconnect, and never retry a refusal.
    public static let never = ReconnectPolicy(enabled: false, refusals: .never)
}
