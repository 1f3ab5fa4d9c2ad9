// Version 2's Diffie–Hellman ephemerals (PROTOCOL.md §8.4): a (patient) and b (doctor).
//
// Theory of operation: an ephemeral is drawn like a signature nonce, hedged. The drawer runs
// §4's RFC 6979 generator (steps b–h, the first candidate in [1, q − 1], no further condition)
// over its own private scalar x, a digest h of the message context (h_a or h_b, built by the
// protocol layer) and 32 fresh bytes k'. With a working CSPRNG the result is uniform; with a
// failed one (a restored snapshot, a fork without reseeding) it is still distinct for distinct
// contexts and unknown to anyone without x.
//
// The share g^a is computed with the constant-time path (comb with masked scans, or
// mpz_powm_sec under the reference strategy); so is Z = B^a (mpz_powm_sec). The scalar lives in
// a `BigInt`, whose limbs GMP's wiping allocator zeroes when the last copy is dropped; the
// type never prints, mirrors or compares it, and has no accessor for it, so "erasing" an
// ephemeral is dropping the value (R-FS).

import Crypto
@_spi(Testing) import TelemedBigInt

/// Why a received Diffie–Hellman share failed the element check (audited by the doctor,
/// PROTOCOL.md §8.7: "which test failed").
public enum ElementDefect: String, Sendable, Equatable {
    /// Not in 1 < z < p − 1 (0, 1, p − 1, p and above).
    case range
    /// In range, but z^q ≢ 1 (mod p): not in the order-q subgroup.
    case subgroup
}

/// A received Diffie–Hellman share (dh_i = A or dh_gwn = B) that passed R-ELEM: exactly L
/// bytes, 1 < z < p − 1 and z^q ≡ 1 (mod p). Only such a share reaches a secret exponent.
public struct DiffieHellmanShare: Sendable, Hashable {
    /// The share's group.
    public let group: TelemedGroup
    /// The share as an integer.
    public let value: BigInt

    /// Decodes exactly L bytes and runs the full element check (the range, then z^q ≡ 1; no
    /// shortcut: a share is independent of every value checked before it).
    ///
    /// - Throws: ``CryptoError/wrongLength(expected:actual:)`` or ``CryptoError/invalidElement``;
    ///   ``defect(of:in:)`` says which half of the check failed.
    public init(group: TelemedGroup, bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == group.elementLength else {
            throw .wrongLength(expected: group.elementLength, actual: bytes.count)
        }
        let z = BigInt(bigEndian: bytes)
        guard Self.defect(ofValue: z, in: group) == nil else { throw .invalidElement }
        self.group = group
        self.value = z
    }

    /// Which half of the element check `bytes` fails (nil when it is a valid share). A wrong
    /// length counts as ``ElementDefect/range``.
    public static func defect(of bytes: [UInt8], in group: TelemedGroup) -> ElementDefect? {
        guard bytes.count == group.elementLength else { return .range }
        return defect(ofValue: BigInt(bigEndian: bytes), in: group)
    }

    private static func defect(ofValue z: BigInt, in group: TelemedGroup) -> ElementDefect? {
        guard z > .one, z < group.p - .one else { return .range }
        guard z.powMod(group.q, group.p) == .one else { return .subgroup }
        return nil
    }

    /// The share as L bytes.
    public var bytes: [UInt8] { group.encodeElement(value) }
}

/// One handshake's Diffie–Hellman ephemeral (a or b) with its public share g^a. Redacted;
/// drop it to erase it (see the file comment).
public struct EphemeralKey: Sendable {
    /// The ephemeral's group.
    public let group: TelemedGroup
    private let scalar: BigInt
    /// The public share g^a mod p.
    public let share: BigInt

    init(group: TelemedGroup, scalar: BigInt) {
        precondition(scalar.signum > 0 && scalar < group.q, "an ephemeral is in [1, q − 1]")
        self.group = group
        self.scalar = scalar
        self.share = group.generatorPowerSecure(scalar)
    }

    /// The share as L bytes (dh_i or dh_gwn on the wire).
    public var shareBytes: [UInt8] { group.encodeElement(share) }

    /// The scalar as 32 bytes. `Testing` SPI for the simulator's insider check of R-FS (it
    /// rebuilds each run's a and b from the randomness it supplied, to prove that none of them
    /// reaches a trace, log or store); production code has no way to read it.
    @_spi(Testing) public var scalarBytes: [UInt8] { group.encodeScalar(scalar) }

    /// Z = peer^a mod p, constant-time in a. The peer share passed R-ELEM and a ∈ [1, q − 1],
    /// so Z is an element of order q and needs no check of its own (§8.4).
    public func sharedSecret(with peer: DiffieHellmanShare) -> ElementSecret {
        precondition(peer.group == group, "the shares must be in one group")
        return ElementSecret(peer.value.powModSecure(scalar, group.p), in: group)
    }
}

extension PrivateKey {
    /// Draws a v2 ephemeral (§8.4): the first RFC 6979 candidate for this key's x, the
    /// context digest `context` (h_a or h_b) and 32 fresh bytes from `rng` as k'.
    public func hedgedEphemeral(context: Bytes32, using rng: inout some CryptographicRandomNumberGenerator) -> EphemeralKey {
        var extra = rng.bytes(32)
        defer { SecureMemory.wipe(&extra) }
        return hedgedEphemeral(context: context, extraEntropy: extra)
    }

    /// The same with an explicit k' (the worked example, known-answer tests). `Testing` SPI:
    /// production draws k' itself through ``hedgedEphemeral(context:using:)``.
    @_spi(Testing) public func hedgedEphemeral(context: Bytes32, extraEntropy: [UInt8]) -> EphemeralKey {
        var nonces = RFC6979NonceGenerator(q: group.q, x: secretScalar, h1: context.bytes, extraEntropy: extraEntropy)
        return EphemeralKey(group: group, scalar: nonces.next())
    }
}

/// A secret group element as L bytes: K, K_GWN and Z of a handshake (PROTOCOL.md §8.4).
///
/// Held in swift-crypto's `SymmetricKey` (zeroed on free, constant-time `==`), redacted in
/// descriptions and mirrors; the key schedule streams it into the SK hash and nowhere else.
public struct ElementSecret: Sendable, Equatable {
    let key: SymmetricKey

    /// Encodes `element` as L bytes into key storage; the intermediate byte copy is wiped.
    package init(_ element: BigInt, in group: TelemedGroup) {
        var bytes = group.encodeElement(element)
        defer { SecureMemory.wipe(&bytes) }
        self.key = SymmetricKey(data: bytes)
    }

    /// Compares in constant time (swift-crypto's `SymmetricKey ==`).
    public static func == (lhs: ElementSecret, rhs: ElementSecret) -> Bool { lhs.key == rhs.key }

    /// The raw bytes, for the package's own tests and the simulator's secret scanner (R-NOLEAK).
    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try key.withUnsafeBytes(body)
    }
}

extension EphemeralKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Names the group only.
    public var description: String { "EphemeralKey(group: \(group.name), scalar: <redacted>)" }
    /// Same as ``description``.
    public var debugDescription: String { description }
    /// A mirror without the scalar.
    public var customMirror: Mirror { Mirror(self, children: ["group": group.name], displayStyle: .struct) }
}

extension ElementSecret: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Never shows key material.
    public var description: String { "ElementSecret(<redacted>)" }
    /// Never shows key material.
    public var debugDescription: String { description }
    /// An empty mirror, so `dump` and reflection show no bytes.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
