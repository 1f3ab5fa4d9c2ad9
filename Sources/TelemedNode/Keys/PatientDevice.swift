import Foundation
import TelemedCrypto
import TelemedProtocol

// MARK: - PatientDevice

/// The files of a patient's device (its state directory, mode 0700):
///
/// ```
/// <device dir>/
///   <id>.key.json          the device key pair: private key x_i and y_i   (0600, never copied)
///   <id>.request.json      enrollment request: id, group, y_i, fingerprint (0600, handed to the doctor)
///   pinned-doctor.json     the doctor card pinned by `patient pin`          (0600)
/// ```
///
/// `patient init` creates the key pair here (``create(_:group:version:using:)``); the request goes to
/// the doctor, who checks it with ``EnrollmentRequest/read(from:group:)`` and registers the
/// public key; the doctor's card comes back and is pinned (``pin(_:replace:)``); `patient <id>`
/// then connects with ``credential(_:)``. The private key is generated on the device and never
/// written anywhere else.
///
/// Several patients may share one directory (the loopback demo does); they pin one doctor.
public struct PatientDevice: Sendable {
    /// The device's state directory.
    public let directory: String

    /// A device over `directory` (nothing is created until something is written).
    public init(directory: String) {
        self.directory = directory
    }

    // MARK: Paths

    /// The device key file of `id`.
    public func keyPath(_ id: PeerID) -> String { PrivateFiles.path("\(id.value).key.json", in: directory) }
    /// The enrollment request of `id`.
    public func requestPath(_ id: PeerID) -> String { PrivateFiles.path("\(id.value).request.json", in: directory) }
    /// The pinned doctor card.
    public var pinnedCardPath: String { PrivateFiles.path("pinned-doctor.json", in: directory) }

    /// True when `id` has a device key here.
    public func hasKey(_ id: PeerID) -> Bool { FileManager.default.fileExists(atPath: keyPath(id)) }

    // MARK: - Key pair

    /// Generates `id`'s key pair on this device and writes the key file and the enrollment
    /// request. Refuses to replace an existing key file; if the request cannot be written, the
    /// new key file is removed again so nothing changes.
    ///
    /// `version` is the one protocol version the device will speak (PROTOCOL.md §8.6), recorded
    /// in the key file and carried by its ``credential(_:)``: 2 for new devices, 1 only for a
    /// device whose doctor still accepts version 1.
    ///
    /// - Throws: ``KeyStoreError/alreadyExists(path:)`` when `id` has a key here, or a write failure.
    @discardableResult
    public func create(_ id: PeerID, group: TelemedGroup, version: ProtocolVersion = .v2,
                       using rng: inout some CryptographicRandomNumberGenerator) throws(KeyStoreError) -> EnrollmentRequest {
        try PrivateFiles.makeDirectory(directory)
        let path = keyPath(id)
        if hasKey(id) { throw .alreadyExists(path: path) }
        let key = PrivateKey(generatingIn: group, using: &rng)
        let file = DeviceKeyFile(format: DeviceKeyFile.tag, group: group.name, id: id.value,
                                 privateKey: BigInt.encodeHex(key.scalarBytes), publicKey: key.publicKey.hex,
                                 protocolVersion: version.rawValue)
        try PrivateFiles.writeJSON(file, to: path, overwrite: false)
        let request = EnrollmentRequest(identity: id, publicKey: key.publicKey)
        do {
            try request.write(to: requestPath(id), overwrite: true)
        } catch {
            unlink(path)
            throw error
        }
        return request
    }

    /// Loads `id`'s device key pair (checking that its public half belongs to it).
    public func loadKey(_ id: PeerID) throws(KeyStoreError) -> PrivateKey {
        try loadKeyFile(id).key
    }

    /// The protocol version recorded in `id`'s key file (2 when the file predates the field).
    public func protocolVersion(_ id: PeerID) throws(KeyStoreError) -> ProtocolVersion {
        try loadKeyFile(id).version
    }

