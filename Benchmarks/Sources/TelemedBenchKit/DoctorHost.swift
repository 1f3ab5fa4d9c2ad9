// A host for DoctorMachine inside the benchmark process: what DoctorNode does for a real
// doctor (run the timers the machine asks for, hand its frames to the peers), on a virtual
// clock that is honest about time.
//
// The clock follows this process's real elapsed time (monotonic nanoseconds, read as
// milliseconds in every `Instant` the machine sees), so a 20 ms epoch window closes after 20 ms
// of actual work, exactly as a real host's timer would. Two corrections, both explicit:
// work that happens elsewhere in the modelled world (a patient's device computing its
// KEY_VERIFICATION, for instance) is done between `pause()` and `resume(_:)` and does not move
// the clock; and when the doctor has nothing to do but wait for a timer, `idle(until:)`
// jumps the clock to it instead of sleeping.
//
// Timers fire when due, before the next input (a host's timer event waits for the input being
// processed, as it does on an event loop): `input` first fires every timer due at the current
// time, in due order, then runs the input. Time spent inside the machine (inputs and timer
// fires) is summed in `busyNanoseconds` (elapsed) and `busyCPUNanoseconds` (this thread's CPU
// time, which leaves out the time other processes held the core on a shared machine).

@_spi(Testing) import TelemedCrypto
import TelemedProtocol

/// The bench's clock: real elapsed time, minus paused work, plus idle jumps.
public struct BenchClock: Sendable {
    /// `Instant.wall` at clock zero (a fixed date, so runs are comparable).
    public let wallBase: UInt64
    private let start: UInt64
    private var paused: UInt64 = 0
    private var jumped: UInt64 = 0

    /// A clock at zero now.
    public init(wallBase: UInt64 = 1_764_000_000_000) {
        self.wallBase = wallBase
        start = monotonicNanoseconds()
    }

    /// Nanoseconds on the clock.
    public var nanoseconds: UInt64 { monotonicNanoseconds() - start - paused + jumped }

    /// The time for the machines: monotonic ms since clock zero, wall = base + the same.
    public var now: Instant {
        let millis = nanoseconds / 1_000_000
        return Instant(wall: wallBase + millis, monotonic: millis)
    }

    /// Stops the clock (for work modelled as happening elsewhere); pass the result to `resume`.
    public func pause() -> UInt64 { monotonicNanoseconds() }

    /// Restarts the clock after `pause()`; returns the real nanoseconds spent paused.
    @discardableResult
    public mutating func resume(_ mark: UInt64) -> UInt64 {
        let spent = monotonicNanoseconds() - mark
        paused += spent
        return spent
    }

    /// Jumps to monotonic millisecond `millis` if the clock is before it (an idle wait).
    public mutating func idle(untilMillis millis: UInt64) {
        let target = millis * 1_000_000
        let current = nanoseconds
        if current < target { jumped += target - current }
    }
}

/// A min-queue of timers by due time; scheduling a timer again replaces it, cancelling drops it.
struct TimerQueue<Key: Hashable> {
    private var heap: [(due: UInt64, serial: UInt64, key: Key)] = []
    private var live: [Key: UInt64] = [:]   // key → serial of its current schedule
    private var serial: UInt64 = 0

    var count: Int { live.count }

