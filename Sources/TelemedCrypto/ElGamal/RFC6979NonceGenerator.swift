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

/// The RFC 6979 nonce sequence for one (q, x, h1, k').
struct RFC6979NonceGenerator {
    private let q: BigInt
    private let qlen: Int
    private var key: [UInt8]
    private var value: [UInt8]
    private var started = false

    /// Steps a–g. `h1` is the message hash (any length), `extraEntropy` is k' (may be empty).
    init(q: BigInt, x: BigInt, h1: [UInt8], extraEntropy: [UInt8]) {
        precondition(q > BigInt(1), "RFC 6979 needs q > 1")
        precondition(x.signum > 0 && x < q, "RFC 6979 needs 0 < x < q")
        self.q = q
        self.qlen = q.bitWidth
        let rlen = (qlen + 7) / 8
        let xOctets = FixedWidth.encode(x, width: rlen)
        let hOctets = FixedWidth.encode(
            RFC6979NonceGenerator.bits2int(h1, qlen: qlen).modulo(q), width: rlen)
        value = [UInt8](repeating: 0x01, count: 32)
        key = [UInt8](repeating: 0x00, count: 32)
        key = hmac(key, value + [0x00] + xOctets + hOctets + extraEntropy)
        value = hmac(key, value)
        key = hmac(key, value + [0x01] + xOctets + hOctets + extraEntropy)
        value = hmac(key, value)
    }

    /// Step h: the next candidate k, 1 ≤ k ≤ q − 1.
    mutating func next() -> BigInt {
        if started { advance() }
        started = true
        while true {
            var t: [UInt8] = []
            while t.count * 8 < qlen {
                value = hmac(key, value)
                t += value
            }
            let k = RFC6979NonceGenerator.bits2int(t, qlen: qlen)
            if k.signum > 0 && k < q { return k }
            advance()
        }
    }

    /// K = HMAC_K(V ‖ 0x00); V = HMAC_K(V).
    private mutating func advance() {
        key = hmac(key, value + [0x00])
        value = hmac(key, value)
    }

    /// The leftmost qlen bits of `bytes` as an integer (RFC 6979 §2.3.2).
    static func bits2int(_ bytes: [UInt8], qlen: Int) -> BigInt {
        let value = BigInt(bigEndian: bytes)
        let blen = bytes.count * 8
        return blen > qlen ? value.shiftedRight(blen - qlen) : value
    }

    private func hmac(_ key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Hashing.hmacSHA256(key: key, message: message).bytes
    }
}
