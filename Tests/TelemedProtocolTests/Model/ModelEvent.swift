@testable import TelemedProtocol

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
    /// A KEY_VERIFICATION_V2 validly signed by the patient whose dh_i is not a usable share
    /// (attacks 23–25 of PROTOCOL.md §8.8); captured, so it can be replayed.
    case badShare(patient: Int, ShareAttack)
    /// A validly signed KEY_VERIFICATION_V2 rewritten as opcode 10: dh_i dropped, the v2
    /// signature kept (attack 21a). R-VERSION below minimum 2, else a bad signature (R-SIG).
    case downgrade(patient: Int)

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
        case let .badShare(i, share): return "v2 request signed by \(p(i)) with \(share)"
        case let .downgrade(i): return "v2 request of \(p(i)) rewritten as opcode 10 (signature kept)"
        }
    }
}

/// What dh_i a hostile, validly signed KEY_VERIFICATION_V2 carries (PROTOCOL.md §8.8).
enum ShareAttack: Equatable, CustomStringConvertible {
    /// A = 1 (attack 24): out of range.
    case one
    /// A = p − 1 (order 2, attack 23): out of range.
    case minusOne
    /// An integer in (1, p − 1) with A^q ≢ 1 (attack 23): outside the subgroup.
    case outsideSubgroup
    /// A B the doctor sent in an earlier SESSION_TOKEN_V2 (attack 25b, an insider), or the
    /// request's own A before any: a valid element, so the doctor answers; the sender can
    /// compute no SK, so it never confirms.
    case reflected

    /// Whether the doctor's R-ELEM test of dh_i passes.
    var isValidShare: Bool { self == .reflected }

    var description: String {
        switch self {
        case .one: return "dh_i = 1"
        case .minusOne: return "dh_i = p − 1"
        case .outsideSubgroup: return "dh_i outside the subgroup"
        case .reflected: return "dh_i = a B the doctor sent"
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
/// What a transport reports about a frame that has not (yet) arrived whole (PROTOCOL.md §7.6).
enum FrameReport: Equatable, CustomStringConvertible {
    /// The first bytes of a frame arrived; the rest never comes (until some later frame).
    case begun
    /// A length prefix of 0 or over 65,536.
    case refusedPrefix

    var description: String { self == .begun ? "a frame begins and stalls" : "a refused length prefix" }
}

enum ModelEvent: Equatable, CustomStringConvertible {
    /// An honest patient's full handshake through the real PatientMachine, configured for
    /// `version` (PROTOCOL.md §8.6: a device speaks exactly one version).
    case join(patient: Int, source: Int, seed: UInt64, version: ProtocolVersion = .v1)
    /// An honest handshake whose KEY_CONFIRMATION is held back (a slow patient).
    case beginJoin(patient: Int, source: Int, seed: UInt64, version: ProtocolVersion = .v1)
    /// A connection that is accepted and then sends nothing yet.
    case openOnly(source: Int)
    /// The next honest move on a pending connection: a KEY_VERIFICATION on an opened one, the
    /// held KEY_CONFIRMATION on a verified one.
    case slotProceed(slot: Int, patient: Int, seed: UInt64, version: ProtocolVersion = .v1)
    /// A KEY_CONFIRMATION with a wrong SKV on a pending connection (first frame on an opened one).
    case slotWrongSKV(slot: Int, patient: Int, seed: UInt64)
    /// A pending connection ends at the transport.
    case slotDrop(slot: Int, how: ConnectionEnd)
    /// The transport reports a begun or refused frame on a pending connection.
    case slotFrame(slot: Int, report: FrameReport)
    /// A member sends DISCONNECT.
    case leave(patient: Int)
    /// A member's TCP connection closes.
    case memberDrop(patient: Int)
    /// A member sends something the doctor rejects.
    case memberGarbage(patient: Int, kind: MemberGarbage)
    /// The transport reports a begun or refused frame on a member's connection.
    case memberFrame(patient: Int, report: FrameReport)
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
    /// The operator revokes a patient (fails when it is not enrolled).
    case revoke(patient: Int)
    /// The operator enrolls a patient again with its own key (fails when it is enrolled).
    case enroll(patient: Int)
    /// The operator sets the doctor's minimum version at run time (PROTOCOL.md §8.6.3).
    case setMinimum(ProtocolVersion)

    var description: String {
        func p(_ i: Int) -> String { ModelWorld.patients[i] }
        func s(_ i: Int) -> String { ModelWorld.sources[i] }
        func tag(_ v: ProtocolVersion) -> String { v == .v1 ? "" : " (v\(v))" }
        switch self {
        case let .join(i, src, _, v): return "join \(p(i)) from \(s(src))\(tag(v))"
        case let .beginJoin(i, src, _, v): return "begin join \(p(i)) from \(s(src))\(tag(v)) (confirmation held)"
        case let .openOnly(src): return "open connection from \(s(src))"
        case let .slotProceed(slot, i, _, v): return "pending slot \(slot): proceed honestly (as \(p(i))\(tag(v)) if it needs a request)"
        case let .slotWrongSKV(slot, i, _): return "pending slot \(slot): KEY_CONFIRMATION with wrong SKV (as \(p(i)) if opened)"
        case let .slotDrop(slot, how): return "pending slot \(slot): transport \(how)"
        case let .slotFrame(slot, report): return "pending slot \(slot): \(report)"
        case let .memberFrame(i, report): return "\(p(i)): \(report)"
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
        case let .revoke(i): return "operator revokes \(p(i))"
        case let .enroll(i): return "operator enrolls \(p(i)) (its own key)"
        case let .setMinimum(v): return "operator sets the minimum version to \(v)"
        }
    }
}
