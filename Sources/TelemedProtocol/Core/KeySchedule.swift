import TelemedCrypto

/// The key derivations of PROTOCOL.md §4 ("Derivations"), in one place for both sides.
public enum KeySchedule {
    /// The inputs both sides hash into SK.
    public struct HandshakeTranscript: Sendable {
        /// K = g^t, the patient's element, as L bytes.
        public var patientElement: [UInt8]
        /// K_GWN = g^u, the doctor's element, as L bytes.
        public var doctorElement: [UInt8]
        /// ts_i of KEY_VERIFICATION.
        public var tsI: UInt64
        /// ts_gwn of SESSION_TOKEN.
        public var tsGWN: UInt64
        /// rn_i.
        public var rnI: Bytes32
        /// rn_gwn.
        public var rnGWN: Bytes32
        /// The patient's id.
        public var idI: PeerID
        /// The doctor's id.
        public var idGWN: PeerID

        /// Collects the transcript.
        public init(patientElement: [UInt8], doctorElement: [UInt8], tsI: UInt64, tsGWN: UInt64,
                    rnI: Bytes32, rnGWN: Bytes32, idI: PeerID, idGWN: PeerID) {
            self.patientElement = patientElement
            self.doctorElement = doctorElement
            self.tsI = tsI
            self.tsGWN = tsGWN
            self.rnI = rnI
            self.rnGWN = rnGWN
            self.idI = idI
            self.idGWN = idGWN
        }
    }

    /// SK = SHA-256(lp("TELEMED-V1 SK") lp(K) lp(K_GWN) lp(u64 ts_i) lp(u64 ts_gwn) lp(rn_i) lp(rn_gwn) lp(id_i) lp(id_gwn)).
    public static func sessionKey(_ t: HandshakeTranscript) -> SessionKey {
        var h = LPHasher()
        h.lp("TELEMED-V1 SK")
        h.lp(t.patientElement)
        h.lp(t.doctorElement)
        h.lpU64(t.tsI)
        h.lpU64(t.tsGWN)
        h.lp(t.rnI.bytes)
        h.lp(t.rnGWN.bytes)
        h.lp(t.idI.bytes)
        h.lp(t.idGWN.bytes)
        return SessionKey(hashing: h)
    }

    // MARK: - Version 2 (PROTOCOL.md §8.4)

    /// h_a = SHA-256(lp("TELEMED-V2 EPHEMERAL a") lp(group) lp(id_i) lp(id_gwn) lp(u64 ts_i) lp(rn_i)):
    /// the context the patient's ephemeral a is drawn for.
    public static func patientEphemeralContext(group: String, idI: PeerID, idGWN: PeerID, tsI: UInt64, rnI: Bytes32) -> Bytes32 {
        var h = LPHasher()
        h.lp("TELEMED-V2 EPHEMERAL a")
        h.lp(group)
        h.lp(idI.bytes)
        h.lp(idGWN.bytes)
        h.lpU64(tsI)
        h.lp(rnI.bytes)
        return h.digest()
    }

    /// h_b = SHA-256(lp("TELEMED-V2 EPHEMERAL b") lp(group) lp(id_gwn) lp(id_i) lp(u64 ts_gwn) lp(rn_gwn) lp(H_1)):
    /// the context the doctor's ephemeral b is drawn for.
    public static func doctorEphemeralContext(group: String, idGWN: PeerID, idI: PeerID, tsGWN: UInt64, rnGWN: Bytes32,
                                              requestDigest: Bytes32) -> Bytes32 {
        var h = LPHasher()
        h.lp("TELEMED-V2 EPHEMERAL b")
        h.lp(group)
        h.lp(idGWN.bytes)
        h.lp(idI.bytes)
        h.lpU64(tsGWN)
        h.lp(rnGWN.bytes)
        h.lp(requestDigest.bytes)
        return h.digest()
    }

