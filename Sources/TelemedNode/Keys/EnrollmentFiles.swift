import Foundation
import TelemedCrypto
import TelemedProtocol

// MARK: - File formats of device-generated enrollment
//
// A patient's device makes its own key pair (`patient init`) and hands the doctor only an
// enrollment request; the doctor answers with a card (its id, public key and address) that the
// device pins (`patient pin`). Neither the request nor the card holds a secret; both carry the
// fingerprint of their key so that a person can compare it out of band and a tool can check it.

/// `<device dir>/<id>.key.json`: the patient's device key pair (mode 0600; never leaves the device).
struct DeviceKeyFile: Codable {
    static let tag = "telemed-patient-device-key-v1"
    var format: String
    var group: String
    var id: String
    var privateKey: String
    var publicKey: String
    /// The one protocol version the device speaks (1 or 2). Absent in files written before the
    /// field existed, which are read as 2: `patient` spoke version 2 by default already then.
    var protocolVersion: Int?
}

/// `<device dir>/<id>.request.json`: what the device gives the doctor (no secret).
struct EnrollmentRequestFile: Codable {
    static let tag = "telemed-enrollment-request-v1"
    var format: String
    var id: String
    var group: String
    var publicKey: String
    var fingerprint: String
}

/// `doctor-card.json` and `<device dir>/pinned-doctor.json`: the doctor's identity and address
/// (no secret).
struct DoctorCardFile: Codable {
    static let tag = "telemed-doctor-card-v1"
    var format: String
    var doctorID: String
    var group: String
    var publicKey: String
    var fingerprint: String
    var host: String
    var port: Int
}

/// The largest request or card file read (a real one is under 1.5 KiB).
let maximumPublicFileBytes = 64 * 1024

// MARK: - EnrollmentRequest

/// A patient's request to be enrolled: its id and the public key its device generated, with
/// the key's fingerprint. Written by `patient init`, checked and registered by
/// `doctor enroll --request` (or the running doctor's console `enroll`).
///
/// File (`<id>.request.json`, format `telemed-enrollment-request-v1`):
///
/// ```json
/// { "format": "telemed-enrollment-request-v1", "id": "carol", "group": "telemed-2048-256",
///   "publicKey": "<L bytes, hex>", "fingerprint": "<64 hex digits>" }
/// ```
public struct EnrollmentRequest: Sendable, Equatable {
    /// The patient's id.
    public let identity: PeerID
    /// The public key the device generated.
    public let publicKey: PublicKey

    /// The key's group.
    public var group: TelemedGroup { publicKey.group }
    /// The key's fingerprint, for out-of-band comparison.
    public var fingerprint: KeyFingerprint { publicKey.fingerprint }

    /// A request for `identity` with `publicKey`.
    public init(identity: PeerID, publicKey: PublicKey) {
        self.identity = identity
        self.publicKey = publicKey
    }

    /// Reads and checks a request file: its JSON shape and format tag, the group (equal to
    /// `group` when given), the id's syntax, that the public key is an element of the group's
    /// order-q subgroup, and that the stated fingerprint is the key's.
    ///
    /// - Throws: ``KeyStoreError`` naming the file and, for a bad value, the field.
    public static func read(from path: String, group: TelemedGroup? = nil) throws(KeyStoreError) -> EnrollmentRequest {
        let reader = KeyFileReader(path: path)
        let data = try PrivateFiles.readBounded(path, limit: maximumPublicFileBytes,
                                                hint: "it is written by `patient init` on the patient's device")
        let file = try reader.decode(EnrollmentRequestFile.self, from: data)
        if file.format == DeviceKeyFile.tag {
            throw .invalidField(path: path, field: "format",
                                reason: "this is a device key file, which holds the patient's private key: "
                                    + "it must stay on the device; use <id>.request.json instead")
        }
        try reader.field("format", file.format, is: EnrollmentRequestFile.tag)
        let fileGroup = try reader.namedGroup(file.group, expected: group)
        let id = try reader.peerID(file.id, field: "id")
        let key = try reader.publicElement(file.publicKey, in: fileGroup, field: "publicKey")
        try reader.fingerprint(file.fingerprint, of: key, field: "fingerprint")
        return EnrollmentRequest(identity: id, publicKey: key)
    }

    /// Writes the request file (mode 0600, atomically); replaces an existing one only when
    /// `overwrite`.
    public func write(to path: String, overwrite: Bool = false) throws(KeyStoreError) {
        let file = EnrollmentRequestFile(format: EnrollmentRequestFile.tag, id: identity.value, group: group.name,
                                         publicKey: publicKey.hex, fingerprint: fingerprint.hex)
        try PrivateFiles.writeJSON(file, to: path, overwrite: overwrite)
    }
}

