// Timing and summary statistics for the suite: a monotonic nanosecond clock, and the median
// and 99th percentile (nearest rank) of a set of samples.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic nanoseconds.
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// CPU nanoseconds of the calling thread (CLOCK_THREAD_CPUTIME_ID): time the thread ran,
/// not time it waited while other processes had the core.
@inline(__always)
public func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Keeps a value alive so the optimiser cannot drop the work that produced it.
@inline(never)
public func consume<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// Median and p99 of one row, in nanoseconds.
public struct Summary: Sendable, Codable {
    /// Samples taken.
    public let count: Int
    /// The median.
    public let median: Double
    /// The 99th percentile (nearest rank).
    public let p99: Double
    /// The smallest sample.
    public let min: Double

    /// Summarises `samples` (nanoseconds).
    public init(_ samples: [UInt64]) {
        precondition(!samples.isEmpty, "a summary needs at least one sample")
        let sorted = samples.sorted()
        count = sorted.count
        let mid = sorted.count / 2
        median = sorted.count % 2 == 1 ? Double(sorted[mid]) : (Double(sorted[mid - 1]) + Double(sorted[mid])) / 2
        let rank = Int((0.99 * Double(sorted.count)).rounded(.up))
        p99 = Double(sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))])
        min = Double(sorted[0])
    }
}

/// How long and how often to sample one row.
public struct SamplingPlan: Sendable {
    /// Untimed runs first.
    public var warmup: Int
    /// Samples at least this many…
    public var minimumSamples: Int
    /// …and keep sampling until this much time went by (or `maximumSamples`).
    public var targetNanoseconds: UInt64
    /// Never more than this many samples.
    public var maximumSamples: Int

    /// A plan.
    public init(warmup: Int, minimumSamples: Int, targetNanoseconds: UInt64, maximumSamples: Int) {
        self.warmup = warmup
        self.minimumSamples = minimumSamples
        self.targetNanoseconds = targetNanoseconds
        self.maximumSamples = maximumSamples
    }

    /// The default: at least 100 samples and about 0.6 s per row.
    public static let standard = SamplingPlan(warmup: 10, minimumSamples: 100, targetNanoseconds: 600_000_000,
                                              maximumSamples: 20_000)
    /// For a quick look (`--quick`).
    public static let quick = SamplingPlan(warmup: 3, minimumSamples: 20, targetNanoseconds: 100_000_000,
                                           maximumSamples: 2_000)

    /// Runs `body` per the plan and returns one sample per call.
    public func sample(_ body: () -> Void) -> [UInt64] {
        for _ in 0..<warmup { body() }
        var samples: [UInt64] = []
        samples.reserveCapacity(minimumSamples)
        let start = monotonicNanoseconds()
        while samples.count < maximumSamples {
            let t0 = monotonicNanoseconds()
            body()
            let t1 = monotonicNanoseconds()
            samples.append(t1 - t0)
            if samples.count >= minimumSamples && t1 - start >= targetNanoseconds { break }
        }
        return samples
    }
}
