import TelemedCrypto
import TelemedProtocol

// MARK: - DoctorKeyMaterial

/// Everything the doctor's machine needs from the key store: its group, id, private key and
/// the registry of enrolled patients. Its description never shows the private key.
public struct DoctorKeyMaterial: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The deployment's group.
    public let group: TelemedGroup
    /// ID_GWN.
    public let identity: PeerID
    /// x_GWN.
    public let privateKey: PrivateKey
    /// Enrolled patients: id → public key, as the legacy `registry/<id>.json` files (or a test)
    /// give them. A ``DoctorNode`` only seeds its security store's registry with it, once per
    /// database (``SecurityStore/importLegacyRegistry(_:group:at:)``); from then on the store's
    /// registry is the one the doctor uses.
    public let registry: [PeerID: PublicKey]

    /// Collects the material.
    ///
    /// - Precondition: the private key and every enrolled key are in `group`.
    public init(group: TelemedGroup, identity: PeerID, privateKey: PrivateKey, registry: [PeerID: PublicKey]) {
        precondition(privateKey.group == group && registry.values.allSatisfy { $0.group == group },
                     "every key of the doctor's material must be in its group")
        self.group = group
        self.identity = identity
        self.privateKey = privateKey
        self.registry = registry
    }

    /// Names the doctor, the group and the enrolled ids; never the private key.
    public var description: String {
        "DoctorKeyMaterial(\(identity), group: \(group.name), enrolled: \(registry.keys.sorted().map(\.value)), x: <redacted>)"
    }

    /// Same as ``description``.
    public var debugDescription: String { description }
}

// MARK: - PatientCredential

/// A patient's credential: its key pair, the pinned doctor id and public key, the group and
/// where the doctor listens. Its description never shows the private key.
public struct PatientCredential: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// ID_i.
    public let identity: PeerID
    /// x_i.
    public let privateKey: PrivateKey
    /// The pinned doctor id.
    public let doctorID: PeerID
    /// The pinned doctor public key.
    public let doctorKey: PublicKey
    /// The doctor's host (IP text or a name).
    public let host: String
    /// The doctor's TCP port.
    public let port: Int
    /// The one protocol version this device speaks (PROTOCOL.md §8.6); a
    /// `PatientConfiguration` for this credential sets its `version` to it.
    public let version: ProtocolVersion

    /// The group (of both keys).
    public var group: TelemedGroup { privateKey.group }

    /// Collects the credential.
    ///
    /// - Precondition: both keys are in the same group and the port is in 1...65535.
    public init(identity: PeerID, privateKey: PrivateKey, doctorID: PeerID, doctorKey: PublicKey,
                host: String, port: Int, version: ProtocolVersion = .v2) {
        precondition(privateKey.group == doctorKey.group, "a credential's keys must share a group")
        precondition((1...65_535).contains(port), "a doctor port must be in 1...65535")
        self.identity = identity
        self.privateKey = privateKey
        self.doctorID = doctorID
        self.doctorKey = doctorKey
        self.host = host
        self.port = port
        self.version = version
    }

    /// Names the patient, the doctor and its address; never the private key.
    public var description: String {
        "PatientCredential(\(identity) → \(doctorID) at \(host):\(port), group: \(group.name), "
            + "version \(version.rawValue), x: <redacted>)"
    }

    /// Same as ``description``.
    public var debugDescription: String { description }
}
