// Simultaneous multi-exponentiation b_1^e_1 · … · b_k^e_k mod m for PUBLIC exponents
// (signature verification), by interleaved sliding windows (HAC 14.88 with per-exponent
// windows, "Straus–Shamir" interleaving).
//
// Theory of operation: each exponent is recoded once into sliding windows of at most w bits
// whose values are odd; the window's value is recorded at its lowest bit. The product is
// built from the top bit down with ONE shared squaring per bit; at a bit where a window of
// exponent j ends, the accumulator is multiplied by the precomputed odd power b_j^d. With
// w = 5 that is one squaring per exponent bit plus about bits/6 multiplications per base,
// instead of a full exponentiation per base. Branches and table indices depend on the
// exponents, so this is for public exponents only.

import CGMP

extension BigInt {
    /// Π bases[i]^exponents[i] mod modulus, for PUBLIC non-negative exponents (variable time).
    ///
    /// - Precondition: the arrays have the same non-zero count, every exponent is non-negative
    ///   and the modulus is odd and above 1.
    package static func multiPowMod(_ bases: [BigInt], _ exponents: [BigInt], modulus: BigInt) -> BigInt {
        MultiExponentiation(domain: MontgomeryDomain(modulus: modulus)).power(bases, exponents)
    }
}

/// Interleaved sliding-window multi-exponentiation in one Montgomery domain.
struct MultiExponentiation {
    let domain: MontgomeryDomain
    /// Window width for the sliding windows.
    var windowBits = 5

    /// Π bases[i]^exponents[i] mod m (public exponents).
    func power(_ bases: [BigInt], _ exponents: [BigInt]) -> BigInt {
        precondition(!bases.isEmpty && bases.count == exponents.count,
                     "multi-exponentiation needs one exponent per base")
        precondition(exponents.allSatisfy { !$0.isNegative }, "exponents must be non-negative")
        let n = domain.limbCount
        let k = bases.count
        let oddPowers = 1 << (windowBits - 1)
        let w = MontgomeryDomain.Workspace(limbCount: n)
        defer { w.release(limbCount: n) }
        let bits = exponents.map(\.bitWidth).max() ?? 0
        guard bits > 0 else { return BigInt.one.modulo(domain.modulus) }

        // Odd powers b, b^3, …, b^(2^w − 1) of every base, and the window recoding.
        let powers = UnsafeMutablePointer<mp_limb_t>.allocate(capacity: k * oddPowers * n)
        defer { powers.deallocate() }
        let square = UnsafeMutablePointer<mp_limb_t>.allocate(capacity: n)
        defer { square.deallocate() }
        var windows = [UInt16](repeating: 0, count: k * bits)
        for j in 0..<k {
            let row = powers + j * oddPowers * n
            domain.enter(bases[j], into: row, w)
            domain.multiplyPublic(square, row, row, w)
            for d in 1..<oddPowers {
                domain.multiplyPublic(row + d * n, row + (d - 1) * n, square, w)
            }
            recode(exponents[j], into: &windows, offset: j * bits)
        }

        let accumulator = UnsafeMutablePointer<mp_limb_t>.allocate(capacity: n)
        defer { accumulator.deallocate() }
        var started = false
        for bit in stride(from: bits - 1, through: 0, by: -1) {
            if started { domain.multiplyPublic(accumulator, accumulator, accumulator, w) }
            for j in 0..<k {
                let value = Int(windows[j * bits + bit])
                guard value != 0 else { continue }
                let entry = powers + (j * oddPowers + (value - 1) / 2) * n
                if started {
                    domain.multiplyPublic(accumulator, accumulator, entry, w)
                } else {
                    accumulator.update(from: entry, count: n)
                    started = true
                }
            }
        }
        return domain.leave(accumulator, w)
    }

    /// Writes the odd window values of `exponent` at their lowest bit (0 elsewhere).
    private func recode(_ exponent: BigInt, into windows: inout [UInt16], offset: Int) {
        var top = exponent.bitWidth - 1
        while top >= 0 {
            guard exponent.testBit(top) else {
                top -= 1
                continue
            }
            var low = max(top - windowBits + 1, 0)
            while !exponent.testBit(low) { low += 1 }
            var value: UInt16 = 0
            for bit in stride(from: top, through: low, by: -1) {
                value = value << 1 | (exponent.testBit(bit) ? 1 : 0)
            }
            windows[offset + low] = value
            top = low - 1
        }
    }
}