    private func loadKeyFile(_ id: PeerID) throws(KeyStoreError) -> (key: PrivateKey, version: ProtocolVersion) {
        let path = keyPath(id)
        let reader = KeyFileReader(path: path)
        let file = try reader.decode(DeviceKeyFile.self,
                                     from: PrivateFiles.read(path, hint: "create it with `patient init \(id)`"))
        try reader.field("format", file.format, is: DeviceKeyFile.tag)
        let group = try reader.namedGroup(file.group, expected: nil)
        let fileID = try reader.peerID(file.id, field: "id")
        guard fileID == id else {
            throw .invalidField(path: path, field: "id", reason: "is \(fileID), but the file is \(id)'s")
        }
        var version = ProtocolVersion.v2
        if let number = file.protocolVersion {
            guard let recorded = ProtocolVersion(rawValue: number) else {
                throw .invalidField(path: path, field: "protocolVersion", reason: "is \(number); expected 1 or 2")
            }
            version = recorded
        }
        return (try reader.privateKey(file.privateKey, public: file.publicKey, in: group), version)
    }

    /// The ids that have a device key file here, sorted.
    public func keyIDs() -> [PeerID] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().compactMap { name in
            guard name.hasSuffix(".key.json") else { return nil }
            return try? PeerID(String(name.dropLast(".key.json".count)))
        }
    }

    // MARK: - Pinned doctor

    /// What ``pin(_:replace:)`` did.
    public enum PinOutcome: Sendable, Equatable {
        /// No card was pinned before.
        case pinned
        /// The same doctor key was pinned; the card (its address) was written again.
        case refreshed
        /// Another doctor key was pinned and `replace` allowed replacing it.
        case replaced(previous: KeyFingerprint)
    }

    /// Stores `card` as the pinned doctor. Refuses a card of another group than a device key
    /// here, and a card of another doctor key than the pinned one unless `replace`.
    ///
    /// - Throws: ``KeyStoreError/wrongGroup(path:expected:found:)``,
    ///   ``KeyStoreError/invalidField(path:field:reason:)`` (another doctor is pinned), or a
    ///   read or write failure; nothing changes.
    @discardableResult
    public func pin(_ card: DoctorCard, replace: Bool = false) throws(KeyStoreError) -> PinOutcome {
        for id in keyIDs() {
            let key = try loadKey(id)
            guard key.group == card.group else {
                throw .wrongGroup(path: keyPath(id), expected: card.group.name, found: key.group.name)
            }
        }
        var outcome = PinOutcome.pinned
        if FileManager.default.fileExists(atPath: pinnedCardPath) {
            let previous = try DoctorCard.read(from: pinnedCardPath)
            if previous.publicKey == card.publicKey && previous.identity == card.identity {
                outcome = .refreshed
            } else if replace {
                outcome = .replaced(previous: previous.fingerprint)
            } else {
                throw .invalidField(path: pinnedCardPath, field: "publicKey",
                                    reason: "pins another doctor (\(previous.identity), fingerprint "
                                        + "\(previous.fingerprint)); pin with replace to change doctors")
            }
        }
        try PrivateFiles.makeDirectory(directory)
        try card.write(to: pinnedCardPath, overwrite: true)
        return outcome
    }

    /// The pinned doctor card.
    public func pinnedCard() throws(KeyStoreError) -> DoctorCard {
        guard FileManager.default.fileExists(atPath: pinnedCardPath) else {
            throw .missing(path: pinnedCardPath, hint: "pin the doctor's card with `patient pin doctor-card.json`")
        }
        return try DoctorCard.read(from: pinnedCardPath)
    }

    /// `id`'s credential: its device key and the pinned doctor (which must be in the key's group).
    public func credential(_ id: PeerID) throws(KeyStoreError) -> PatientCredential {
        let (key, version) = try loadKeyFile(id)
        let card = try pinnedCard()
        guard card.group == key.group else {
            throw .wrongGroup(path: pinnedCardPath, expected: key.group.name, found: card.group.name)
        }
        return PatientCredential(identity: id, privateKey: key, doctorID: card.identity,
                                 doctorKey: card.publicKey, host: card.host, port: card.port, version: version)
    }
}