// MARK: - DoctorCard

/// What a patient's device pins: the doctor's id, public key (with its fingerprint) and the
/// address it listens on. Written by `doctor enroll --request` (`doctor-card.json`), checked
/// and stored by `patient pin`.
///
/// File (format `telemed-doctor-card-v1`):
///
/// ```json
/// { "format": "telemed-doctor-card-v1", "doctorID": "doctor", "group": "telemed-2048-256",
///   "publicKey": "<L bytes, hex>", "fingerprint": "<64 hex digits>",
///   "host": "192.0.2.10", "port": 8000 }
/// ```
public struct DoctorCard: Sendable, Equatable {
    /// ID_GWN.
    public let identity: PeerID
    /// The doctor's public key.
    public let publicKey: PublicKey
    /// Where the doctor listens: an IP address or a host name.
    public let host: String
    /// The doctor's TCP port.
    public let port: Int

    /// The doctor's group.
    public var group: TelemedGroup { publicKey.group }
    /// The doctor key's fingerprint, for out-of-band comparison.
    public var fingerprint: KeyFingerprint { publicKey.fingerprint }

    /// A card for the doctor `identity` with `publicKey` listening at `host`:`port`.
    ///
    /// - Throws: ``KeyStoreError/invalidField(path:field:reason:)`` (path `"card"`) for an empty
    ///   host or a port outside 1...65535.
    public init(identity: PeerID, publicKey: PublicKey, host: String, port: Int) throws(KeyStoreError) {
        guard Self.isHost(host) else {
            throw .invalidField(path: "doctor card", field: "host", reason: "is not a host name or address")
        }
        guard (1...65_535).contains(port) else {
            throw .invalidField(path: "doctor card", field: "port", reason: "\(port) is outside 1...65535")
        }
        self.identity = identity
        self.publicKey = publicKey
        self.host = host
        self.port = port
    }

    /// A host is 1–253 printable ASCII characters without spaces (a name, an IPv4 or IPv6 text).
    static func isHost(_ text: String) -> Bool {
        (1...253).contains(text.utf8.count) && text.utf8.allSatisfy { (0x21...0x7e).contains($0) }
    }

    /// Reads and checks a card file: its JSON shape and format tag, the group (equal to `group`
    /// when given), the doctor id's syntax, the key (an element of the order-q subgroup), that
    /// the stated fingerprint is the key's, and the address.
    ///
    /// - Throws: ``KeyStoreError`` naming the file and, for a bad value, the field.
    public static func read(from path: String, group: TelemedGroup? = nil) throws(KeyStoreError) -> DoctorCard {
        let reader = KeyFileReader(path: path)
        let data = try PrivateFiles.readBounded(path, limit: maximumPublicFileBytes,
                                                hint: "it is written by `doctor enroll --request`")
        let file = try reader.decode(DoctorCardFile.self, from: data)
        try reader.field("format", file.format, is: DoctorCardFile.tag)
        let fileGroup = try reader.namedGroup(file.group, expected: group)
        let id = try reader.peerID(file.doctorID, field: "doctorID")
        let key = try reader.publicElement(file.publicKey, in: fileGroup, field: "publicKey")
        try reader.fingerprint(file.fingerprint, of: key, field: "fingerprint")
        guard isHost(file.host) else {
            throw .invalidField(path: path, field: "host", reason: "is not a host name or address")
        }
        guard (1...65_535).contains(file.port) else {
            throw .invalidField(path: path, field: "port", reason: "\(file.port) is outside 1...65535")
        }
        return try DoctorCard(identity: id, publicKey: key, host: file.host, port: file.port)
    }

    /// Writes the card file (mode 0600, atomically); replaces an existing one only when
    /// `overwrite`.
    public func write(to path: String, overwrite: Bool = false) throws(KeyStoreError) {
        let file = DoctorCardFile(format: DoctorCardFile.tag, doctorID: identity.value, group: group.name,
                                  publicKey: publicKey.hex, fingerprint: fingerprint.hex, host: host, port: port)
        try PrivateFiles.writeJSON(file, to: path, overwrite: overwrite)
    }
}

// MARK: - Field checks naming the field

extension KeyFileReader {
    func field(_ name: String, _ found: String, is expected: String) throws(KeyStoreError) {
        guard found == expected else {
            throw .invalidField(path: path, field: name, reason: "is \"\(found.prefix(64))\", expected \"\(expected)\"")
        }
    }

