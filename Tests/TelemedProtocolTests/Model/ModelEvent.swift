@testable import TelemedProtocol

/// The cast and the configuration every model run uses.
enum ModelWorld {
    /// Enrolled patients (indices in events refer to this list).
    static let patients = ["amy", "ben", "cat", "dan"]
    /// Not enrolled: requests claiming it are R-ID.
    static let unknown = "zed"
    /// Signs forgeries.
    static let forger = "mallory"
    /// Five sources; the first two share a /24, the last is IPv6.
    static let sources = ["10.0.0.1", "10.0.0.2", "10.0.1.1", "192.0.2.7", "2001:db8::1"]

    static let sourceAddresses: [SourceAddress] = sources.map { text in
        guard let address = SourceAddress(text) else { preconditionFailure("test source \(text) must parse") }
        return address
    }
    static let patientIDs: [PeerID] = patients.map(peer)
    static let unknownID = peer(unknown)

    static func peer(_ name: String) -> PeerID {
        do { return try PeerID(name) } catch { preconditionFailure("test id \(name) must be valid") }
    }

    /// Small tables and short times so that every limit and expiry is reachable in a few events.
    static var configuration: DoctorConfiguration {
        var c = DoctorConfiguration()
        c.timeWindowMillis = 2_000
        c.handshakeTimeoutMillis = 6_000
        c.failureThreshold = 3
        c.failureWindowMillis = 60_000
        c.blockDurationMillis = 120_000
        c.pendingPerSource = 2
        c.pendingPerPrefix = 3
        c.pendingTotal = 5
        c.sourceBlockCapacity = 3
        c.failureTableCapacity = 4
        c.deviceBlocksPerPatient = 1
        c.replayCacheCapacity = 6
        c.maxActivePatients = 3
        return c
    }
}

/// A hostile first frame on a fresh connection.
enum Attack: Equatable, CustomStringConvertible {
    case unknownID
    case forgedSignature(patient: Int)
    case staleTimestamp(patient: Int, extra: UInt64)
    /// Future-dated and validly signed; captured, so it can be replayed once it is in the window.
    case futureTimestamp(patient: Int, extra: UInt64)
    /// Half a window old and validly signed (R-START right after the start); captured.
    case oldInWindow(patient: Int)
    case badElement(patient: Int)
    case wrongGroup(patient: Int)
    case wrongGateway(patient: Int)
    case malformedJSON
    /// A KEY_CONFIRMATION as the first frame (reflection).
    case wrongOpcode(patient: Int)
    /// A length prefix of 2^31: the body is never read.
    case oversize
    /// The connection dies inside the first frame.
    case cutFrame

    var description: String {
        func p(_ i: Int) -> String { ModelWorld.patients[i] }
        switch self {
        case .unknownID: return "unknown id \(ModelWorld.unknown)"
        case let .forgedSignature(i): return "forged signature claiming \(p(i))"
        case let .staleTimestamp(i, extra): return "stale ts (ΔTS+\(extra + 1) ms old) claiming \(p(i))"
        case let .futureTimestamp(i, extra): return "future ts (ΔTS+\(extra + 1) ms ahead) signed by \(p(i))"
        case let .oldInWindow(i): return "ts ΔTS/2 old signed by \(p(i))"
        case let .badElement(i): return "c1 = 1 signed by \(p(i))"
        case let .wrongGroup(i): return "other group claiming \(p(i))"
        case let .wrongGateway(i): return "other id_gwn signed by \(p(i))"
        case .malformedJSON: return "malformed JSON"
        case let .wrongOpcode(i): return "KEY_CONFIRMATION first claiming \(p(i))"
        case .oversize: return "oversize length prefix"
        case .cutFrame: return "frame cut mid-way"
        }
    }
}

/// What an active member sends that the doctor must reject.
enum MemberGarbage: Equatable, CustomStringConvertible {
    /// Not parseable: R-FRAME.
    case malformed
    /// A KEY_CONFIRMATION while active: R-STATE.
    case wrongOpcode
    /// Its last DEC_MSG again (or a forged one when it sent none): R-AEAD.
    case staleReceipt

    var description: String {
        switch self {
        case .malformed: return "a malformed frame"
        case .wrongOpcode: return "a KEY_CONFIRMATION while active"
        case .staleReceipt: return "its last DEC_MSG again (or a forged one)"
        }
    }
}

