import TelemedCrypto

// MARK: - SignedBytes

/// The byte strings the ElGamal signatures cover (PROTOCOL.md §4 "Messages"); every label and
/// field is `lp()`-wrapped and integers are `lp(u64be)`.
public enum SignedBytes {
    /// Label of the KEY_VERIFICATION signature.
    public static let keyVerificationLabel = "TELEMED-V1 KEY_VERIFICATION"
    /// Label of the SESSION_TOKEN signature.
    public static let sessionTokenLabel = "TELEMED-V1 SESSION_TOKEN"
    /// Label of the ENC_MSG signature.
    public static let broadcastLabel = "TELEMED-V1 ENC_MSG SIG"

    /// lp(label) lp(group) lp(id_i) lp(id_gwn) lp(u64 ts_i) lp(rn_i) lp(c1) lp(c2).
    public static func keyVerification(_ m: KeyVerification) -> [UInt8] {
        requestFields(keyVerificationLabel, m.group, idI: m.idI, idGWN: m.idGWN, tsI: m.tsI, rnI: m.rnI,
                      c1: m.c1, c2: m.c2).bytes
    }

    /// lp(label) lp(group) lp(id_gwn) lp(id_i) lp(u64 ts_gwn) lp(rn_gwn) lp(rn_i) lp(c1) lp(c2).
    public static func sessionToken(_ m: SessionToken) -> [UInt8] {
        answerFields(sessionTokenLabel, m.group, idGWN: m.idGWN, idI: m.idI, tsGWN: m.tsGWN, rnGWN: m.rnGWN,
                     rnI: m.rnI, c1: m.c1, c2: m.c2).bytes
    }

    /// Label of SignData1_v2 (PROTOCOL.md §8.3).
    public static let keyVerificationV2Label = "TELEMED-V2 KEY_VERIFICATION"
    /// Label of SignData2_v2 (PROTOCOL.md §8.3).
    public static let sessionTokenV2Label = "TELEMED-V2 SESSION_TOKEN"

    /// SignData1_v2 = lp(label) lp(group) lp(id_i) lp(id_gwn) lp(u64 ts_i) lp(rn_i) lp(c1) lp(c2) lp(dh_i).
    public static func keyVerificationV2(_ m: KeyVerificationV2) -> [UInt8] {
        var writer = requestFields(keyVerificationV2Label, m.group, idI: m.idI, idGWN: m.idGWN, tsI: m.tsI,
                                   rnI: m.rnI, c1: m.c1, c2: m.c2)
        writer.lp(m.dhI.bytes)
        return writer.bytes
    }

    /// SignData2_v2 = lp(label) lp(group) lp(id_gwn) lp(id_i) lp(u64 ts_gwn) lp(rn_gwn) lp(rn_i)
    /// lp(c1) lp(c2) lp(dh_gwn) lp(H_1), H_1 = SHA-256(SignData1_v2) of the request answered.
    public static func sessionTokenV2(_ m: SessionTokenV2, requestDigest: Bytes32) -> [UInt8] {
        var writer = answerFields(sessionTokenV2Label, m.group, idGWN: m.idGWN, idI: m.idI, tsGWN: m.tsGWN,
                                  rnGWN: m.rnGWN, rnI: m.rnI, c1: m.c1, c2: m.c2)
        writer.lp(m.dhGWN.bytes)
        writer.lp(requestDigest.bytes)
        return writer.bytes
    }

    /// lp(label) lp(group) lp(id_gwn) lp(u64 epoch) lp(u64 seq) lp(u64 ts) lp(ct).
    public static func broadcast(
        group: String, idGWN: PeerID, epoch: UInt64, seq: UInt64, ts: UInt64, ct: [UInt8]
    ) -> [UInt8] {
        var writer = LPWriter()
        writer.lp(broadcastLabel)
        writer.lp(group)
        writer.lp(idGWN.bytes)
        writer.lpU64(epoch)
        writer.lpU64(seq)
        writer.lpU64(ts)
        writer.lp(ct)
        return writer.bytes
    }

    // MARK: - Shared field runs (one place for the bytes both versions sign)

    /// lp(label) lp(group) lp(id_i) lp(id_gwn) lp(u64 ts_i) lp(rn_i) lp(c1) lp(c2): the request's
    /// signed fields in both versions; version 2 appends lp(dh_i).
    private static func requestFields(_ label: String, _ group: String, idI: PeerID, idGWN: PeerID, tsI: UInt64,
                                      rnI: Bytes32, c1: ElementBytes, c2: ElementBytes) -> LPWriter {
        var writer = LPWriter()
        writer.lp(label)
        writer.lp(group)
        writer.lp(idI.bytes)
        writer.lp(idGWN.bytes)
        writer.lpU64(tsI)
        writer.lp(rnI.bytes)
        writer.lp(c1.bytes)
        writer.lp(c2.bytes)
        return writer
    }

    /// lp(label) lp(group) lp(id_gwn) lp(id_i) lp(u64 ts_gwn) lp(rn_gwn) lp(rn_i) lp(c1) lp(c2): the
    /// answer's signed fields in both versions; version 2 appends lp(dh_gwn) lp(H_1).
    private static func answerFields(_ label: String, _ group: String, idGWN: PeerID, idI: PeerID, tsGWN: UInt64,
                                     rnGWN: Bytes32, rnI: Bytes32, c1: ElementBytes, c2: ElementBytes) -> LPWriter {
        var writer = LPWriter()
        writer.lp(label)
        writer.lp(group)
        writer.lp(idGWN.bytes)
        writer.lp(idI.bytes)
        writer.lpU64(tsGWN)
        writer.lp(rnGWN.bytes)
        writer.lp(rnI.bytes)
        writer.lp(c1.bytes)
        writer.lp(c2.bytes)
        return writer
    }
}
