import TelemedCrypto

// MARK: - BroadcastMessage (opcode 40)

/// ENC_MSG, doctor → all: a broadcast sealed under GK_e and signed by the doctor
/// (PROTOCOL.md §4, opcode 40).
public struct BroadcastMessage: Sendable, Equatable {
    /// The epoch whose GK sealed the broadcast.
    public var epoch: UInt64
    /// The broadcast counter within the epoch (the GCM nonce's counter).
    public var seq: UInt64
    /// The doctor's timestamp (UTC Unix milliseconds).
    public var ts: UInt64
    /// GCM ciphertext ‖ tag: 17–16400 bytes on the wire.
    public var ct: [UInt8]
    /// Signature component r (an element, L bytes).
    public var sigR: ElementBytes
    /// Signature component s (a scalar mod q, 32 bytes).
    public var sigS: Bytes32

    /// Builds the message from its fields, in the wire's key order.
    public init(epoch: UInt64, seq: UInt64, ts: UInt64, ct: [UInt8], sigR: ElementBytes, sigS: Bytes32) {
        self.epoch = epoch
        self.seq = seq
        self.ts = ts
        self.ct = ct
        self.sigR = sigR
        self.sigS = sigS
    }
}
