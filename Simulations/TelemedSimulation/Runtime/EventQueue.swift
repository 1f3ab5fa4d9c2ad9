@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport

// MARK: - SimulationEvent

/// Something the loop does at a virtual time.
enum SimulationEvent: Equatable {
    /// Deliver one piece of traffic in flight.
    case deliver(DeliveryID)
    /// Fire a node's timer, if it is still the current schedule of that key.
    case timer(TimerOwner, NodeTimerKey, generation: UInt64)
    /// A doctor run's handshake job is done: run it and give the result to that run's node.
    case job(run: Int, HandshakeJob)
}

/// Whose timer it is: a doctor run (a restart starts a new run) or one patient connection.
enum TimerOwner: Hashable {
    case doctor(run: Int)
    case patient(TelemedTransport.ConnectionID)
}

// MARK: - EventQueue

/// A binary heap ordered by (time, insertion order): events at the same virtual time run in
/// the order they were scheduled, on every machine. Its size is bounded.
final class EventQueue {
    struct Entry {
        let time: UInt64
        let order: UInt64
        let event: SimulationEvent

        func precedes(_ other: Entry) -> Bool {
            (time, order) < (other.time, other.order)
        }
    }

    private var heap: [Entry] = []
    private var nextOrder: UInt64 = 0
    /// The most entries the queue may hold.
    let capacity: Int
    /// Deliveries waiting (the network is quiet when this is zero).
    private(set) var pendingDeliveries = 0
    /// Handshake jobs waiting (the doctor's pool is idle when this is zero).
    private(set) var pendingJobs = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { heap.count }

    var nextTime: UInt64? { heap.first?.time }

    /// Adds an event; false when the queue is full.
    func push(_ event: SimulationEvent, at time: UInt64) -> Bool {
        guard heap.count < capacity else { return false }
        heap.append(Entry(time: time, order: nextOrder, event: event))
        nextOrder += 1
        if case .deliver = event { pendingDeliveries += 1 }
        if case .job = event { pendingJobs += 1 }
        siftUp(heap.count - 1)
        return true
    }

    /// Removes and returns the earliest event.
    func pop() -> Entry? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let entry = heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
        if case .deliver = entry.event { pendingDeliveries -= 1 }
        if case .job = entry.event { pendingJobs -= 1 }
        return entry
    }

    private func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var best = parent
            if left < heap.count, heap[left].precedes(heap[best]) { best = left }
            if right < heap.count, heap[right].precedes(heap[best]) { best = right }
            if best == parent { return }
            heap.swapAt(parent, best)
            parent = best
        }
    }
}

// MARK: - SimulatedTimers

/// A node's ``TimerScheduler`` in the simulation: each schedule becomes an event on the
/// virtual clock, tagged with a generation so that a cancel or a re-schedule makes the old
/// event a no-op. It never calls back into the node itself.
final class SimulatedTimers: TimerScheduler {
    let owner: TimerOwner
    private let queue: EventQueue
    private let time: VirtualTime
    private var generations: [NodeTimerKey: UInt64] = [:]
    private var nextGeneration: UInt64 = 1
    /// Set when the queue refused an event (the loop reports it as a bound violation).
    private(set) var overflowed = false

    init(owner: TimerOwner, queue: EventQueue, time: VirtualTime) {
        self.owner = owner
        self.queue = queue
        self.time = time
    }

    func schedule(_ key: NodeTimerKey, afterMillis: UInt64) {
        let generation = nextGeneration
        nextGeneration += 1
        generations[key] = generation
        let due = time.now.addingReportingOverflow(afterMillis)
        if !queue.push(.timer(owner, key, generation: generation), at: due.overflow ? UInt64.max : due.partialValue) {
            overflowed = true
        }
    }

    func cancel(_ key: NodeTimerKey) {
        generations[key] = nil
    }

    /// Whether `key` is scheduled and not cancelled.
    func isScheduled(_ key: NodeTimerKey) -> Bool {
        generations[key] != nil
    }

    /// True when `generation` is still the live schedule of `key`; consumes it.
    func take(_ key: NodeTimerKey, generation: UInt64) -> Bool {
        guard generations[key] == generation else { return false }
        generations[key] = nil
        return true
    }
}

// MARK: - SimulatedJobs

/// The doctor's ``HandshakeJobRunner`` in the simulation: each job becomes an event on the
/// virtual clock, a seeded latency later (the doctor spec's `jobLatencyMillis`), so that the
/// races of a pool (a connection closed, a block landing or a duplicate verified while a job
/// runs) are replayable. The loop runs the job when its event comes up. It never calls back
/// into the node itself.
final class SimulatedJobs: HandshakeJobRunner {
    let run: Int
    private let queue: EventQueue
    private let time: VirtualTime
    private let latencyMin: UInt64
    private let latencyMax: UInt64
    private var random: SeededRandom
    /// Set when the queue refused an event (the loop reports it as a bound violation).
    private(set) var overflowed = false

    init(run: Int, queue: EventQueue, time: VirtualTime, doctor: DoctorSpec, random: SeededRandom) {
        self.run = run
        self.queue = queue
        self.time = time
        self.latencyMin = doctor.jobLatencyMin
        self.latencyMax = doctor.jobLatencyMax
        self.random = random
    }

    func submit(_ job: HandshakeJob) {
        let span = latencyMax - latencyMin
        let latency = latencyMin + (span == 0 ? 0 : random.next() % (span + 1))
        if !queue.push(.job(run: run, job), at: time.now + latency) { overflowed = true }
    }
}