    /// A known group's name, equal to `expected` when given.
    func namedGroup(_ name: String, expected: TelemedGroup?) throws(KeyStoreError) -> TelemedGroup {
        let group: TelemedGroup
        do {
            group = try TelemedGroup.named(name)
        } catch {
            throw .invalidField(path: path, field: "group",
                                reason: "\"\(name.prefix(64))\" is not a known group (telemed-2048-256 or telemed-3072-256)")
        }
        if let expected, group.name != expected.name {
            throw .wrongGroup(path: path, expected: expected.name, found: group.name)
        }
        return group
    }

    func peerID(_ text: String, field: String) throws(KeyStoreError) -> PeerID {
        do {
            return try PeerID(text)
        } catch {
            throw .invalidField(path: path, field: field,
                                reason: "\"\(text.prefix(80))\" is not a valid id (1 to 64 characters of A-Z a-z 0-9 . _ -)")
        }
    }

    /// A public key as hex: exactly L bytes, an element of the group's order-q subgroup.
    func publicElement(_ hex: String, in group: TelemedGroup, field: String) throws(KeyStoreError) -> PublicKey {
        let bytes: [UInt8]
        do {
            bytes = try BigInt.decodeHex(hex)
        } catch {
            throw .invalidField(path: path, field: field, reason: "is not hexadecimal of even length")
        }
        do {
            return try PublicKey(group: group, bytes: bytes)
        } catch .wrongLength(let expected, let actual) {
            throw .invalidField(path: path, field: field,
                                reason: "has \(actual) bytes; a key of \(group.name) has \(expected)")
        } catch {
            throw .invalidField(path: path, field: field,
                                reason: "is not an element of the order-q subgroup of \(group.name)")
        }
    }

    /// Checks a stated fingerprint (64 hex digits, or the spaced form) against the key's.
    func fingerprint(_ text: String, of key: PublicKey, field: String) throws(KeyStoreError) {
        let stated: KeyFingerprint
        do {
            stated = try KeyFingerprint(text: text)
        } catch {
            throw .invalidField(path: path, field: field, reason: "is not a fingerprint (64 hexadecimal digits)")
        }
        guard stated.matches(key) else {
            throw .invalidField(path: path, field: field,
                                reason: "does not match publicKey (whose fingerprint is \(key.fingerprint)): "
                                    + "the file was altered or assembled from two keys")
        }
    }
}

// MARK: - Bounded reading and JSON writing

extension PrivateFiles {
    /// Reads a whole file of at most `limit` bytes (a file a peer or a person hands over).
    static func readBounded(_ path: String, limit: Int, hint: String) throws(KeyStoreError) -> Data {
        guard FileManager.default.fileExists(atPath: path) else { throw .missing(path: path, hint: hint) }
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > limit {
            throw .malformed(path: path, reason: "larger than \(limit / 1024) KiB: not a request or card file")
        }
        let data = try read(path, hint: hint)
        guard data.count <= limit else {
            throw .malformed(path: path, reason: "larger than \(limit / 1024) KiB: not a request or card file")
        }
        return data
    }

    /// Encodes `value` as pretty JSON with sorted keys and writes it (mode 0600, atomically).
    static func writeJSON(_ value: some Encodable, to path: String, overwrite: Bool) throws(KeyStoreError) {
        let data: Data
        do {
            data = try JSONEncoder.keyFile.encode(value)
        } catch {
            throw .writeFailed(path: path, reason: "cannot encode")
        }
        try write(Array(data) + [0x0a], to: path, overwrite: overwrite)
    }
}

// MARK: - Refusals named by file and field

extension EnrollmentRequest {
    /// A registry refusal of the request read from `path` (by the security store or the
    /// doctor's machine), as an error naming the file and the field at fault: `id` for an id
    /// already enrolled, `publicKey` for a key that is retired, in use or unchanged, `group` for
    /// a key of another group. Other cases keep the registry's wording under the field `id`.
    public static func refusal(_ error: RegistryError, path: String) -> KeyStoreError {
        switch error {
        case let .alreadyEnrolled(id):
            return .invalidField(path: path, field: "id",
                                 reason: "\(id) is already enrolled (--replace gives it this key; or revoke it first)")
        case let .keyUnchanged(id):
            return .invalidField(path: path, field: "publicKey", reason: "is the key \(id) has already; nothing to replace")
        case let .keyRetired(fingerprint):
            return .invalidField(path: path, field: "publicKey",
                                 reason: "\(fingerprint) was revoked or replaced before and is never enrolled again; "
                                     + "the device must make a new key")
        case let .keyInUse(fingerprint, by: id):
            return .invalidField(path: path, field: "publicKey", reason: "\(fingerprint) is enrolled for \(id) already")
        case let .wrongGroup(expected, found):
            return .wrongGroup(path: path, expected: expected, found: String(found.prefix(64)))
        case .notEnrolled, .alreadyRevoked:
            return .invalidField(path: path, field: "id", reason: "\(error)")
        }
    }
}
