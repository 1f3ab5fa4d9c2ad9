import Foundation
import TelemedCrypto
import TelemedProtocol

// MARK: - KeyStore

/// The key files of the doctor's state directory:
///
/// ```
/// <state dir>/            mode 0700
///   doctor.json           the doctor's key pair                          (0600)
///   doctor.sqlite         security store, patient registry and audit log (see SecurityStore)
///   registry/<id>.json    legacy: an enrolled public key, imported into the store once (0600)
///   patients/<id>.json    legacy: a credential the doctor made (with the patient's private key)
/// ```
///
/// Patients make their own keys on their devices (``PatientDevice``) and the doctor enrolls
/// their public keys in the security store; nothing here writes a patient's key. The legacy
/// files come from the enrollment that generated patients' keys on the doctor's machine:
/// ``loadRegistry(group:)`` feeds the store's one-time import and ``loadCredential(_:)`` lets
/// such a device still connect until it has a key of its own.
public struct KeyStore: Sendable {
    /// The state directory.
    public let directory: String

    /// A store over `directory` (nothing is created until something is written).
    public init(directory: String) {
        self.directory = directory
    }

    // MARK: Paths

    /// The doctor's key file.
    public var doctorKeyPath: String { PrivateFiles.path("doctor.json", in: directory) }
    /// The directory of enrolled public keys.
    public var registryDirectory: String { PrivateFiles.path("registry", in: directory) }
    /// The directory of patient credentials.
    public var credentialDirectory: String { PrivateFiles.path("patients", in: directory) }
    /// The doctor's SQLite database (security store and audit log).
    public var databasePath: String { PrivateFiles.path("doctor.sqlite", in: directory) }
    /// One enrolled patient's public-key file.
    public func registryPath(_ id: PeerID) -> String { PrivateFiles.path("\(id.value).json", in: registryDirectory) }
    /// One patient's credential file.
    public func credentialPath(_ id: PeerID) -> String { PrivateFiles.path("\(id.value).json", in: credentialDirectory) }

    /// True when a doctor key file exists.
    public var hasDoctor: Bool { FileManager.default.fileExists(atPath: doctorKeyPath) }

    /// What in the state directory shows that a doctor has run here: the security store
    /// (`doctor.sqlite`), legacy registry files, legacy credentials. Next to a missing
    /// `doctor.json` these mean the key was lost, and ``createDoctor(id:group:using:)`` refuses
    /// to make a new one (``KeyStoreError/lostDoctorKey(path:found:)``).
    public var existingState: [String] {
        let files = FileManager.default
        var found: [String] = []
        if files.fileExists(atPath: databasePath) { found.append(databasePath) }
        for directory in [registryDirectory, credentialDirectory] {
            let names = (try? files.contentsOfDirectory(atPath: directory)) ?? []
            if names.contains(where: { $0.hasSuffix(".json") }) { found.append(directory) }
        }
        return found
    }

    // MARK: - Doctor

    /// Creates the doctor's key pair, only in a state directory that holds no doctor state yet:
    /// refuses to replace an existing key (``KeyStoreError/alreadyExists(path:)``) and to make
    /// a new one next to an existing registry or security store, whose patients pinned the lost
    /// key (``KeyStoreError/lostDoctorKey(path:found:)``).
    @discardableResult
    public func createDoctor(id: PeerID, group: TelemedGroup,
                             using rng: inout some CryptographicRandomNumberGenerator) throws(KeyStoreError) -> DoctorKeyMaterial {
        try PrivateFiles.makeDirectory(directory)
        if hasDoctor { throw .alreadyExists(path: doctorKeyPath) }
        let found = existingState
        guard found.isEmpty else { throw .lostDoctorKey(path: doctorKeyPath, found: found) }
        let key = PrivateKey(generatingIn: group, using: &rng)
        let file = DoctorKeyFile(format: DoctorKeyFile.tag, group: group.name, id: id.value,
                                 privateKey: BigInt.encodeHex(key.scalarBytes), publicKey: key.publicKey.hex)
        try write(file, to: doctorKeyPath)
        return DoctorKeyMaterial(group: group, identity: id, privateKey: key, registry: [:])
    }

