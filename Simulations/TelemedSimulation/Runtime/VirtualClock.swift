import TelemedNode
import TelemedProtocol

// MARK: - VirtualTime

/// The simulation's one notion of true time: milliseconds since the scenario began. Only the
/// event loop moves it, and only forwards.
final class VirtualTime {
    /// Milliseconds since virtual time zero.
    private(set) var now: UInt64 = 0

    /// Moves to `time` (never backwards).
    func move(to time: UInt64) {
        now = max(now, time)
    }
}

// MARK: - ActorClock

/// One actor's clocks over the shared virtual time. The wall clock carries the actor's skew
/// (scriptable at any step); the monotonic clock never steps.
///
/// `@unchecked Sendable`: `NodeClock` is `Sendable` for the async services, but a simulation is
/// single-threaded by construction (one event loop, no tasks), so the mutable offset is never
/// shared across threads.
final class ActorClock: NodeClock, @unchecked Sendable {
    private let time: VirtualTime
    private let startWall: UInt64
    /// The wall clock's offset from true time, ms.
    var offset: Int64

    init(time: VirtualTime, startWall: UInt64, offset: Int64) {
        self.time = time
        self.startWall = startWall
        self.offset = offset
    }

    /// The wall clock now (true time plus the offset, never below zero).
    var wall: UInt64 {
        let value = Int64(clamping: startWall) &+ Int64(clamping: time.now) &+ offset
        return UInt64(max(0, value))
    }

    func now() -> Instant {
        Instant(wall: wall, monotonic: time.now)
    }
}
