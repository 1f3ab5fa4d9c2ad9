import TelemedProtocol

// MARK: - Step

/// One line of a scenario's script.
public struct Step: Sendable {
    /// The step's JSON path (`$.steps[3]`), used in every message about it.
    public var path: String
    /// What to do.
    public var action: StepAction
    /// Faults aimed at the traffic this step causes.
    public var intercepts: [Intercept]
    /// What must be true once the step settled.
    public var expectations: [Expectation]
    /// False: do not wait for the network to go quiet before the next step (concurrency).
    public var wait: Bool
    /// Free text shown in the narrative.
    public var note: String?
}

/// What a step does.
public enum StepAction: Sendable {
    /// A patient opens a new connection and runs the real handshake. `signer` makes its
    /// device sign with another key (a patient id: that patient's cast key; or a key named by an
    /// earlier `enroll` step); `from` uses another source address (normalised at load).
    case connect(patient: String, from: String?, signer: String?)
    /// Many patients open a connection each, all at once: every connect is put in flight before
    /// any is delivered, so all the handshakes are in flight together (a login storm). `label`
    /// is the list as written (`group:p`); `patients` the ids, `group:NAME` expanded at load.
    case connectMany(label: String, patients: [String])
    /// A patient leaves (sealed DISCONNECT).
    case leave(patient: String)
    /// The operator kicks a patient.
    case kick(patient: String)
    /// The operator broadcasts `text`, remembered as `label`.
    case broadcast(label: String, text: String)
    /// The operator starts a new epoch.
    case rekey
    /// The operator lifts a block (`ip`, `id@ip`, prefix or patient id).
    case unblock(target: String)
    /// The operator enrolls `patient` with a key while the doctor runs: its own cast key
    /// (`key` nil or its id), another patient's cast key (`key` that patient's id) or a named key
    /// generated from the seed (any other name; the same name is the same key all run long).
    /// `replace` replaces the key of an enrolled id. On success the patient's device holds that
    /// key: its next `connect` signs with it.
    case enroll(patient: String, key: String?, replace: Bool)
    /// The operator revokes `patient` while the doctor runs.
    case revoke(patient: String)
    /// The doctor process dies and starts again with the same security store.
    case restartDoctor
    /// Virtual time moves forward; timers fire on the way.
    case advance(millis: UInt64)
    /// An actor's wall clock is set to (or moved by) an offset from true time.
    case skew(actor: String, millis: Int64, relative: Bool)
    /// An attacker sends a frame or raw bytes on a new or earlier connection.
    case send(SendSpec)
    /// An attacker on the path writes into an existing connection.
    case inject(InjectSpec)
    /// An attacker opens many connections (half-open, or each with a crafted request).
    case flood(FloodSpec)
    /// An attacker closes one of its connections.
    case close(attacker: String, connection: String)
    /// Nothing: only expectations.
    case check

    /// The step's verb as written in files (`connect`, `send`, …).
    public var verb: String {
        switch self {
        case .connect, .connectMany: return "connect"
        case .leave: return "leave"
        case .kick: return "kick"
        case .broadcast: return "broadcast"
        case .rekey: return "rekey"
        case .unblock: return "unblock"
        case .enroll: return "enroll"
        case .revoke: return "revoke"
        case .restartDoctor: return "restart"
        case .advance: return "advance"
        case .skew: return "skew"
        case .send: return "send"
        case .inject: return "inject"
        case .flood: return "flood"
        case .close: return "close"
        case .check: return "check"
        }
    }
}

// MARK: - Attacker payloads

/// An attacker's send.
public struct SendSpec: Sendable {
    /// The attacker.
    public var attacker: String
    /// A connection label: reused when it exists, opened (and remembered) when it does not;
    /// nil opens a fresh unnamed connection.
    public var connection: String?
    /// A source address other than the attacker's own (normalised at load).
    public var from: String?
    /// What goes on the wire.
    public var payload: Payload
    /// How many fresh connections send the same payload at the same instant (≥ 2: a race).
    public var copies: Int
    /// Close the connection right after sending (a cut frame when the payload was partial).
    public var closeAfter: Bool
}

/// An on-path write into an existing connection.
public struct InjectSpec: Sendable {
    /// The patient whose latest connection is the target, or an attacker connection label.
    public var target: ConnectionTarget
    /// Towards the patient/attacker end (`toClient`) or towards the doctor (`toDoctor`).
    public var towardsDoctor: Bool
    /// What is written.
    public var payload: Payload
}

/// Names a connection that exists.
public enum ConnectionTarget: Sendable {
    /// The latest connection of this patient.
    case patient(String)
    /// One connection of this patient by the order it opened them (0 the first, −1 the
    /// latest): two concurrent handshakes of one patient (PROTOCOL.md §8.8 attack 27).
    case patientSession(String, Int)
    /// An attacker connection label.
    case attacker(String)
}

