// MARK: - Opcode

/// The message kinds of PROTOCOL.md §3, by their wire opcode.
public enum Opcode: UInt8, Sendable, CaseIterable {
    /// 10, patient → doctor: the signed login request.
    case keyVerification = 10
    /// 11, patient → doctor: the session-key proof SKV.
    case keyConfirmation = 11
    /// 20, doctor → patient: the signed answer carrying the doctor's key share.
    case sessionToken = 20
    /// 30, doctor → patient: the epoch's group key, sealed; also the login acknowledgement.
    case groupKey = 30
    /// 40, doctor → all: a signed broadcast sealed under the group key.
    case encMsg = 40
    /// 50, patient → doctor: a sealed receipt for a broadcast.
    case decMsg = 50
    /// 60, either side: a sealed disconnect with an optional reason.
    case disconnect = 60
    /// 70, doctor → patient: a generic refusal; the connection then closes.
    case rejected = 70
}
