import TelemedCrypto

// MARK: - KeyConfirmation (opcode 11)

/// KEY_CONFIRMATION, patient → doctor: proves knowledge of SK (PROTOCOL.md §4, opcode 11).
public struct KeyConfirmation: Sendable, Equatable {
    /// The patient's id.
    public var idI: PeerID
    /// The patient's timestamp TS'_i (UTC Unix milliseconds), also an input of SKV.
    public var ts: UInt64
    /// SKV = SHA-256(lp("TELEMED-V1 SKV") lp(SK) lp(u64 ts)).
    public var skv: Bytes32

    /// Builds the message from its fields, in the wire's key order.
    public init(idI: PeerID, ts: UInt64, skv: Bytes32) {
        self.idI = idI
        self.ts = ts
        self.skv = skv
    }
}