    /// SK = SHA-256(lp("TELEMED-V2 SK") lp(K) lp(K_GWN) lp(Z) lp(H_1) lp(H_2)). K, K_GWN and Z
    /// stream from their key storage into the hash; ts, rn, the ids and the group enter
    /// through H_1 and H_2.
    public static func sessionKeyV2(patientElement: ElementSecret, doctorElement: ElementSecret, shared: ElementSecret,
                                    requestDigest: Bytes32, answerDigest: Bytes32) -> SessionKey {
        var h = LPHasher()
        h.lp("TELEMED-V2 SK")
        h.lp(patientElement)
        h.lp(doctorElement)
        h.lp(shared)
        h.lp(requestDigest.bytes)
        h.lp(answerDigest.bytes)
        return SessionKey(hashing: h)
    }

    /// SKV = SHA-256(lp("TELEMED-V1 SKV") lp(SK) lp(u64 ts)): a public value (it goes on the wire).
    public static func sessionKeyVerifier(sessionKey: SessionKey, ts: UInt64) -> Bytes32 {
        var h = LPHasher()
        h.lp("TELEMED-V1 SKV")
        h.lp(sessionKey)
        h.lpU64(ts)
        return h.digest()
    }

    /// True when `skv` is SKV for `sessionKey` and `ts`, compared in constant time through
    /// swift-crypto (`Bytes32.constantTimeEquals(_:)`).
    public static func verifiesSessionKey(_ skv: Bytes32, sessionKey: SessionKey, ts: UInt64) -> Bool {
        sessionKeyVerifier(sessionKey: sessionKey, ts: ts).constantTimeEquals(skv)
    }

    /// The two traffic keys of a session. Each side turns the one it sends with into a
    /// `SealingKey` and the one it receives with into an `OpeningKey`, once.
    public struct TrafficKeys: Sendable {
        /// Doctor → patient (GROUP_KEY, the doctor's DISCONNECT).
        public let doctorToPatient: TrafficKey
        /// Patient → doctor (DEC_MSG, the patient's DISCONNECT).
        public let patientToDoctor: TrafficKey
    }

    /// k_d2p, k_p2d = HKDF-SHA-256(SK, empty salt, "TELEMED-V1 d2p" / "TELEMED-V1 p2d").
    public static func trafficKeys(sessionKey: SessionKey) -> TrafficKeys {
        TrafficKeys(
            doctorToPatient: TrafficKey(derivedFrom: sessionKey, info: "TELEMED-V1 d2p"),
            patientToDoctor: TrafficKey(derivedFrom: sessionKey, info: "TELEMED-V1 p2d"))
    }

    /// k_gk = HKDF-SHA-256(int2octets(x_GWN), empty salt, "TELEMED-V1 gk-secret"), derived once.
    public static func groupKeySecret(doctorKey: PrivateKey) -> GroupKeySecret {
        GroupKeySecret(derivedFrom: doctorKey, info: "TELEMED-V1 gk-secret")
    }

    /// GK_e = SHA-256(lp("TELEMED-V1 GK") lp(u64 e) lp(RN_e) lp(SK_1) … lp(SK_n) lp(k_gk)),
    /// members in ascending id byte order (a proper prefix first).
    public static func groupKey(epoch: UInt64, nonce: Bytes32, members: [(id: PeerID, sessionKey: SessionKey)],
                                secret: GroupKeySecret) -> GroupKey {
        var h = LPHasher()
        h.lp("TELEMED-V1 GK")
        h.lpU64(epoch)
        h.lp(nonce.bytes)
        for member in members.sorted(by: { $0.id < $1.id }) { h.lp(member.sessionKey) }
        h.lp(secret)
        return GroupKey(hashing: h)
    }

    /// SHA-256("TELEMED-V1 fingerprint" ‖ GK_e): identifies a group key in introspection and
    /// invariant checks without revealing it.
    public static func fingerprint(of groupKey: GroupKey) -> Bytes32 {
        groupKey.fingerprint(prefix: Array("TELEMED-V1 fingerprint".utf8))
    }
}
