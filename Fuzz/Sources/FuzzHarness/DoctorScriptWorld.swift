import struct TelemedTransport.IPAddress
import TelemedCrypto
import TelemedProtocol

// MARK: - DoctorScriptWorld
//
// The fixed world every doctor script runs in, built once per process: the worked example's
// group, doctor key (x_gwn) and patient1 key (x_i) from Fixtures/reference/worked-example.json,
// so its KEY_VERIFICATION verifies at its own time; a second enrolled patient and a third,
// unenrolled, id with keys derived from fixed scalars; and a configuration with tiny tables so
// that every limit is reachable in a few steps. The doctor starts with minimum version 1, set
// explicitly, so that both versions' requests are answered until a script raises it
// (PROTOCOL.md §8.6.3; operator command 7 of DoctorScript).

/// Keys, ids, addresses and the doctor template shared by all doctor scripts.
public struct DoctorScriptWorld: Sendable {
    /// The deployment's group (the cheapest named one, telemed-2048-256).
    public let group: TelemedGroup
    /// ID_GWN of the worked example.
    public let doctorID: PeerID
    /// The doctor's key pair (x_gwn of the worked example).
    public let doctorKey: PrivateKey
    /// Patients an honest patient machine can play: id and credential (index 3 is patient1
    /// holding patient2's key: an impersonation attempt).
    public let patients: [(id: PeerID, key: PrivateKey)]
    /// Connection sources: two in one /24, one elsewhere, one IPv6.
    public let sources: [SourceAddress]
    /// The small-table configuration the scripts run with.
    public let configuration: DoctorConfiguration
    /// A started doctor, copied by each script.
    public let template: DoctorMachine
    /// The wall clock at start: ts_i of the worked example's KEY_VERIFICATION.
    public static let startWall: UInt64 = 1_764_000_000_000

    /// The shared world (built on first use).
    public static let shared: DoctorScriptWorld = {
        do {
            return try DoctorScriptWorld()
        } catch {
            preconditionFailure("the fuzz world's fixed keys and configuration are valid: \(error)")
        }
    }()

    init() throws {
        group = TelemedGroup.telemed2048
        doctorID = try PeerID("doctor")
        // Worked example, inputs.x_gwn and inputs.x_i.
        doctorKey = try PrivateKey(group: group, scalarBytes: fixedHexBytes(
            "815ac5f54645162aed69e306f81b91bc8a62111218077a231e03861406ca670c"))
        let patient1 = try PrivateKey(group: group, scalarBytes: fixedHexBytes(
            "6b9f3dc29e63fbe30d2f65a993036c1f598729a37dc3b45f498c6cbc9d81d628"))
        let patient2 = try PrivateKey(group: group, scalarBytes: Hashing.sha256(Array("fuzz patient2".utf8)).bytes)
        let stranger = try PrivateKey(group: group, scalarBytes: Hashing.sha256(Array("fuzz patient3".utf8)).bytes)
        let id1 = try PeerID("patient1"), id2 = try PeerID("patient2"), id3 = try PeerID("patient3")
        patients = [(id1, patient1), (id2, patient2), (id3, stranger), (id1, patient2)]
        // Sources as the runtime builds them: the transport's strict IP parser, then the bytes.
        sources = ["192.0.2.10", "192.0.2.11", "198.51.100.7", "2001:db8::1"].compactMap { text in
            IPAddress(text).flatMap { SourceAddress(addressBytes: $0.bytes) }
        }
        var configuration = DoctorConfiguration()
        configuration.handshakeTimeoutMillis = 10_000
        configuration.failureThreshold = 3
        configuration.pendingPerSource = 2
        configuration.pendingPerPrefix = 3
        configuration.pendingTotal = 4
        configuration.sourceBlockCapacity = 1
        configuration.failureTableCapacity = 2
        configuration.deviceBlocksPerPatient = 1
        configuration.replayCacheCapacity = 3
        configuration.maxActivePatients = 2
        configuration.minimumVersion = .v1
        self.configuration = configuration
        var doctor = try DoctorMachine(configuration: configuration, group: group, identity: doctorID,
                                       privateKey: doctorKey,
                                       registry: [id1: patient1.publicKey, id2: patient2.publicKey])
        _ = doctor.start(now: Instant(wall: Self.startWall, monotonic: 0))
        template = doctor
    }
}

/// Bytes of a hex literal in this file (fixed lowercase hex, valid by construction).
func fixedHexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var high: UInt8?
    for unit in hex.utf8 {
        let nibble: UInt8 = unit <= 57 ? unit &- 48 : unit &- 87
        if let h = high {
            out.append(h << 4 | nibble)
            high = nil
        } else {
            high = nibble
        }
    }
    return out
}
