// MARK: - Opcode

/// The message kinds of PROTOCOL.md §3 and §8.2, by their wire opcode.
public enum Opcode: UInt8, Sendable, CaseIterable {
    /// 10, patient → doctor: the signed login request.
    case keyVerification = 10
    /// 12, patient → doctor: the signed version-2 login request with the share A (§8.3).
    case keyVerificationV2 = 12
    /// 11, patient → doctor: the session-key proof SKV.
    case keyConfirmation = 11
    /// 20, doctor → patient: the signed answer carrying the doctor's key share.
    case sessionToken = 20
    /// 22, doctor → patient: the signed version-2 answer with the share B, bound to H_1 (§8.3).
    case sessionTokenV2 = 22
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
