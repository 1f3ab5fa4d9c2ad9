@testable import TelemedProtocol
import TelemedTestSupport

/// Random sequences of honest and hostile events from one seed. Sources are skewed so that
/// one of them usually collects enough failures to be blocked.
struct ModelEventGenerator {
    var rng: SplitMix64
    /// Whether sequences include the operator's `revoke` and `enroll` (off: the sequences the
    /// seeds produced before those events existed, which the mutant searches rely on).
    let registry: Bool
    /// Whether sequences mix protocol versions (PROTOCOL.md §8): honest patients of version 1
    /// or 2, version-2 attacks (bad shares, downgrade) and run-time changes of the doctor's
    /// minimum version. Off: only version 1, and the draws of every older seed are unchanged.
    let versions: Bool

    init(seed: UInt64, registry: Bool = false, versions: Bool = false) {
        rng = SplitMix64(seed: seed ^ 0x5eed_0f_7e1e_3ed)
        self.registry = registry
        self.versions = versions
    }

    mutating func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    mutating func patient() -> Int { int(ModelWorld.patients.count) }
    mutating func source() -> Int { int(3) == 0 ? int(ModelWorld.sources.count) : [0, 3][int(2)] }
    mutating func hostileSource() -> Int { int(2) == 0 ? 3 : int(ModelWorld.sources.count) }

    mutating func events(count: Int) -> [ModelEvent] { (0..<count).map { _ in event() } }

    mutating func event() -> ModelEvent {
        guard versions else { return v1Event() }
        // One extra draw first: a share of version-2 attacks and minimum changes, then any
        // event, honest patients getting a version of their own.
        let roll = int(100)
        let seed = rng.next()
        switch roll {
        case 0..<3: return .setMinimum(int(2) == 0 ? .v1 : .v2)
        case 3..<9:
            let shares: [ShareAttack] = [.one, .minusOne, .outsideSubgroup, .reflected]
            return .hostile(.badShare(patient: patient(), shares[int(shares.count)]), source: hostileSource(), seed: seed)
        case 9..<11: return .hostile(.downgrade(patient: patient()), source: hostileSource(), seed: seed)
        default:
            let version: ProtocolVersion = int(2) == 0 ? .v1 : .v2
            switch v1Event() {
            case let .join(p, s, seed, _): return .join(patient: p, source: s, seed: seed, version: version)
            case let .beginJoin(p, s, seed, _): return .beginJoin(patient: p, source: s, seed: seed, version: version)
            case let .slotProceed(slot, p, seed, _): return .slotProceed(slot: slot, patient: p, seed: seed, version: version)
            case let other: return other
            }
        }
    }

    /// The events of version 1 (the only ones without `versions`).
    mutating func v1Event() -> ModelEvent {
        let seed = rng.next()
        let roll = int(100)
        switch roll {
        case 0..<14: return .join(patient: patient(), source: source(), seed: seed)
        case 14..<21: return .beginJoin(patient: patient(), source: source(), seed: seed)
        case 21..<24: return .openOnly(source: source())
        case 24..<28: return .slotProceed(slot: int(4), patient: patient(), seed: seed)
        case 28..<33: return .slotWrongSKV(slot: int(4), patient: patient(), seed: seed)
        case 33..<35:
            guard int(3) > 0 else { return .slotFrame(slot: int(4), report: int(2) == 0 ? .begun : .refusedPrefix) }
            let ends: [ConnectionEnd] = [.closedByPeer, .cutFrame, .transportFailure, .writeTimeout]
            return .slotDrop(slot: int(4), how: ends[int(ends.count)])
        case 35..<39: return .leave(patient: patient())
        case 39..<41:
            guard int(3) > 0 else { return .memberFrame(patient: patient(), report: int(2) == 0 ? .begun : .refusedPrefix) }
            return .memberDrop(patient: patient())
        case 41..<43: return .memberGarbage(patient: patient(), kind: [.malformed, .wrongOpcode, .staleReceipt][int(3)])
        case 43..<46: return .kick(patient: patient())
        case 46..<48: return .rekey(seed: seed)
        case 48..<50: return .broadcast(seed: seed)
        case 50..<64:
            let steps: [UInt64] = [10, 300, 1_000, 1_500, 2_500, 6_500, 61_000, 121_000]
            return .advance(millis: steps[int(steps.count)])
        case 64..<65:
            let steps: [Int64] = [-3_600_000, -5_000, 3_600_000]
            return .stepWall(millis: steps[int(steps.count)])
        case 65..<66: return .restart
        case 66..<92:
            // With `registry`, part of the hostile share becomes operator revokes and
            // enrollments; without it the draws (and so every older seed's sequence) are as before.
            if registry && roll < 69 { return .revoke(patient: patient()) }
            if registry && roll < 73 { return .enroll(patient: patient()) }
            return .hostile(attack(), source: hostileSource(), seed: seed)
        default: return .replay(capture: int(8), source: hostileSource())
        }
    }

    mutating func attack() -> Attack {
        switch int(13) {
        case 0, 1: return .unknownID
        case 2, 3: return .forgedSignature(patient: patient())
        case 4: return .staleTimestamp(patient: patient(), extra: UInt64(int(3_000)))
        case 5: return .futureTimestamp(patient: patient(), extra: UInt64(int(3_000)))
        case 6: return .oldInWindow(patient: patient())
        case 7: return .badElement(patient: patient())
        case 8: return .wrongGroup(patient: patient())
        case 9: return .wrongGateway(patient: patient())
        case 10: return .malformedJSON
        case 11: return int(2) == 0 ? .wrongOpcode(patient: patient()) : .oversize
        default: return .cutFrame
        }
    }
}
