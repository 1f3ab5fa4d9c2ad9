import TelemedProtocol

// MARK: - NodeTimerKey

/// A timer a node asked its host to run: one of the doctor's or the patient's.
public enum NodeTimerKey: Hashable, Sendable, CustomStringConvertible {
    /// A doctor timer (a connection's handshake deadline, a member's frame deadline, or the end
    /// of the epoch window).
    case doctor(DoctorTimer)
    /// The patient's handshake deadline.
    case patient(PatientTimer)

    /// `doctor handshake conn#3`, `patient handshake`.
    public var description: String {
        switch self {
        case let .doctor(.handshake(connection)): return "doctor handshake \(connection)"
        case let .doctor(.frameCompletion(connection)): return "doctor frame completion \(connection)"
        case .doctor(.epochWindow): return "doctor epoch window"
        case .patient(.handshake): return "patient handshake"
        }
    }
}

// MARK: - TimerScheduler

/// Runs a node's timers on the monotonic clock and calls the node's `timerFired(_:)` back when
/// one is due (the async services use `Task.sleep`; the simulator uses its virtual clock).
///
/// Both methods are called synchronously from inside the node; an implementation must not call
/// back into the node from within them.
public protocol TimerScheduler: AnyObject {
    /// Fires `key` after `afterMillis` monotonic milliseconds, replacing any earlier schedule of
    /// the same key.
    func schedule(_ key: NodeTimerKey, afterMillis: UInt64)
    /// Forgets `key` (nothing happens if it is not scheduled).
    func cancel(_ key: NodeTimerKey)
}

// MARK: - ManualTimerScheduler

/// A scheduler that only records what is due; the driver fires timers itself (the tests'
/// in-memory cluster; `package`, so not part of the library's public surface). It reads no
/// clock: due times are in the caller's monotonic milliseconds.
package final class ManualTimerScheduler: TimerScheduler {
    /// Scheduled timers and their due time, relative to ``now``.
    package private(set) var due: [NodeTimerKey: UInt64] = [:]
    /// The monotonic time the driver last told the scheduler about.
    package var now: UInt64

    /// A scheduler whose clock starts at `now`.
    package init(now: UInt64 = 0) {
        self.now = now
    }

    /// Records `key` as due at `now + afterMillis`.
    package func schedule(_ key: NodeTimerKey, afterMillis: UInt64) {
        due[key] = now &+ afterMillis
    }

    /// Forgets `key`.
    package func cancel(_ key: NodeTimerKey) {
        due[key] = nil
    }

    /// Removes and returns the timers due at or before `time`, earliest first (ties by
    /// description, so the order is deterministic).
    package func takeDue(atOrBefore time: UInt64) -> [NodeTimerKey] {
        let ready = due.filter { $0.value <= time }
            .sorted { ($0.value, $0.key.description) < ($1.value, $1.key.description) }
            .map(\.key)
        for key in ready { due[key] = nil }
        return ready
    }
}
