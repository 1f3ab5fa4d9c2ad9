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
    public static func sessionKey(_ t: HandshakeTranscript) -> Bytes32 {
        var w = LPWriter()
        w.lp("TELEMED-V1 SK")
        w.lp(t.patientElement)
        w.lp(t.doctorElement)
        w.lpU64(t.tsI)
        w.lpU64(t.tsGWN)
        w.lp(t.rnI.bytes)
        w.lp(t.rnGWN.bytes)
        w.lp(t.idI.bytes)
        w.lp(t.idGWN.bytes)
        return Hashing.sha256(w.bytes)
    }

    /// SKV = SHA-256(lp("TELEMED-V1 SKV") lp(SK) lp(u64 ts)).
    public static func sessionKeyVerifier(sessionKey: Bytes32, ts: UInt64) -> Bytes32 {
        var w = LPWriter()
        w.lp("TELEMED-V1 SKV")
        w.lp(sessionKey.bytes)
        w.lpU64(ts)
        return Hashing.sha256(w.bytes)
    }

    /// The two traffic keys of a session.
    public struct TrafficKeys: Sendable {
        /// Doctor → patient (GROUP_KEY, the doctor's DISCONNECT).
        public let doctorToPatient: SymmetricKey32
        /// Patient → doctor (DEC_MSG, the patient's DISCONNECT).
        public let patientToDoctor: SymmetricKey32
    }

    /// k_d2p, k_p2d = HKDF-SHA-256(SK, empty salt, "TELEMED-V1 d2p" / "TELEMED-V1 p2d").
    public static func trafficKeys(sessionKey: Bytes32) -> TrafficKeys {
        TrafficKeys(
            doctorToPatient: KeyDerivation.hkdf32(ikm: sessionKey.bytes, info: "TELEMED-V1 d2p"),
            patientToDoctor: KeyDerivation.hkdf32(ikm: sessionKey.bytes, info: "TELEMED-V1 p2d"))
    }

    /// k_gk = HKDF-SHA-256(int2octets(x_GWN), empty salt, "TELEMED-V1 gk-secret"), derived once.
    public static func groupKeySecret(doctorKey: PrivateKey) -> SymmetricKey32 {
        KeyDerivation.hkdf32(ikm: doctorKey.scalarBytes, info: "TELEMED-V1 gk-secret")
    }

    /// GK_e = SHA-256(lp("TELEMED-V1 GK") lp(u64 e) lp(RN_e) lp(SK_1) … lp(SK_n) lp(k_gk)),
    /// members in ascending id byte order (a proper prefix first).
    public static func groupKey(epoch: UInt64, nonce: Bytes32, members: [(id: PeerID, sessionKey: Bytes32)],
                                secret: SymmetricKey32) -> Bytes32 {
        var w = LPWriter()
        w.lp("TELEMED-V1 GK")
        w.lpU64(epoch)
        w.lp(nonce.bytes)
        for member in members.sorted(by: { $0.id < $1.id }) { w.lp(member.sessionKey.bytes) }
        w.lp(secret.keyBytes.bytes)
        return Hashing.sha256(w.bytes)
    }

    /// The 12-byte GCM nonce 0x00000000 ‖ u64be(seq).
    public static func nonce(seq: UInt64) -> [UInt8] { [0, 0, 0, 0] + LPWriter.u64(seq) }
}
