// MARK: - DisconnectMessage (opcode 60)

/// DISCONNECT, either side: a reason sealed under the sender's direction key
/// (PROTOCOL.md §4, opcode 60).
public struct DisconnectMessage: Sendable, Equatable {
    /// The sender's sequence number on its direction key (the GCM nonce's counter).
    public var seq: UInt64
    /// GCM ciphertext ‖ tag: 16–272 bytes on the wire.
    public var ct: [UInt8]

    /// Builds the message from its fields, in the wire's key order.
    public init(seq: UInt64, ct: [UInt8]) {
        self.seq = seq
        self.ct = ct
    }
}
