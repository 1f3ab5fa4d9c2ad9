@testable import TelemedProtocol

/// Delta debugging over event sequences: the shortest sequence (1-minimal: no single event
/// can be dropped) that still makes the machine and the model disagree. Every candidate is
/// replayed from a fresh machine and a fresh model.
struct ModelShrinker {
    let mutant: ModelMutant
    /// The machine mutant, if any: the rule the DoctorMachine breaks on purpose.
    let fault: DoctorMachine.Fault?
    /// The doctor's configured minimum version for every replay.
    let minimumVersion: ProtocolVersion
    /// Candidate sequences replayed (for reporting).
    private(set) var replays = 0

    init(mutant: ModelMutant = .faithful, fault: DoctorMachine.Fault? = nil, minimumVersion: ProtocolVersion = .v1) {
        self.mutant = mutant
        self.fault = fault
        self.minimumVersion = minimumVersion
    }

    mutating func divergence(_ events: [ModelEvent]) throws -> ModelDivergence? {
        replays += 1
        return try ModelRunner.firstDivergence(events, mutant: mutant, fault: fault, minimumVersion: minimumVersion)
    }

    /// Shrinks a failing sequence. Returns nil when `events` does not fail at all.
    mutating func shrink(_ events: [ModelEvent]) throws -> (events: [ModelEvent], divergence: ModelDivergence)? {
        guard var best = try divergence(events) else { return nil }
        // Nothing after the first divergence matters.
        var current = Array(events.prefix(best.step + 1))
        var granularity = 2
        while current.count > 1 {
            let chunk = (current.count + granularity - 1) / granularity
            var reduced = false
            var start = 0
            while start < current.count {
                var candidate = current
                candidate.removeSubrange(start..<min(start + chunk, current.count))
                if let found = try divergence(candidate) {
                    current = Array(candidate.prefix(found.step + 1))
                    best = found
                    reduced = true
                    break
                }
                start += chunk
            }
            if reduced {
                granularity = max(granularity - 1, 2)
            } else if chunk == 1 {
                break
            } else {
                granularity = min(granularity * 2, current.count)
            }
        }
        return (current, best)
    }
}
