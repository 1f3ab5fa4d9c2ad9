import TelemedCrypto

// MARK: - KeyVerification (opcode 10)

/// KEY_VERIFICATION, patient → doctor: the patient's signed login request carrying
/// E_KU_GWN[K] = (c1, c2) (PROTOCOL.md §4, opcode 10).
public struct KeyVerification: Sendable, Equatable {
    /// The group name the patient uses; must equal the doctor's configured group.
    public var group: String
    /// The patient's id.
    public var idI: PeerID
    /// The doctor's (gateway's) id.
    public var idGWN: PeerID
    /// The patient's timestamp TS_i (UTC Unix milliseconds).
    public var tsI: UInt64
    /// The patient's fresh random RN_i.
    public var rnI: Bytes32
    /// First half of the ElGamal encryption of K under the doctor's key.
    public var c1: ElementBytes
    /// Second half of the ElGamal encryption of K under the doctor's key.
    public var c2: ElementBytes
    /// Signature component r (an element, L bytes).
    public var sigR: ElementBytes
    /// Signature component s (a scalar mod q, 32 bytes).
    public var sigS: Bytes32

    /// Builds the message from its fields, in the wire's key order.
    public init(
        group: String, idI: PeerID, idGWN: PeerID, tsI: UInt64, rnI: Bytes32,
        c1: ElementBytes, c2: ElementBytes, sigR: ElementBytes, sigS: Bytes32
    ) {
        self.group = group
        self.idI = idI
        self.idGWN = idGWN
        self.tsI = tsI
        self.rnI = rnI
        self.c1 = c1
        self.c2 = c2
        self.sigR = sigR
        self.sigS = sigS
    }
}
