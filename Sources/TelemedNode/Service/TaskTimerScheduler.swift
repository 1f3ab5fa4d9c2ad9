// MARK: - TaskTimerScheduler

/// Runs timers as tasks that sleep on the monotonic (continuous) clock, then hand the key
/// back to the owning service, which fires it only if it is still the current schedule of that
/// key (a replaced or cancelled timer's late wake-up is ignored).
///
/// Used from inside one actor only (the services); the callback re-enters that actor.
final class TaskTimerScheduler: TimerScheduler {
    private var tokens: [NodeTimerKey: UInt64] = [:]
    private var tasks: [NodeTimerKey: Task<Void, Never>] = [:]
    private var nextToken: UInt64 = 0
    private let wake: @Sendable (NodeTimerKey, UInt64) async -> Void

    /// `wake` is called (from a task) when a timer's time has come.
    init(wake: @escaping @Sendable (NodeTimerKey, UInt64) async -> Void) {
        self.wake = wake
    }

    func schedule(_ key: NodeTimerKey, afterMillis: UInt64) {
        cancel(key)
        nextToken += 1
        let token = nextToken
        tokens[key] = token
        let wake = self.wake
        let millis = Int64(clamping: afterMillis)
        tasks[key] = Task {
            try? await Task.sleep(for: .milliseconds(millis))
            guard !Task.isCancelled else { return }
            await wake(key, token)
        }
    }

    func cancel(_ key: NodeTimerKey) {
        tokens[key] = nil
        tasks.removeValue(forKey: key)?.cancel()
    }

    /// True (and the timer forgotten) when `token` is still the schedule of `key`.
    func claim(_ key: NodeTimerKey, token: UInt64) -> Bool {
        guard tokens[key] == token else { return false }
        tokens[key] = nil
        tasks[key] = nil
        return true
    }

    /// Timers scheduled and not yet fired, claimed or cancelled.
    var scheduledCount: Int { tasks.count }

    /// Cancels everything.
    func cancelAll() {
        for task in tasks.values { task.cancel() }
        tasks = [:]
        tokens = [:]
    }
}
