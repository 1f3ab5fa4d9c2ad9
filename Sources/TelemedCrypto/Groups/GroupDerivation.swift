// Verifiable generation of the named groups (PROTOCOL.md §4 "Groups").
//
// p and q: FIPS 186-4 appendix A.1.1.2 with SHA-256 (outlen 256) and seedlen 256. The
// "arbitrary" domain_parameter_seed of step 5 is, for attempt i = 0, 1, …,
//     seed_i = SHA-256(ASCII name ‖ u32be(i)),
// and the result is the first attempt that returns VALID (q prime, and a prime p found with
// counter ≤ 4L − 1). In step 11.1, (seed + offset + j) mod 2^256 is hashed as 32 big-endian
// bytes.
// g: FIPS 186-4 appendix A.2.3 with index 1: W = SHA-256(seed ‖ "ggen" ‖ 0x01 ‖ u16be(count)),
// count = 1, 2, …, g = W^((p−1)/q) mod p, the first g ≥ 2.
//
// Primality: GMP's mpz_probab_prime_p (trial division, Baillie-PSW, then Miller-Rabin) with
// 64 rounds, at least as strong as FIPS 186-4 table C.1 asks.

import Crypto

/// FIPS 186-4 A.1.1.2 + A.2.3 derivation of a named group.
public enum GroupDerivation {
    /// Everything the derivation produces; the named groups commit all of it.
    public struct Result: Sendable, Hashable {
        /// The field prime.
        public let p: BigInt
        /// The subgroup order.
        public let q: BigInt
        /// The generator (A.2.3).
        public let g: BigInt
        /// domain_parameter_seed of the successful attempt (32 bytes).
        public let seed: [UInt8]
        /// The attempt i whose seed succeeded.
        public let attempt: Int
        /// A.1.1.2's counter at which p was found.
        public let counter: Int
        /// A.2.3's index (always 1 here).
        public let index: UInt8
        /// A.2.3's count at which g was found.
        public let count: Int
    }

    /// The generator index used for every named group.
    public static let generatorIndex: UInt8 = 1
    /// Primality rounds for q and p candidates.
    static let primalityRounds = 64

    /// Runs the derivation for `name` with p of `L` bits and q of `N` bits, trying attempts
    /// from `startingAttempt` on. Returns nil when (L, N) is unsupported (N must be 2…256
    /// and L > 256) or no attempt below `startingAttempt + attemptLimit` is VALID.
    public static func derive(
        name: String, L: Int, N: Int, startingAttempt: Int = 0, attemptLimit: Int = 1 << 16
    ) -> Result? {
        guard (2...256).contains(N), L > 256, startingAttempt >= 0, attemptLimit > 0 else { return nil }
        for attempt in startingAttempt..<(startingAttempt + attemptLimit) {
            let seed = seedBytes(name: name, attempt: attempt)
            guard let (p, q, counter) = primes(seed: seed, L: L, N: N) else { continue }
            guard let (g, count) = generator(p: p, q: q, seed: seed, index: generatorIndex) else { continue }
            return Result(
                p: p, q: q, g: g, seed: seed, attempt: attempt, counter: counter,
                index: generatorIndex, count: count)
        }
        return nil
    }

    // MARK: - Steps

    /// seed_i = SHA-256(ASCII name ‖ u32be(i)).
    public static func seedBytes(name: String, attempt: Int) -> [UInt8] {
        precondition(attempt >= 0 && attempt <= Int(UInt32.max), "attempt must fit u32")
        return sha256(Array(name.utf8) + LPWriter.u32(UInt32(attempt)))
    }

    /// A.1.1.2 steps 3–11 for one seed: (p, q, counter) or nil when the attempt is INVALID.
    static func primes(seed: [UInt8], L: Int, N: Int) -> (BigInt, BigInt, Int)? {
        let q = subgroupOrder(seed: seed, N: N)
        guard q.isProbablePrime(rounds: primalityRounds) else { return nil }
        let topBit = BigInt.one.shiftedLeft(L - 1)
        for counter in 0..<(4 * L) {
            let p = primeCandidate(seed: seed, q: q, L: L, counter: counter)
            if p >= topBit, p.isProbablePrime(rounds: primalityRounds) {
                return (p, q, counter)
            }
        }
        return nil
    }

    /// A.1.1.2 steps 6–7: q = 2^(N−1) + U + 1 − (U mod 2), U = SHA-256(seed) mod 2^(N−1).
    /// The caller tests it for primality (steps 8–9).
    public static func subgroupOrder(seed: [UInt8], N: Int) -> BigInt {
        precondition((2...256).contains(N), "N must be 2…256 with SHA-256")
        let u = BigInt(bigEndian: sha256(seed)).modulo(BigInt.one.shiftedLeft(N - 1))
        return BigInt.one.shiftedLeft(N - 1) + u + .one - (u.isOdd ? .one : .zero)
    }

    /// A.1.1.2 steps 11.1–11.5 for one value of `counter` (offset = 1 + counter·(n + 1)):
    /// the candidate p, before the size check of 11.6 and the primality test of 11.7.
    public static func primeCandidate(seed: [UInt8], q: BigInt, L: Int, counter: Int) -> BigInt {
        precondition(L > 256 && counter >= 0, "L must exceed outlen and counter be non-negative")
        let outlen = 256
        let n = (L + outlen - 1) / outlen - 1
        let b = L - 1 - n * outlen
        let seedValue = BigInt(bigEndian: seed)
        let seedModulus = BigInt.one.shiftedLeft(8 * seed.count)
        let offset = 1 + counter * (n + 1)
        var w = BigInt.zero
        for j in 0...n {
            let input = (seedValue + BigInt(offset + j)).modulo(seedModulus)
            var v = BigInt(bigEndian: sha256(FixedWidth.encode(input, width: seed.count)))
            if j == n { v = v.modulo(BigInt.one.shiftedLeft(b)) }
            w = w + v.shiftedLeft(j * outlen)
        }
        let x = w + BigInt.one.shiftedLeft(L - 1)
        let c = x.modulo(q + q)
        return x - (c - .one)
    }

    /// A.2.3: the first g = SHA-256(seed ‖ "ggen" ‖ index ‖ u16be(count))^((p−1)/q) ≥ 2.
    /// Returns (g, count), or nil if the 16-bit count wraps (A.2.3 step 6).
    public static func generator(p: BigInt, q: BigInt, seed: [UInt8], index: UInt8) -> (g: BigInt, count: Int)? {
        let e = (p - .one) / q
        for count in 1...Int(UInt16.max) {
            let u = seed + Array("ggen".utf8) + [index, UInt8(count >> 8), UInt8(count & 0xff)]
            let g = BigInt(bigEndian: sha256(u)).powMod(e, p)
            if g >= BigInt(2) { return (g, count) }
        }
        return nil
    }

    private static func sha256(_ data: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: data))
    }
}
