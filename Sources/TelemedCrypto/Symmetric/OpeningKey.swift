import Crypto

/// An AES-256-GCM key for one receiving direction that owns the last accepted seq: it opens
/// only a seq strictly above the last one it accepted, and advances only when a ciphertext
/// opens (PROTOCOL.md §4 "Nonces and sequence numbers"). A replay or a reordering is refused
/// before any decryption; a failed open changes nothing.
///
/// The machines build one per key and direction: the doctor's k_p2d (DEC_MSG, DISCONNECT), the
/// patient's k_d2p (GROUP_KEY, DISCONNECT) and the patient's GK_e (broadcasts of one epoch).
public struct OpeningKey: Sendable {
    private let key: SymmetricKey
    /// The last seq that opened, nil before the first.
    public private(set) var lastAcceptedSeq: UInt64?

    /// The receiving side of a traffic key.
    package init(_ key: TrafficKey) { self.key = key.key }

    /// The receiving side of a group key (broadcasts).
    package init(_ key: GroupKey) { self.key = key.key }

    /// True when `seq` is above the last accepted one (so ``open(_:seq:aad:)`` would try it).
    public func admits(_ seq: UInt64) -> Bool {
        guard let last = lastAcceptedSeq else { return true }
        return seq > last
    }

    /// Checks the seq, then checks and decrypts ciphertext ‖ tag; on success the seq becomes the
    /// last accepted one. No partial plaintext is ever returned.
    public mutating func open(_ ciphertextAndTag: [UInt8], seq: UInt64, aad: [UInt8]) throws(OpeningError) -> [UInt8] {
        guard admits(seq) else { throw .sequenceNotAbove(last: lastAcceptedSeq ?? 0) }
        let plaintext: [UInt8]
        do {
            plaintext = try SealedChannel.open(ciphertextAndTag, key: key, seq: seq, aad: aad)
        } catch {
            throw .authenticationFailure
        }
        lastAcceptedSeq = seq
        return plaintext
    }

    /// ``open(_:seq:aad:)`` for a GROUP_KEY body: the plaintext must be 32 bytes and becomes a
    /// ``GroupKey``; the plaintext copy is wiped. A wrong length is an authentication failure
    /// and leaves the last accepted seq as it was.
    package mutating func openGroupKey(_ ciphertextAndTag: [UInt8], seq: UInt64, aad: [UInt8]) throws(OpeningError) -> GroupKey {
        var trial = self
        var plaintext = try trial.open(ciphertextAndTag, seq: seq, aad: aad)
        defer { SecureMemory.wipe(&plaintext) }
        guard let key = try? GroupKey(opened: plaintext) else { throw .authenticationFailure }
        self = trial
        return key
    }
}

extension OpeningKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The last accepted seq, never key material.
    public var description: String {
        "OpeningKey(<redacted>, last accepted seq \(lastAcceptedSeq.map(String.init) ?? "none"))"
    }
    /// The last accepted seq, never key material.
    public var debugDescription: String { description }
    /// Only the last accepted seq, so `dump` and reflection show no key bytes.
    public var customMirror: Mirror {
        Mirror(self, children: ["lastAcceptedSeq": lastAcceptedSeq as Any], displayStyle: .struct)
    }
}

/// Why an ``OpeningKey`` refused a ciphertext. Cases never carry key material or plaintext.
public enum OpeningError: Error, Equatable, Sendable {
    /// The seq is not above the last accepted one (a replay or a reordering); nothing was decrypted.
    case sequenceNotAbove(last: UInt64)
    /// AES-GCM refused the ciphertext (wrong key, seq, AAD, tag, or truncated), or a GROUP_KEY
    /// body was not 32 bytes.
    case authenticationFailure
}
