// RFC 6979 §3.2 deterministic nonces with HMAC-SHA-256, with the §3.6 variant: extra
// entropy k' appended to the two seeding HMAC inputs of steps d and f.
//
// Theory of operation: `init` runs steps a–g (K and V seeded from x, h1 and k'). Each call to
// `next()` runs step h once: it produces the next candidate k in [1, q−1]; before every
// candidate after the first it applies step h.3's update K = HMAC_K(V ‖ 0x00), V = HMAC_K(V).
// A signer that gets r' = 0 or s = 0 simply calls `next()` again (PROTOCOL.md §4).
//
// qlen is q's bit length and rlen = ⌈qlen/8⌉; for the protocol's groups qlen = 256 = hlen, so
// bits2int(h1) = int(h1). The general qlen lets the DSA vectors of RFC 6979 A.2 be checked.
//
// Zeroization: K and V live in swift-crypto `SymmetricKey`s (zeroed when freed, so every
// superseded K and V is wiped as it is replaced); the seeding input is streamed into the HMAC,
// and the byte copies of x and of each candidate's bits are wiped after use.

import Crypto

/// The RFC 6979 nonce sequence for one (q, x, h1, k').
struct RFC6979NonceGenerator {
    private let q: BigInt
    private let qlen: Int
    /// K.
    private var key: SymmetricKey
    /// V.
    private var value: SymmetricKey
    private var started = false

    /// Steps a–g. `h1` is the message hash (any length), `extraEntropy` is k' (may be empty).
    init(q: BigInt, x: BigInt, h1: [UInt8], extraEntropy: [UInt8]) {
        precondition(q > BigInt(1), "RFC 6979 needs q > 1")
        precondition(x.signum > 0 && x < q, "RFC 6979 needs 0 < x < q")
        self.q = q
        self.qlen = q.bitWidth
        let rlen = (qlen + 7) / 8
        var xOctets = FixedWidth.encode(x, width: rlen)
        defer { SecureMemory.wipe(&xOctets) }
        let hOctets = FixedWidth.encode(
            RFC6979NonceGenerator.bits2int(h1, qlen: qlen).modulo(q), width: rlen)
        var value = SymmetricKey(data: [UInt8](repeating: 0x01, count: 32))
        var key = SymmetricKey(data: [UInt8](repeating: 0x00, count: 32))
        key = Self.hmac(key, value, [0x00], xOctets, hOctets, extraEntropy)
        value = Self.hmac(key, value)
        key = Self.hmac(key, value, [0x01], xOctets, hOctets, extraEntropy)
        value = Self.hmac(key, value)
        self.key = key
        self.value = value
    }

    /// Step h: the next candidate k, 1 ≤ k ≤ q − 1.
    mutating func next() -> BigInt {
        if started { advance() }
        started = true
        while true {
            var t: [UInt8] = []
            t.reserveCapacity((qlen + 255) / 256 * 32)
            while t.count * 8 < qlen {
                value = Self.hmac(key, value)
                value.withUnsafeBytes { t += $0 }
            }
            let k = RFC6979NonceGenerator.bits2int(t, qlen: qlen)
            SecureMemory.wipe(&t)
            if k.signum > 0 && k < q { return k }
            advance()
        }
    }

    /// K = HMAC_K(V ‖ 0x00); V = HMAC_K(V).
    private mutating func advance() {
        key = Self.hmac(key, value, [0x00])
        value = Self.hmac(key, value)
    }

    /// The leftmost qlen bits of `bytes` as an integer (RFC 6979 §2.3.2).
    static func bits2int(_ bytes: [UInt8], qlen: Int) -> BigInt {
        let value = BigInt(bigEndian: bytes)
        let blen = bytes.count * 8
        return blen > qlen ? value.shiftedRight(blen - qlen) : value
    }

    /// HMAC_K(V ‖ tail…), streamed so that no concatenated copy of the secret input exists.
    private static func hmac(_ key: SymmetricKey, _ value: SymmetricKey, _ tail: [UInt8]...) -> SymmetricKey {
        var mac = HMAC<SHA256>(key: key)
        value.withUnsafeBytes { mac.update(data: $0) }
        for part in tail { mac.update(data: part) }
        return SymmetricKey(data: mac.finalize())
    }
}
