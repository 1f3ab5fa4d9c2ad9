// Handshake jobs on every core
// ============================
// The doctor machine hands the expensive, stateless crypto of each KEY_VERIFICATION to its
// host as a `HandshakeJob` (DoctorAction.verify) and takes the result back as an input. A
// `DoctorNode` built with a `HandshakeJobRunner` passes every job to it; the runner computes
// the job somewhere else and its owner feeds the result back into the node
// (`DoctorNode.jobFinished`), serially with the node's other inputs. Without a runner the
// machine runs each job inline, inside the input that needs it: the same job code, one thread.
//
// `HandshakeJobPool` is the production runner: a fixed set of worker threads (by default one
// per active processor) taking jobs from one FIFO queue. Each worker draws the answer phase's
// randomness from the system CSPRNG. The queue needs no bound of its own: every job belongs to
// a pending handshake of the machine, which holds its pending slot until the result is applied,
// so at most `DoctorConfiguration.pendingTotal` jobs are ever queued or running.

import Foundation
import TelemedCrypto
import TelemedProtocol

/// Where a ``DoctorNode`` sends the handshake jobs of its machine.
public protocol HandshakeJobRunner: AnyObject {
    /// Runs `job` later, on any thread, and makes sure its result reaches the node's
    /// ``DoctorNode/jobFinished(_:)`` exactly once, serially with the node's other inputs.
    /// Called synchronously from inside the node; it must not call back into the node.
    func submit(_ job: HandshakeJob)
}

/// A fixed pool of worker threads running handshake jobs (see the theory of operation above).
public final class HandshakeJobPool: HandshakeJobRunner, @unchecked Sendable {
    /// The worker counts a host may ask for: 0 (verify on the node's own task, no pool) to 256.
    public static let allowedWorkers = 0...256

    /// One worker per active processor core.
    public static var defaultWorkers: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// The number of worker threads.
    public let workers: Int
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [HandshakeJob] = []
    private var head = 0
    private var stopped = false
    private var running = 0
    private let deliver: @Sendable (HandshakeJobResult) -> Void

    /// Starts `workers` threads; each finished job's result goes to `deliver` (called on the
    /// worker's thread: it should hand the result to the node's serial context).
    public init(workers: Int = HandshakeJobPool.defaultWorkers,
                deliver: @escaping @Sendable (HandshakeJobResult) -> Void) {
        precondition(workers >= 1, "a pool needs at least one worker")
        self.workers = workers
        self.deliver = deliver
        for index in 0..<workers {
            let thread = Thread { [self] in self.work() }
            thread.name = "telemed-handshake-\(index)"
            thread.start()
        }
    }

    /// Queues `job` for the next free worker.
    public func submit(_ job: HandshakeJob) {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped else { return }
        queue.append(job)
        condition.signal()
    }

    /// Jobs queued or running now.
    public var backlog: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count - head + running
    }

    /// Stops the workers once the jobs already running finish; queued jobs are dropped and no
    /// result is delivered after a worker notices the stop. For a doctor that is shutting down.
    public func stop() {
        condition.lock()
        stopped = true
        queue = []
        head = 0
        condition.broadcast()
        condition.unlock()
    }

    private func next() -> HandshakeJob? {
        condition.lock()
        defer { condition.unlock() }
        while head == queue.count && !stopped { condition.wait() }
        guard !stopped else { return nil }
        let job = queue[head]
        head += 1
        if head > 1_024 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        running += 1
        return job
    }

    private func finished() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        running -= 1
        return !stopped
    }

    private func work() {
        var rng = SystemRandom()
        while let job = next() {
            let result = job.run(using: &rng)
            if finished() { deliver(result) }
        }
    }
}
