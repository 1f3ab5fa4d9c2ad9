// MARK: - ReceiptMessage (opcode 50)

/// DEC_MSG, patient → doctor: a receipt, sealed under k_p2d, saying the patient decrypted
/// broadcast (epoch, seq) (PROTOCOL.md §4, opcode 50).
public struct ReceiptMessage: Sendable, Equatable {
    /// The patient's id.
    public var idI: PeerID
    /// The patient's sequence number on k_p2d (the GCM nonce's counter).
    public var seq: UInt64
    /// GCM ciphertext ‖ tag: exactly 32 bytes on the wire.
    public var ct: [UInt8]

    /// Builds the message from its fields, in the wire's key order.
    public init(idI: PeerID, seq: UInt64, ct: [UInt8]) {
        self.idI = idI
        self.seq = seq
        self.ct = ct
    }
}
