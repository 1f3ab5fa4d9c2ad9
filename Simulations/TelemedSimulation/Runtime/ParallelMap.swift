import Dispatch

// MARK: - ParallelMap

/// Runs the harness's own pure computations (decrypting what it recovers from the wire,
/// re-verifying a member's signature) on several cores. The nodes and the event loop stay on
/// one thread: only functions of their inputs run here, and their results are used in input
/// order, so a run's trace is the same for any number of workers.
struct ParallelMap: Sendable {
    /// How many threads share the work (1: the calling thread alone).
    let workers: Int

    init(workers: Int) {
        self.workers = max(1, workers)
    }

    /// `transform` of every item, in input order.
    func map<Item: Sendable, Result: Sendable>(_ items: [Item], _ transform: @Sendable (Item) -> Result) -> [Result] {
        let threads = min(workers, items.count)
        guard threads > 1 else { return items.map(transform) }
        let results = ResultSlots<Result>(count: items.count)
        // Interleaved slices: item costs are alike (one or two exponentiations each).
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            var index = thread
            while index < items.count {
                results.store(transform(items[index]), at: index)
                index += threads
            }
        }
        return results.take()
    }
}

/// One slot per result, each written by exactly one thread before `concurrentPerform`
/// returns and read only after it: disjoint writes, then a happens-before edge.
private final class ResultSlots<Value>: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<Value?>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil, count: count)
    }

    func store(_ value: Value, at index: Int) {
        slots[index] = value
    }

    func take() -> [Value] {
        (0..<count).map { index in
            guard let value = slots[index] else { preconditionFailure("a parallel result slot was never written") }
            return value
        }
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }
}