/// One step of a model run. Every field the step needs is in the event itself (indices are
/// resolved against the state at the time), so removing events while shrinking still replays.
enum ModelEvent: Equatable, CustomStringConvertible {
    /// An honest patient's full handshake through the real PatientMachine.
    case join(patient: Int, source: Int, seed: UInt64)
    /// An honest handshake whose KEY_CONFIRMATION is held back (a slow patient).
    case beginJoin(patient: Int, source: Int, seed: UInt64)
    /// A connection that is accepted and then sends nothing yet.
    case openOnly(source: Int)
    /// The next honest move on a pending connection: a KEY_VERIFICATION on an opened one, the
    /// held KEY_CONFIRMATION on a verified one.
    case slotProceed(slot: Int, patient: Int, seed: UInt64)
    /// A KEY_CONFIRMATION with a wrong SKV on a pending connection (first frame on an opened one).
    case slotWrongSKV(slot: Int, patient: Int, seed: UInt64)
    /// A pending connection ends at the transport.
    case slotDrop(slot: Int, how: ConnectionEnd)
    /// A member sends DISCONNECT.
    case leave(patient: Int)
    /// A member's TCP connection closes.
    case memberDrop(patient: Int)
    /// A member sends something the doctor rejects.
    case memberGarbage(patient: Int, kind: MemberGarbage)
    case kick(patient: Int)
    case rekey(seed: UInt64)
    case broadcast(seed: UInt64)
    /// Both clocks move forward; due handshake timers fire.
    case advance(millis: UInt64)
    /// Only the wall clock steps (forward or back).
    case stepWall(millis: Int64)
    /// A hostile first frame from a source.
    case hostile(Attack, source: Int, seed: UInt64)
    /// A captured KEY_VERIFICATION sent again from a source.
    case replay(capture: Int, source: Int)
    /// The doctor process restarts with its persisted security state.
    case restart

    var description: String {
        func p(_ i: Int) -> String { ModelWorld.patients[i] }
        func s(_ i: Int) -> String { ModelWorld.sources[i] }
        switch self {
        case let .join(i, src, _): return "join \(p(i)) from \(s(src))"
        case let .beginJoin(i, src, _): return "begin join \(p(i)) from \(s(src)) (confirmation held)"
        case let .openOnly(src): return "open connection from \(s(src))"
        case let .slotProceed(slot, i, _): return "pending slot \(slot): proceed honestly (as \(p(i)) if it needs a request)"
        case let .slotWrongSKV(slot, i, _): return "pending slot \(slot): KEY_CONFIRMATION with wrong SKV (as \(p(i)) if opened)"
        case let .slotDrop(slot, how): return "pending slot \(slot): transport \(how)"
        case let .leave(i): return "\(p(i)) sends DISCONNECT"
        case let .memberDrop(i): return "\(p(i))'s connection closes"
        case let .memberGarbage(i, kind): return "\(p(i)) sends \(kind)"
        case let .kick(i): return "operator kicks \(p(i))"
        case .rekey: return "operator rekeys"
        case .broadcast: return "operator broadcasts"
        case let .advance(ms): return "advance \(ms) ms"
        case let .stepWall(ms): return "wall clock steps \(ms >= 0 ? "+" : "")\(ms) ms"
        case let .hostile(attack, src, _): return "hostile from \(s(src)): \(attack)"
        case let .replay(capture, src): return "replay captured request #\(capture) from \(s(src))"
        case .restart: return "doctor restarts (security state restored)"
        }
    }
}

// MARK: - Generator

/// Random sequences of honest and hostile events from one seed. Sources are skewed so that
/// one of them usually collects enough failures to be blocked.
struct ModelEventGenerator {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed ^ 0x5eed_0f_7e1e_3ed) }

    mutating func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    mutating func patient() -> Int { int(ModelWorld.patients.count) }
    mutating func source() -> Int { int(3) == 0 ? int(ModelWorld.sources.count) : [0, 3][int(2)] }
    mutating func hostileSource() -> Int { int(2) == 0 ? 3 : int(ModelWorld.sources.count) }

    mutating func events(count: Int) -> [ModelEvent] { (0..<count).map { _ in event() } }

    mutating func event() -> ModelEvent {
        let seed = rng.next()
        let roll = int(100)
        switch roll {
        case 0..<14: return .join(patient: patient(), source: source(), seed: seed)
        case 14..<21: return .beginJoin(patient: patient(), source: source(), seed: seed)
        case 21..<24: return .openOnly(source: source())
        case 24..<28: return .slotProceed(slot: int(4), patient: patient(), seed: seed)
        case 28..<33: return .slotWrongSKV(slot: int(4), patient: patient(), seed: seed)
        case 33..<35:
            let ends: [ConnectionEnd] = [.closedByPeer, .cutFrame, .transportFailure, .oversizeFrame]
            return .slotDrop(slot: int(4), how: ends[int(ends.count)])
        case 35..<39: return .leave(patient: patient())
        case 39..<41: return .memberDrop(patient: patient())
        case 41..<43: return .memberGarbage(patient: patient(), kind: [.malformed, .wrongOpcode, .staleReceipt][int(3)])
        case 43..<46: return .kick(patient: patient())
        case 46..<48: return .rekey(seed: seed)
        case 48..<50: return .broadcast(seed: seed)
        case 50..<64:
            let steps: [UInt64] = [300, 1_000, 1_500, 2_500, 6_500, 61_000, 121_000]
            return .advance(millis: steps[int(steps.count)])
        case 64..<65:
            let steps: [Int64] = [-3_600_000, -5_000, 3_600_000]
            return .stepWall(millis: steps[int(steps.count)])
        case 65..<66: return .restart
        case 66..<92: return .hostile(attack(), source: hostileSource(), seed: seed)
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
