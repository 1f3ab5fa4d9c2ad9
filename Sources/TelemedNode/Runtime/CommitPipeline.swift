// Group commit
// ============
// `DoctorNode` hands each input's writes (security changes and audit rows, one `StoreBatch`)
// to a `CommitPipeline` and gets a ticket back: tickets increase by one per non-empty batch,
// and a ticket is resolved (committed, or failed) only after every smaller ticket is.
//
//   inline       `submit` commits the batch in its own transaction before it returns (the
//                simulator, in-process tests and tools: deterministic, nothing in flight).
//   background   `submit` queues the batch and returns at once. One dedicated writer thread
//                (not a thread of Swift's cooperative pool) takes every batch queued so far,
//                commits them in one transaction — durable if any of them holds a security
//                change — and records the resolution; batches queued while that commit is in
//                flight go together into the next one. After each commit the thread calls
//                `progress` (at most once until the node took the resolutions), and the host
//                calls `DoctorNode.storeProgressed()` on the node's own context.
//
// The node, not the pipeline, decides which frames wait for which ticket (DoctorNode+Commit).

import Foundation
import TelemedProtocol

// MARK: - StoreCommitMode

/// How a ``DoctorNode`` commits the writes of its inputs to its ``DoctorStore``.
public enum StoreCommitMode: Sendable {
    /// Each input's batch is committed in its own transaction before the input returns; frames
    /// that depend on it go out right after. Deterministic (the simulator, tests, tools).
    case inline
    /// Group commit on a dedicated writer thread: inputs arriving while a commit is in flight
    /// share the next one. `progress` is called on the writer thread after commits complete;
    /// the host must then call ``DoctorNode/storeProgressed()`` on the node's own context,
    /// which sends the frames that were waiting for those commits.
    case background(progress: @Sendable () -> Void)
}

// MARK: - StoreCommitStatistics

/// What the commit pipeline did so far (monitoring, and the flood figure's fsyncs per
/// rejected frame: with ``SecurityStore`` each durable commit is one fsync of the WAL).
public struct StoreCommitStatistics: Sendable, Equatable, Codable {
    /// Inputs that wrote something (one batch each).
    public var batches = 0
    /// Batches that held a security change.
    public var durableBatches = 0
    /// Transactions committed or attempted (groups of batches).
    public var commits = 0
    /// Commits with ``StoreDurability/durable`` (SQLite: `synchronous = FULL`, one WAL fsync).
    public var durableCommits = 0
    /// Commits of audit rows alone (``StoreDurability/relaxed``, no fsync).
    public var relaxedCommits = 0
    /// Commits that threw (their batches are not durable).
    public var failedCommits = 0
    /// The most batches one commit held.
    public var largestGroup = 0

    /// No commits yet.
    public init() {}
}

// MARK: - CommitPipeline

/// Tickets, group commit and resolutions for one node. Thread-safe.
final class CommitPipeline: @unchecked Sendable {
    /// The outcome of one commit: every ticket up to `through` is resolved.
    struct Resolution {
        let through: UInt64
        /// The first ticket of the group.
        let from: UInt64
        let failure: StoreError?
        /// True when the group held a security change.
        let durable: Bool
    }

    private let core: Core

    init(store: any DoctorStore, mode: StoreCommitMode, metrics: DoctorMetrics? = nil) {
        switch mode {
        case .inline:
            core = Core(store: store, progress: nil, metrics: metrics)
        case let .background(progress):
            core = Core(store: store, progress: progress, metrics: metrics)
            let core = self.core
            let thread = Thread { core.run() }
            thread.name = "telemed-store-writer"
            thread.start()
        }
    }

    deinit {
        core.stop()
    }

    /// True when submitted batches are committed on the writer thread.
    var isBackground: Bool { core.progress != nil }

    /// Queues (or, inline, commits) a batch; nil when it writes nothing.
    func submit(_ batch: StoreBatch) -> UInt64? {
        core.submit(batch)
    }

    /// The resolutions recorded since the last call, in ticket order.
    func takeResolutions() -> [Resolution] {
        core.take()
    }

