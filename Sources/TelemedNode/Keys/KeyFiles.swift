import Foundation
import TelemedCrypto
import TelemedProtocol

// MARK: - File formats
//
// Every key file is one JSON object with a `format` tag, the group name, ids, and keys as
// lowercase hex (public keys: L bytes, private scalars: 32 bytes). Files holding a private key
// are mode 0600 like every file of the state directory.

/// `doctor.json`: the doctor's key pair.
struct DoctorKeyFile: Codable {
    static let tag = "telemed-doctor-key-v1"
    var format: String
    var group: String
    var id: String
    var privateKey: String
    var publicKey: String
}

/// `registry/<id>.json`: one enrolled patient's public key (no secret).
struct EnrolledPatientFile: Codable {
    static let tag = "telemed-enrolled-patient-v1"
    var format: String
    var group: String
    var id: String
    var publicKey: String
}

/// `patients/<id>.json`: a patient's credential (its key pair, the pinned doctor, the address).
struct CredentialFile: Codable {
    static let tag = "telemed-patient-credential-v1"
    var format: String
    var group: String
    var id: String
    var privateKey: String
    var publicKey: String
    var doctorID: String
    var doctorPublicKey: String
    var doctorHost: String
    var doctorPort: Int
}

// MARK: - Decoding helpers

/// Turns a file's fields into keys, naming the file in every error.
struct KeyFileReader {
    let path: String

    func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(KeyStoreError) -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw .malformed(path: path, reason: Self.describe(error))
        } catch {
            throw .malformed(path: path, reason: "not JSON")
        }
    }

    /// Parses a private scalar and checks it against the stored public key. The error never
    /// repeats the value.
    func privateKey(_ hex: String, public publicHex: String, in group: TelemedGroup) throws(KeyStoreError) -> PrivateKey {
        let key: PrivateKey
        do {
            key = try PrivateKey(group: group, scalarBytes: BigInt.decodeHex(hex))
        } catch {
            throw .malformed(path: path, reason: "privateKey is not a 32-byte scalar in [1, q-1] of \(group.name)")
        }
        let stored = try publicElement(publicHex, in: group, field: "publicKey")
        guard key.publicKey == stored else {
            throw .malformed(path: path, reason: "publicKey does not belong to privateKey")
        }
        return key
    }

    static func describe(_ error: DecodingError) -> String {
        func at(_ path: [CodingKey]) -> String {
            path.isEmpty ? "top level" : path.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case let .keyNotFound(key, _): return "missing field \(key.stringValue)"
        case let .typeMismatch(_, context): return "wrong type at \(at(context.codingPath))"
        case let .valueNotFound(_, context): return "null at \(at(context.codingPath))"
        case .dataCorrupted: return "not valid JSON"
        @unknown default: return "not a key file"
        }
    }
}

extension JSONEncoder {
    /// Pretty, stable key order (files are read by people too).
    static var keyFile: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
