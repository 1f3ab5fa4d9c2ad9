import TelemedCrypto

// MARK: - SessionToken (opcode 20)

/// SESSION_TOKEN, doctor → patient: the doctor's signed answer carrying E_KU_Di[K_GWN] and
/// echoing the patient's RN_i (PROTOCOL.md §4, opcode 20).
public struct SessionToken: Sendable, Equatable {
    /// The group name; must equal the receiver's configured group.
    public var group: String
    /// The doctor's (gateway's) id.
    public var idGWN: PeerID
    /// The patient's id.
    public var idI: PeerID
    /// The doctor's timestamp TS_GWN (UTC Unix milliseconds).
    public var tsGWN: UInt64
    /// The doctor's fresh random RN_GWN.
    public var rnGWN: Bytes32
    /// The echoed RN_i of the request being answered.
    public var rnI: Bytes32
    /// First half of the ElGamal encryption of K_GWN under the patient's key.
    public var c1: ElementBytes
    /// Second half of the ElGamal encryption of K_GWN under the patient's key.
    public var c2: ElementBytes
    /// Signature component r (an element, L bytes).
    public var sigR: ElementBytes
    /// Signature component s (a scalar mod q, 32 bytes).
    public var sigS: Bytes32

    /// Builds the message from its fields, in the wire's key order.
    public init(
        group: String, idGWN: PeerID, idI: PeerID, tsGWN: UInt64, rnGWN: Bytes32, rnI: Bytes32,
        c1: ElementBytes, c2: ElementBytes, sigR: ElementBytes, sigS: Bytes32
    ) {
        self.group = group
        self.idGWN = idGWN
        self.idI = idI
        self.tsGWN = tsGWN
        self.rnGWN = rnGWN
        self.rnI = rnI
        self.c1 = c1
        self.c2 = c2
        self.sigR = sigR
        self.sigS = sigS
    }
}
