// MARK: - Message

/// One decoded frame body: exactly one of the ten message kinds of PROTOCOL.md §3 and §8.2.
public enum Message: Sendable, Equatable {
    /// Opcode 10.
    case keyVerification(KeyVerification)
    /// Opcode 12 (version 2).
    case keyVerificationV2(KeyVerificationV2)
    /// Opcode 11.
    case keyConfirmation(KeyConfirmation)
    /// Opcode 20.
    case sessionToken(SessionToken)
    /// Opcode 22 (version 2).
    case sessionTokenV2(SessionTokenV2)
    /// Opcode 30.
    case groupKey(GroupKeyMessage)
    /// Opcode 40.
    case encMsg(BroadcastMessage)
    /// Opcode 50.
    case decMsg(ReceiptMessage)
    /// Opcode 60.
    case disconnect(DisconnectMessage)
    /// Opcode 70 (no fields).
    case rejected

    /// The wire opcode of this message.
    public var opcode: Opcode {
        switch self {
        case .keyVerification: .keyVerification
        case .keyVerificationV2: .keyVerificationV2
        case .keyConfirmation: .keyConfirmation
        case .sessionToken: .sessionToken
        case .sessionTokenV2: .sessionTokenV2
        case .groupKey: .groupKey
        case .encMsg: .encMsg
        case .decMsg: .decMsg
        case .disconnect: .disconnect
        case .rejected: .rejected
        }
    }
}
