#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TelemedProtocol

// MARK: - NodeClock

/// Where a node reads the time. The machines never read a clock; the node reads one of these
/// once per input and passes the reading in as an `Instant`.
///
/// The simulator injects a virtual clock; live nodes use ``SystemClock``.
public protocol NodeClock: Sendable {
    /// The wall clock (UTC Unix ms) and the monotonic clock (ms), read together.
    func now() -> Instant
}

// MARK: - SystemClock

/// The operating system's clocks: `CLOCK_REALTIME` for protocol timestamps and block expiry,
/// `CLOCK_MONOTONIC` for timers and the replay-cache lifetime.
public struct SystemClock: NodeClock {
    /// The system clocks.
    public init() {}

    /// Reads both clocks.
    public func now() -> Instant {
        Instant(wall: Self.read(CLOCK_REALTIME), monotonic: Self.read(CLOCK_MONOTONIC))
    }

    private static func read(_ clock: clockid_t) -> UInt64 {
        var spec = timespec()
        clock_gettime(clock, &spec)
        let seconds = UInt64(max(0, spec.tv_sec))
        let millis = UInt64(max(0, spec.tv_nsec)) / 1_000_000
        return seconds &* 1_000 &+ millis
    }
}