    /// Blocks the caller until every ticket issued so far is resolved.
    func waitUntilIdle() {
        core.waitUntilIdle()
    }

    /// Tickets issued and not yet resolved.
    var inFlight: Int { core.inFlight }

    /// What was committed so far.
    var statistics: StoreCommitStatistics { core.statistics }

    /// Commits what is queued, then ends the writer thread; later batches commit inline.
    func stop() {
        core.stop()
        core.waitUntilIdle()
    }

    // MARK: - Core

    /// The state the writer thread shares with the node (the thread holds the core, not the
    /// pipeline, so dropping the node ends the thread).
    private final class Core: @unchecked Sendable {
        let store: any DoctorStore
        let progress: (@Sendable () -> Void)?
        private let condition = NSCondition()
        private var queue: [(ticket: UInt64, batch: StoreBatch)] = []
        private var issued: UInt64 = 0
        private var resolved: UInt64 = 0
        private var resolutions: [Resolution] = []
        private var progressPending = false
        private var stopping = false
        private var threadRunning = false
        private var stats = StoreCommitStatistics()

        let metrics: DoctorMetrics?

        init(store: any DoctorStore, progress: (@Sendable () -> Void)?, metrics: DoctorMetrics?) {
            self.store = store
            self.progress = progress
            self.metrics = metrics
            threadRunning = progress != nil
        }

        func submit(_ batch: StoreBatch) -> UInt64? {
            guard !batch.isEmpty else { return nil }
            condition.lock()
            issued += 1
            let ticket = issued
            stats.batches += 1
            if batch.durability == .durable { stats.durableBatches += 1 }
            if threadRunning {
                queue.append((ticket, batch))
                condition.signal()
                condition.unlock()
            } else {
                condition.unlock()
                commit([(ticket, batch)])
            }
            return ticket
        }

        func take() -> [Resolution] {
            condition.lock()
            defer { condition.unlock() }
            let taken = resolutions
            resolutions = []
            progressPending = false
            return taken
        }

        func waitUntilIdle() {
            condition.lock()
            while resolved < issued { condition.wait() }
            condition.unlock()
        }

        var inFlight: Int {
            condition.lock()
            defer { condition.unlock() }
            return Int(issued - resolved)
        }

        var statistics: StoreCommitStatistics {
            condition.lock()
            defer { condition.unlock() }
            return stats
        }

        func stop() {
            condition.lock()
            stopping = true
            condition.broadcast()
            condition.unlock()
        }

        /// The writer thread: one commit per group of queued batches.
        func run() {
            while true {
                condition.lock()
                while queue.isEmpty && !stopping { condition.wait() }
                if queue.isEmpty {
                    threadRunning = false
                    condition.broadcast()
                    condition.unlock()
                    return
                }
                let group = queue
                queue = []
                condition.unlock()
                commit(group)
            }
        }

        /// Commits one group (called by the writer thread, or by `submit` inline) and records
        /// its resolution.
        private func commit(_ group: [(ticket: UInt64, batch: StoreBatch)]) {
            guard let first = group.first, let last = group.last else { return }
            let durability = group.contains { $0.batch.durability == .durable } ? StoreDurability.durable : .relaxed
            var failure: StoreError?
            let started = ContinuousClock.now
            do {
                try store.commit(group.map(\.batch), durability: durability)
            } catch {
                failure = error
            }
            let elapsed = (ContinuousClock.now - started).components
            metrics?.recordCommit(nanoseconds: elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000,
                                  durable: durability == .durable, failed: failure != nil)
            condition.lock()
            stats.commits += 1
            if durability == .durable { stats.durableCommits += 1 } else { stats.relaxedCommits += 1 }
            if failure != nil { stats.failedCommits += 1 }
            stats.largestGroup = max(stats.largestGroup, group.count)
            resolved = last.ticket
            resolutions.append(Resolution(through: last.ticket, from: first.ticket, failure: failure,
                                          durable: durability == .durable))
            let notify = progress != nil && !progressPending
            if notify { progressPending = true }
            condition.broadcast()
            condition.unlock()
            if notify { progress?() }
        }
    }
}