    /// Loads the doctor's key pair and every enrolled patient.
    public func loadDoctor() throws(KeyStoreError) -> DoctorKeyMaterial {
        let path = doctorKeyPath
        let reader = KeyFileReader(path: path)
        let file = try reader.decode(DoctorKeyFile.self,
                                     from: PrivateFiles.read(path, hint: "run `doctor init` first"))
        try reader.field("format", file.format, is: DoctorKeyFile.tag)
        let group = try reader.namedGroup(file.group, expected: nil)
        let id = try reader.peerID(file.id, field: "id")
        let key = try reader.privateKey(file.privateKey, public: file.publicKey, in: group)
        return DoctorKeyMaterial(group: group, identity: id, privateKey: key, registry: try loadRegistry(group: group))
    }

    /// Reads every `registry/<id>.json`; each must be in `group` and named after its id.
    public func loadRegistry(group: TelemedGroup) throws(KeyStoreError) -> [PeerID: PublicKey] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: registryDirectory)) ?? []
        var registry: [PeerID: PublicKey] = [:]
        for name in names.sorted() where name.hasSuffix(".json") {
            let path = PrivateFiles.path(name, in: registryDirectory)
            let reader = KeyFileReader(path: path)
            let file = try reader.decode(EnrolledPatientFile.self, from: PrivateFiles.read(path, hint: "enroll the patient"))
            try reader.field("format", file.format, is: EnrolledPatientFile.tag)
            let fileGroup = try reader.namedGroup(file.group, expected: group)
            let id = try reader.peerID(file.id, field: "id")
            guard name == "\(id.value).json" else {
                throw .malformed(path: path, reason: "the file name does not match its id \(id)")
            }
            registry[id] = try reader.publicElement(file.publicKey, in: fileGroup, field: "publicKey")
        }
        return registry
    }

    // MARK: - Patients

    /// Loads a legacy credential `patients/<id>.json`.
    public func loadCredential(_ id: PeerID) throws(KeyStoreError) -> PatientCredential {
        let path = credentialPath(id)
        let reader = KeyFileReader(path: path)
        let file = try reader.decode(CredentialFile.self,
                                     from: PrivateFiles.read(path, hint: "make a device key with `patient init \(id)`"))
        try reader.field("format", file.format, is: CredentialFile.tag)
        let group = try reader.namedGroup(file.group, expected: nil)
        let fileID = try reader.peerID(file.id, field: "id")
        guard fileID == id else { throw .malformed(path: path, reason: "the credential is for \(fileID), not \(id)") }
        let key = try reader.privateKey(file.privateKey, public: file.publicKey, in: group)
        let doctorID = try reader.peerID(file.doctorID, field: "doctorID")
        let doctorKey = try reader.publicElement(file.doctorPublicKey, in: group, field: "doctorPublicKey")
        guard !file.doctorHost.isEmpty, (1...65_535).contains(file.doctorPort) else {
            throw .malformed(path: path, reason: "doctorHost/doctorPort is not an address")
        }
        return PatientCredential(identity: id, privateKey: key, doctorID: doctorID, doctorKey: doctorKey,
                                 host: file.doctorHost, port: file.doctorPort)
    }

    // MARK: - Writing

    private func write(_ value: some Encodable, to path: String, overwrite: Bool = false) throws(KeyStoreError) {
        let data: Data
        do {
            data = try JSONEncoder.keyFile.encode(value)
        } catch {
            throw .writeFailed(path: path, reason: "cannot encode")
        }
        try PrivateFiles.write(Array(data) + [0x0a], to: path, overwrite: overwrite)
    }
}
