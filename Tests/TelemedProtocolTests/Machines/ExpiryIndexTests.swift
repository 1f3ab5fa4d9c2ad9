import TelemedTestSupport
import Testing
@testable import TelemedProtocol

/// `SecurityPolicy.purgeExpired` (run by `DoctorMachine.connectionOpened` and every first frame)
/// pops due entries from its expiry index instead of scanning the tables. Against random
/// failures, source, prefix and device blocks, operator unblocks and a wall clock that jumps
/// forward and steps back, every purge must emit exactly the changes, in the same order, and
/// leave exactly the state of a reference purge that scans every table. One case per seed; a
/// failure prints its replay line.
@Suite struct ExpiryIndexTests {
    @Test(arguments: try ReplaySeed.seeds(1...60))
    func testTheIndexedPurgeMatchesAFullScan(seed: UInt64) throws {
        if let problem = try run(seed: seed) {
            Issue.record("seed \(seed): \(problem)\n\(ReplaySeed.hint(seed))")
        }
    }

    private func run(seed: UInt64) throws -> String? {
        var rng = SplitMix64(seed: seed)
        var configuration = DoctorConfiguration()
        configuration.minimumVersion = .v1
        configuration.failureThreshold = 2
        configuration.failureWindowMillis = 60_000
        configuration.blockDurationMillis = 120_000
        configuration.sourceBlockCapacity = 6
        configuration.failureTableCapacity = 8
        configuration.deviceBlocksPerPatient = 2
        let sources = (0..<12).compactMap { SourceAddress(addressBytes: [10, 0, UInt8($0 % 3), UInt8($0)]) }
        let ids = try ["amy", "ben", "cat"].map { try PeerID($0) }
        var policy = SecurityPolicy(state: SecurityState(), configuration: configuration, enrolledPatients: ids.count)
        var now: UInt64 = 1_764_000_000_000
        for step in 0..<400 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0...3:
                _ = policy.countFailure(sources.randomElement(using: &rng)!, now: now)
            case 4:
                let device = DeviceKey(patient: ids.randomElement(using: &rng)!, source: sources.randomElement(using: &rng)!)
                _ = policy.blockDevice(device, now: now)
            case 5:
                _ = policy.unblock(.source(sources.randomElement(using: &rng)!))
            case 6:
                now += [1_000, 30_000, 61_000, 121_000].randomElement(using: &rng)!
            case 7:
                now -= [5_000, 90_000].randomElement(using: &rng)!
            default:
                var reference = policy.state
                let expected = Self.referencePurge(&reference, now: now, configuration: configuration)
                let changes = policy.purgeExpired(now: now)
                if changes != expected { return "step \(step): purge emitted \(changes), a full scan \(expected)" }
                if policy.state != reference { return "step \(step): the state differs from a full scan's" }
            }
        }
        return nil
    }

    /// The purge as a scan of every table (the behaviour before the index).
    static func referencePurge(_ state: inout SecurityState, now: UInt64, configuration: DoctorConfiguration) -> [SecurityChange] {
        func outside(_ time: UInt64) -> Bool { now > time && now - time > configuration.failureWindowMillis }
        var changes: [SecurityChange] = []
        for source in state.sourceBlocks.compactMap({ $0.value <= now ? $0.key : nil }).sorted() {
            state.sourceBlocks[source] = nil
            changes.append(.unblocked(.source(source), reason: .expired))
        }
        for prefix in state.prefixBlocks.compactMap({ $0.value <= now ? $0.key : nil }).sorted() {
            state.prefixBlocks[prefix] = nil
            changes.append(.unblocked(.prefix(prefix), reason: .expired))
        }
        for device in state.deviceBlocks.compactMap({ $0.value <= now ? $0.key : nil }).sorted() {
            state.deviceBlocks[device] = nil
            changes.append(.unblocked(.device(device), reason: .expired))
        }
        for source in state.failures.compactMap({ $0.value.contains(where: outside) ? $0.key : nil }).sorted() {
            let live = (state.failures[source] ?? []).filter { !outside($0) }
            state.failures[source] = live.isEmpty ? nil : live
            if live.isEmpty { changes.append(.failuresCleared(source)) }
        }
        for id in Array(state.deviceBlockHistory.keys) {
            let live = (state.deviceBlockHistory[id] ?? []).filter { now < $0.at &+ 24 * 3_600_000 }
            state.deviceBlockHistory[id] = live.isEmpty ? nil : live
        }
        return changes
    }
}
