import Foundation
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol

/// Writes what the removed `doctor enroll <id>` wrote into the doctor's state directory (a
/// registry entry `registry/<id>.json` and a credential `patients/<id>.json` holding the
/// patient's private key, both 0600 in 0700 directories), which ``KeyStore/loadRegistry(group:)``
/// (the security store's one-time legacy import) and ``KeyStore/loadCredential(_:)`` (a device
/// set up that way) still read. Returns the credential.
@discardableResult
func writeLegacyEnrollment(_ name: String, doctor: DoctorKeyMaterial, port: Int, in keys: KeyStore,
                           using rng: inout SeededRandom) throws -> PatientCredential {
    let id = try PeerID(name)
    let key = PrivateKey(generatingIn: doctor.group, using: &rng)
    let registry = #"{"format":"telemed-enrolled-patient-v1","group":"\#(doctor.group.name)","id":"\#(name)","#
        + #""publicKey":"\#(key.publicKey.hex)"}"#
    let credential = #"{"format":"telemed-patient-credential-v1","group":"\#(doctor.group.name)","id":"\#(name)","#
        + #""privateKey":"\#(BigInt.encodeHex(key.scalarBytes))","publicKey":"\#(key.publicKey.hex)","#
        + #""doctorID":"\#(doctor.identity)","doctorPublicKey":"\#(doctor.privateKey.publicKey.hex)","#
        + #""doctorHost":"127.0.0.1","doctorPort":\#(port)}"#
    for (directory, path, text) in [(keys.registryDirectory, keys.registryPath(id), registry),
                                    (keys.credentialDirectory, keys.credentialPath(id), credential)] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
    return PatientCredential(identity: id, privateKey: key, doctorID: doctor.identity,
                             doctorKey: doctor.privateKey.publicKey, host: "127.0.0.1", port: port)
}
