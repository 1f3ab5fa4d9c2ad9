import Crypto

/// An AES-256-GCM key for one sending direction that owns its sequence counter: each seal uses
/// the next seq (nonce = 0x00000000 ‖ u64be(seq), PROTOCOL.md §4) and says which one it used,
/// so no caller can seal twice under one nonce.
///
/// The machines build exactly one per key and direction: the doctor's k_d2p (GROUP_KEY and
/// DISCONNECT share its counter), the patient's k_p2d (DEC_MSG and DISCONNECT), and the
/// doctor's GK_e (broadcasts; a new epoch is a new key and starts again at 0). The key bytes
/// sit in swift-crypto's `SymmetricKey` (zeroed on free); descriptions show no bytes.
public struct SealingKey: Sendable {
    private let key: SymmetricKey
    /// The seq the next seal will use (0 for a fresh key).
    public private(set) var nextSeq: UInt64 = 0

    /// The sending side of a traffic key.
    package init(_ key: TrafficKey) { self.key = key.key }

    /// The broadcast side of a group key.
    package init(_ key: GroupKey) { self.key = key.key }

    /// Seals `plaintext` under the next seq; `aad` computes the associated data from that seq.
    /// Returns the seq used and ciphertext ‖ 16-byte tag.
    ///
    /// - Precondition: fewer than 2^64 − 1 seals under this key (a u64 counter cannot wrap).
    public mutating func seal(_ plaintext: [UInt8], aad: (_ seq: UInt64) -> [UInt8]) -> (seq: UInt64, ciphertext: [UInt8]) {
        let seq = takeSeq()
        return (seq, SealedChannel.seal(plaintext, key: key, seq: seq, aad: aad(seq)))
    }

    /// Seals the 32 bytes of `groupKey` (a GROUP_KEY body) under the next seq; the temporary
    /// plaintext copy is wiped afterwards.
    package mutating func seal(_ groupKey: GroupKey, aad: (_ seq: UInt64) -> [UInt8]) -> (seq: UInt64, ciphertext: [UInt8]) {
        var plaintext = groupKey.key.withUnsafeBytes { Array($0) }
        defer { SecureMemory.wipe(&plaintext) }
        return seal(plaintext, aad: aad)
    }

    private mutating func takeSeq() -> UInt64 {
        precondition(nextSeq < UInt64.max, "sequence numbers of this key are exhausted")
        defer { nextSeq += 1 }
        return nextSeq
    }
}

extension SealingKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The counter, never key material.
    public var description: String { "SealingKey(<redacted>, next seq \(nextSeq))" }
    /// The counter, never key material.
    public var debugDescription: String { description }
    /// Only the counter, so `dump` and reflection show no key bytes.
    public var customMirror: Mirror { Mirror(self, children: ["nextSeq": nextSeq], displayStyle: .struct) }
}
