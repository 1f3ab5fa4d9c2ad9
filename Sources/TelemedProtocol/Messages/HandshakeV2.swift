import TelemedCrypto

// MARK: - KeyVerificationV2 (opcode 12)

/// KEY_VERIFICATION_V2, patient → doctor (PROTOCOL.md §8.3, opcode 12): KEY_VERIFICATION's
/// fields plus the patient's Diffie–Hellman share dh_i = A = g^a, all signed (SignData1_v2).
public struct KeyVerificationV2: Sendable, Equatable {
    /// The group name the patient uses; must equal the doctor's configured group.
    public var group: String
    /// The patient's id.
    public var idI: PeerID
    /// The doctor's id.
    public var idGWN: PeerID
    /// ts_i (UTC Unix milliseconds).
    public var tsI: UInt64
    /// rn_i.
    public var rnI: Bytes32
    /// First half of the ElGamal encryption of K under the doctor's key.
    public var c1: ElementBytes
    /// Second half of the ElGamal encryption of K under the doctor's key.
    public var c2: ElementBytes
    /// A = g^a (L bytes; checked by R-ELEM after the signature).
    public var dhI: ElementBytes
    /// Signature component r (an element, L bytes).
    public var sigR: ElementBytes
    /// Signature component s (a scalar mod q, 32 bytes).
    public var sigS: Bytes32

    /// Builds the message from its fields, in the wire's key order.
    public init(group: String, idI: PeerID, idGWN: PeerID, tsI: UInt64, rnI: Bytes32,
                c1: ElementBytes, c2: ElementBytes, dhI: ElementBytes, sigR: ElementBytes, sigS: Bytes32) {
        self.group = group
        self.idI = idI
        self.idGWN = idGWN
        self.tsI = tsI
        self.rnI = rnI
        self.c1 = c1
        self.c2 = c2
        self.dhI = dhI
        self.sigR = sigR
        self.sigS = sigS
    }

    /// The fields the two request versions share, as a version-1 value (the doctor runs the
    /// checks of §5 that do not depend on the version on it). Its signed bytes are not this
    /// message's: sign and verify with ``SignedBytes/keyVerificationV2(_:)``.
    public var commonFields: KeyVerification {
        KeyVerification(group: group, idI: idI, idGWN: idGWN, tsI: tsI, rnI: rnI, c1: c1, c2: c2, sigR: sigR, sigS: sigS)
    }
}

// MARK: - SessionTokenV2 (opcode 22)

/// SESSION_TOKEN_V2, doctor → patient (PROTOCOL.md §8.3, opcode 22): SESSION_TOKEN's fields
/// plus the doctor's share dh_gwn = B = g^b, signed together with H_1 of the request it answers.
public struct SessionTokenV2: Sendable, Equatable {
    /// The group name; must equal the receiver's configured group.
    public var group: String
    /// The doctor's id.
    public var idGWN: PeerID
    /// The patient's id.
    public var idI: PeerID
    /// ts_gwn (UTC Unix milliseconds).
    public var tsGWN: UInt64
    /// rn_gwn.
    public var rnGWN: Bytes32
    /// The echoed rn_i of the request being answered.
    public var rnI: Bytes32
    /// First half of the ElGamal encryption of K_GWN under the patient's key.
    public var c1: ElementBytes
    /// Second half of the ElGamal encryption of K_GWN under the patient's key.
    public var c2: ElementBytes
    /// B = g^b (L bytes).
    public var dhGWN: ElementBytes
    /// Signature component r (an element, L bytes).
    public var sigR: ElementBytes
    /// Signature component s (a scalar mod q, 32 bytes).
    public var sigS: Bytes32

    /// Builds the message from its fields, in the wire's key order.
    public init(group: String, idGWN: PeerID, idI: PeerID, tsGWN: UInt64, rnGWN: Bytes32, rnI: Bytes32,
                c1: ElementBytes, c2: ElementBytes, dhGWN: ElementBytes, sigR: ElementBytes, sigS: Bytes32) {
        self.group = group
        self.idGWN = idGWN
        self.idI = idI
        self.tsGWN = tsGWN
        self.rnGWN = rnGWN
        self.rnI = rnI
        self.c1 = c1
        self.c2 = c2
        self.dhGWN = dhGWN
        self.sigR = sigR
        self.sigS = sigS
    }
}
