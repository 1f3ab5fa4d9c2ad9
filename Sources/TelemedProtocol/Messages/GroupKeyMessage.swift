// MARK: - GroupKeyMessage (opcode 30)

/// GROUP_KEY, doctor → patient: the epoch's GK sealed under k_d2p; also the login
/// acknowledgement (PROTOCOL.md §4, opcode 30).
public struct GroupKeyMessage: Sendable, Equatable {
    /// The epoch e whose key GK_e is sealed inside.
    public var epoch: UInt64
    /// The doctor's sequence number on k_d2p (the GCM nonce's counter).
    public var seq: UInt64
    /// n, the number of patients whose SK went into GK_e, the recipient included.
    public var members: UInt64
    /// GCM ciphertext ‖ tag: exactly 48 bytes on the wire.
    public var ct: [UInt8]

    /// Builds the message from its fields, in the wire's key order.
    public init(epoch: UInt64, seq: UInt64, members: UInt64, ct: [UInt8]) {
        self.epoch = epoch
        self.seq = seq
        self.members = members
        self.ct = ct
    }
}