/// Many connections from one attacker.
public struct FloodSpec: Sendable {
    /// The attacker.
    public var attacker: String
    /// How many connections.
    public var count: Int
    /// A source address other than the attacker's own (normalised at load).
    public var from: String?
    /// nil: half-open connections that never send; otherwise each sends this crafted frame
    /// (a fresh rn and randomness each time).
    public var request: CraftSpec?
    /// True: all at once; false: one after another, each answered before the next.
    public var concurrent: Bool
}

/// Bytes for the wire.
public enum Payload: Sendable {
    /// A frame body from a source, edited by the mutations in order.
    case frame(FrameSource, [Mutation])
    /// Raw stream bytes with no length prefix added (bad prefixes, partial frames).
    case raw([UInt8])
}

/// Where a frame body comes from.
public enum FrameSource: Sendable {
    /// A frame seen on the wire earlier.
    case captured(CaptureRef)
    /// A message built by the attacker.
    case craft(CraftSpec)
    /// A JSON value, written as its compact text.
    case json(JSONFragment)
    /// Text written as is (UTF-8).
    case text(String)
    /// Bytes written as is.
    case bytes([UInt8])
}

/// Names a frame seen on the wire: the `nth` (0 first, −1 last) frame with this opcode sent
/// by `sender` (a patient id, an attacker connection label, or `doctor`), optionally only
/// those sent to `to`.
public struct CaptureRef: Sendable {
    /// Who sent it.
    public var sender: String
    /// Who received it (for the doctor's frames).
    public var to: String?
    /// Its opcode.
    public var opcode: Opcode
    /// Which one.
    public var nth: Int
}

/// A message an attacker builds with the keys the scenario gives it.
public struct CraftSpec: Sendable {
    /// Which message.
    public var kind: Opcode
    /// The patient id it claims.
    public var claim: String
    /// Who signs: a patient id, `doctor`, or nil for a random (r, s).
    public var signer: String?
    /// ts = the attacker's clock + this offset, ms.
    public var tsOffsetMillis: Int64
    /// Override r and/or s with special values (`0`, `1`, `p-1`, `p`, `q`, `random`).
    public var r: SpecialValue?
    /// See ``r``.
    public var s: SpecialValue?
    /// Sign other bytes than the message (a valid signature on something else).
    public var signOther: Bool
    /// Override c1 / c2 with special values, or take them from a captured request.
    public var c1: SpecialValue?
    /// See ``c1``.
    public var c2: SpecialValue?
    /// Take c1 and c2 from this captured frame (a ciphertext transplant).
    public var ciphertextFrom: CaptureRef?
    /// Take rn_i (and for SESSION_TOKEN the ids) from this captured request.
    public var answering: CaptureRef?
    /// Another gateway id.
    public var idGWN: String?
}

/// A value with a name in scenario files.
public enum SpecialValue: String, Sendable, CaseIterable {
    /// Zero.
    case zero = "0"
    /// One (the identity element).
    case one = "1"
    /// p − 1 (the element of order 2).
    case pMinusOne = "p-1"
    /// The modulus itself (out of range).
    case p = "p"
    /// The subgroup order.
    case q = "q"
    /// Random bytes of the right width.
    case random = "random"
    /// The smallest integer ≥ 2 outside the order-q subgroup.
    case nonSubgroup = "non-subgroup"
}

/// One edit of a frame body.
public enum Mutation: Sendable {
    /// Set a field to a JSON value (added at the end when missing: an unknown field).
    case set(String, JSONFragment)
    /// Remove a field.
    case remove(String)
    /// Flip one bit of a hex field's bytes (bit 0 is the top bit of the first byte; −1 the last bit).
    case flipBit(String, Int)
    /// Drop the last bytes of a hex field.
    case truncate(String, Int)
    /// Write a field twice.
    case duplicateKey(String)
    /// Recompute the signature with this signer's key (`doctor` or a patient id).
    case resign(String)
    /// Re-sign a SESSION_TOKEN_V2 with this signer's key over SignData2_v2 built with H_1 of
    /// the captured request `answering` (a valid signature over another request's transcript,
    /// PROTOCOL.md §8.8 attack 27, R-TRANSCRIPT).
    case resignAnswer(signer: String, answering: CaptureRef)
    /// Flip one bit of the body bytes themselves.
    case flipBodyBit(Int)
    /// Set a field to the value of a field of a captured frame (a reflection: dh_gwn := the
    /// pending request's dh_i, PROTOCOL.md §8.8 attack 25).
    case copy(field: String, from: CaptureRef, sourceField: String)
}

// MARK: - Intercepts

/// A fault aimed at the next frame matching `sender`/`to`/`opcode` put on the wire during
/// its step (the `nth` match, counting from 0).
public struct Intercept: Sendable {
    /// A patient id, an attacker connection label, or `doctor`.
    public var sender: String
    /// Optional receiver.
    public var to: String?
    /// The opcode to match.
    public var opcode: Opcode
    /// Which match.
    public var nth: Int
    /// What happens to it.
    public var action: InterceptAction
}

/// What an intercept does to its frame.
public enum InterceptAction: Sendable {
    /// Edit it in flight.
    case tamper([Mutation])
    /// Remove it from the wire (it stays in the capture log, for a later replay).
    case hold
    /// Deliver it twice.
    case duplicate
}
