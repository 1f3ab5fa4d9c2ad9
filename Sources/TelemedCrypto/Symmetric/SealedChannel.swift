import Crypto

/// AES-256-GCM with the protocol's counter nonces: nonce = 0x00000000 ‖ u64be(seq); output
/// ciphertext ‖ 16-byte tag (PROTOCOL.md §4 "Nonces and sequence numbers").
///
/// Internal: only ``SealingKey`` (which owns the counter, so a seq is never used twice) and
/// ``OpeningKey`` (which owns the last accepted seq) call it.
package enum SealedChannel {
    /// The length of the GCM tag appended to every ciphertext.
    static let tagLength = 16

    /// The 12 nonce bytes for `seq`.
    package static func nonceBytes(seq: UInt64) -> [UInt8] {
        [0, 0, 0, 0] + LPWriter.u64(seq)
    }

    /// Encrypts and authenticates `plaintext` with `aad`; returns ciphertext ‖ tag.
    static func seal(_ plaintext: [UInt8], key: SymmetricKey, seq: UInt64, aad: [UInt8]) -> [UInt8] {
        GCMCore.seal(plaintext, key: key, nonce: nonceBytes(seq: seq), aad: aad)
    }

    /// Checks and decrypts ciphertext ‖ tag. Any failure (short input, wrong key, nonce, AAD,
    /// or a flipped bit anywhere) is ``CryptoError/authenticationFailure``; no partial
    /// plaintext is ever returned.
    static func open(
        _ ciphertextAndTag: [UInt8], key: SymmetricKey, seq: UInt64, aad: [UInt8]
    ) throws(CryptoError) -> [UInt8] {
        try GCMCore.open(ciphertextAndTag, key: key, nonce: nonceBytes(seq: seq), aad: aad)
    }
}

/// The one place that calls swift-crypto's AES.GCM; shared by ``SealedChannel`` and the
/// known-answer layer (which passes arbitrary 12-byte nonces).
///
/// Inputs go to swift-crypto as `[UInt8]` (it accepts any byte collection) and its outputs are
/// copied straight into `[UInt8]`, so this module names no Foundation type and imports no
/// Foundation.
enum GCMCore {
    static func seal(_ plaintext: [UInt8], key: SymmetricKey, nonce: [UInt8], aad: [UInt8]) -> [UInt8] {
        do {
            let box = try AES.GCM.seal(
                plaintext, using: key, nonce: try AES.GCM.Nonce(data: nonce), authenticating: aad)
            return Array(box.ciphertext) + Array(box.tag)
        } catch {
            preconditionFailure("AES-GCM refused a 32-byte key and a 12-byte nonce")
        }
    }

    static func open(
        _ ciphertextAndTag: [UInt8], key: SymmetricKey, nonce: [UInt8], aad: [UInt8]
    ) throws(CryptoError) -> [UInt8] {
        let tagLength = SealedChannel.tagLength
        guard ciphertextAndTag.count >= tagLength else { throw .authenticationFailure }
        let split = ciphertextAndTag.count - tagLength
        do {
            let box = try AES.GCM.SealedBox(
                nonce: try AES.GCM.Nonce(data: nonce),
                ciphertext: Array(ciphertextAndTag[..<split]),
                tag: Array(ciphertextAndTag[split...]))
            return Array(try AES.GCM.open(box, using: key, authenticating: aad))
        } catch {
            throw .authenticationFailure
        }
    }
}