    mutating func schedule(_ key: Key, due: UInt64) {
        serial += 1
        live[key] = serial
        heap.append((due, serial, key))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func cancel(_ key: Key) { live[key] = nil }

    /// The earliest live due time.
    mutating func nextDue() -> UInt64? {
        dropStale()
        return heap.first?.due
    }

    /// Removes and returns the earliest live timer if it is due at `now`.
    mutating func popDue(now: UInt64) -> Key? {
        dropStale()
        guard let top = heap.first, top.due <= now else { return nil }
        removeTop()
        live[top.key] = nil
        return top.key
    }

    private mutating func dropStale() {
        while let top = heap.first, live[top.key] != top.serial { removeTop() }
    }

    private mutating func removeTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && Self.less(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && Self.less(heap[right], heap[smallest]) { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }

    private static func less(_ a: (due: UInt64, serial: UInt64, key: Key), _ b: (due: UInt64, serial: UInt64, key: Key)) -> Bool {
        a.due != b.due ? a.due < b.due : a.serial < b.serial
    }
}

/// One epoch the doctor started.
public struct EpochRecord: Sendable, Codable {
    /// The epoch number.
    public var epoch: UInt64
    /// Its members.
    public var members: Int
    /// Nanoseconds of the input that started it (for an epoch started by the window timer,
    /// the timer fire alone).
    public var nanoseconds: UInt64
    /// True when the `epochWindow` timer started it.
    public var byWindow: Bool
}

/// DoctorMachine with its timers run and its frames collected, on a `BenchClock`.
struct BenchDoctorHost {
    /// The machine.
    private(set) var doctor: DoctorMachine
    /// The clock every input sees.
    var clock: BenchClock
    /// Nanoseconds spent inside the machine (inputs and timer fires).
    private(set) var busyNanoseconds: UInt64 = 0
    /// Thread CPU nanoseconds spent inside the machine (inputs and timer fires).
    private(set) var busyCPUNanoseconds: UInt64 = 0
    /// Nanoseconds spent inside `epochWindow` timer fires.
    private(set) var windowNanoseconds: UInt64 = 0
    /// Every epoch started, in order.
    private(set) var epochs: [EpochRecord] = []
    /// Nanoseconds of the last `input` (the input alone, not the timers fired before it).
    private(set) var lastInputNanoseconds: UInt64 = 0
    /// Rejections and closes the machine reported (rule and reason, or the closed connection).
    private(set) var refusals: [String] = []
    /// Frames the machine sent, in order, until `drainSent()`.
    private(set) var sent: [(connection: ConnectionID, body: [UInt8])] = []
    /// Connections the machine closed, until `drainSent()`.
    private(set) var closed: [ConnectionID] = []
    private var timers = TimerQueue<DoctorTimer>()
    /// Handshake jobs the machine emitted (`.verify`), run inline right after the input that
    /// emitted them, as a pool with an idle worker would.
    private var jobs: [HandshakeJob] = []
    private var rng: SeededRandom

    /// Starts `doctor` at clock zero.
    init(doctor: DoctorMachine, seed: String) {
        self.doctor = doctor
        clock = BenchClock()
        rng = SeededRandom(seed: Array(seed.utf8))
        let now = clock.now
        let start = self.doctor.start(now: now)
        apply(start, at: now.monotonic, nanoseconds: 0, byWindow: false)
    }

    /// Timers scheduled and not fired or cancelled.
    var scheduledTimers: Int { timers.count }

    /// Fires the due timers, then runs one input and returns its actions (frames also go to
    /// `sent`). The input is timed into `busyNanoseconds`.
    @discardableResult
    mutating func input(_ body: (inout DoctorMachine, Instant, inout SeededRandom) -> [DoctorAction]) -> [DoctorAction] {
        fireDueTimers()
        let now = clock.now
        let c0 = threadCPUNanoseconds()
        let t0 = monotonicNanoseconds()
        let actions = body(&doctor, now, &rng)
        let spent = monotonicNanoseconds() - t0
        busyCPUNanoseconds += threadCPUNanoseconds() - c0
        busyNanoseconds += spent
        apply(actions, at: now.monotonic, nanoseconds: spent, byWindow: false)
        let jobActions = runJobs(at: now)
        lastInputNanoseconds = spent + jobNanoseconds
        return actions + jobActions
    }

    /// Nanoseconds of the jobs run after the last input.
    private var jobNanoseconds: UInt64 = 0

    /// Runs the queued handshake jobs inline and applies their results (`jobFinished`), timed
    /// into the doctor's busy time (the job's crypto is the doctor's CPU, on whichever thread).
    private mutating func runJobs(at now: Instant) -> [DoctorAction] {
        jobNanoseconds = 0
        var all: [DoctorAction] = []
        while !jobs.isEmpty {
            let job = jobs.removeFirst()
            let c0 = threadCPUNanoseconds()
            let t0 = monotonicNanoseconds()
            let result = job.run(using: &rng)
            let actions = doctor.jobFinished(result, now: now, using: &rng)
            let spent = monotonicNanoseconds() - t0
            busyCPUNanoseconds += threadCPUNanoseconds() - c0
            busyNanoseconds += spent
            jobNanoseconds += spent
            apply(actions, at: now.monotonic, nanoseconds: spent, byWindow: false)
            all += actions
        }
        return all
    }

    /// Fires every timer due now, in due order (each fire moves the clock by its own work).
    mutating func fireDueTimers() {
        while let timer = timers.popDue(now: clock.now.monotonic) {
            let now = clock.now
            let c0 = threadCPUNanoseconds()
            let t0 = monotonicNanoseconds()
            let actions = doctor.timerFired(timer, now: now, using: &rng)
            let spent = monotonicNanoseconds() - t0
            busyCPUNanoseconds += threadCPUNanoseconds() - c0
            busyNanoseconds += spent
            if timer == .epochWindow { windowNanoseconds += spent }
            apply(actions, at: now.monotonic, nanoseconds: spent, byWindow: timer == .epochWindow)
            _ = runJobs(at: now)
        }
    }

    /// Waits, idle, for the next timer and fires it; false when none is scheduled.
    mutating func idleUntilNextTimer() -> Bool {
        guard let due = timers.nextDue() else { return false }
        clock.idle(untilMillis: due)
        fireDueTimers()
        return true
    }

    /// Waits, idle, for the pending epoch's window timer and fires it (and whatever is due
    /// before it); false when no epoch is pending.
    @discardableResult
    mutating func idleUntilPendingEpochStarts() -> Bool {
        guard doctor.hasPendingEpoch else { return false }
        while doctor.hasPendingEpoch, idleUntilNextTimer() {}
        return !doctor.hasPendingEpoch
    }

    /// Returns and forgets the frames sent and connections closed so far.
    mutating func drainSent() -> (sent: [(connection: ConnectionID, body: [UInt8])], closed: [ConnectionID]) {
        defer { sent = []; closed = [] }
        return (sent, closed)
    }

    private mutating func apply(_ actions: [DoctorAction], at millis: UInt64, nanoseconds: UInt64, byWindow: Bool) {
        for action in actions {
            switch action {
            case let .send(connection, body): sent.append((connection, body))
            case let .close(connection):
                closed.append(connection)
                refusals.append("connection \(connection) closed by the doctor")
            case let .scheduleTimer(timer, after): timers.schedule(timer, due: millis + after)
            case let .cancelTimer(timer): timers.cancel(timer)
            case .persist: break
            case let .verify(job): jobs.append(job)
            case let .event(event):
                switch event {
                case let .epochStarted(epoch, members):
                    epochs.append(EpochRecord(epoch: epoch, members: members.count, nanoseconds: nanoseconds,
                                              byWindow: byWindow))
                case let .rejected(connection, _, rule, reason, patient):
                    refusals.append("\(rule) on \(connection)\(patient.map { " (\($0))" } ?? ""): \(reason)")
                default: break
                }
            }
        }
    }
}
