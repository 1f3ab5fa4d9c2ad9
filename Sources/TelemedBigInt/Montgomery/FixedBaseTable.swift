// Fixed-base exponentiation with a precomputed table (the "fixed window" method of Brickell,
// Gordon, McCurley and Wilson, as in HAC 14.109).
//
// Theory of operation: the exponent is cut into D = ⌈bits / w⌉ digits of w bits, e = Σ d_i·2^(w·i).
// The table holds, for every digit position i and digit value j in 0 ..< 2^w, the Montgomery
// residue of base^(j·2^(w·i)); entry j = 0 is the residue 1. Then base^e = Π_i T[i][d_i]:
// D multiplications and no squaring at all.
//
// Secret exponents (`powerSecure`) take the same path for every exponent value: all D digit
// positions are visited, each digit is extracted with shifts whose amounts depend only on
// the position, the entry is read with GMP's mpn_sec_tabselect (which reads all 2^w entries
// of the position and keeps the wanted one with masks, so the memory access pattern is
// independent of the digit), and it is always multiplied in, with the side-channel-silent
// multiplication, even when it is the residue 1. The only data-dependent quantity is the
// exponent's GMP limb count, the same leak mpz_powm_sec has; exponents below 2^bits are
// copied into a fixed ⌈bits/64⌉-limb buffer first.
//
// Public exponents (`power`) index the table directly and skip zero digits.

import CGMP

/// A precomputed table of powers of one base modulo an odd modulus, for exponents of at most
/// `exponentBits` bits. Immutable and thread-safe once built. `Testing` SPI, like
/// ``MontgomeryDomain``.
@_spi(Testing) public final class FixedBaseTable: @unchecked Sendable {
    /// The base (reduced mod the modulus).
    public let base: BigInt
    /// The largest exponent width the table covers, in bits.
    public let exponentBits: Int
    /// Bits per digit (w).
    public let windowBits: Int
    let domain: MontgomeryDomain
    let positions: Int
    let entriesPerPosition: Int
    let table: UnsafeMutablePointer<mp_limb_t>

    /// The modulus.
    public var modulus: BigInt { domain.modulus }

    /// The table's size in bytes (the limb storage).
    public var byteCount: Int { positions * entriesPerPosition * domain.limbCount * MemoryLayout<mp_limb_t>.size }

    /// Builds the table for `base` modulo the odd `modulus`.
    ///
    /// - Parameters:
    ///   - exponentBits: the widest exponent `power` and `powerSecure` accept (256 for the
    ///     protocol's groups).
    ///   - windowBits: the digit width w (1…8); memory grows as 2^w/w, time falls as 1/w.
    /// - Precondition: `modulus` odd and above 1, `exponentBits` positive, w in 1…8.
    public convenience init(base: BigInt, modulus: BigInt, exponentBits: Int, windowBits: Int = 4) {
        self.init(base: base, domain: MontgomeryDomain(modulus: modulus),
                  exponentBits: exponentBits, windowBits: windowBits)
    }

    init(base: BigInt, domain: MontgomeryDomain, exponentBits: Int, windowBits: Int) {
        precondition(exponentBits > 0, "a fixed-base table needs a positive exponent width")
        precondition((1...8).contains(windowBits), "window width must be 1…8 bits")
        self.base = base.modulo(domain.modulus)
        self.domain = domain
        self.exponentBits = exponentBits
        self.windowBits = windowBits
        positions = (exponentBits + windowBits - 1) / windowBits
        entriesPerPosition = 1 << windowBits
        let n = domain.limbCount
        table = .allocate(capacity: positions * entriesPerPosition * n)
        let w = MontgomeryDomain.Workspace(limbCount: n)
        defer { w.release(limbCount: n) }
        // step = base^(2^(w·i)) as a residue; the base is public, so the fast multiply is fine.
        let step = UnsafeMutablePointer<mp_limb_t>.allocate(capacity: n)
        defer { step.deallocate() }
        domain.enter(self.base, into: step, w)
        for i in 0..<positions {
            let row = table + i * entriesPerPosition * n
            row.update(from: domain.oneLimbs, count: n)
            (row + n).update(from: step, count: n)
            for j in 2..<max(2, entriesPerPosition) {
                domain.multiplyPublic(row + j * n, row + (j - 1) * n, step, w)
            }
            for _ in 0..<windowBits { domain.multiplyPublic(step, step, step, w) }
        }
    }

    deinit {
        table.deallocate()
    }

    // MARK: - Exponentiation

    /// base^exponent mod modulus for a PUBLIC exponent (variable time).
    ///
    /// - Precondition: `0 ≤ exponent < 2^exponentBits`.
    public func power(_ exponent: BigInt) -> BigInt {
        precondition(!exponent.isNegative && exponent.bitWidth <= exponentBits,
                     "the exponent is wider than the table")
        let n = domain.limbCount
        let w = MontgomeryDomain.Workspace(limbCount: n)
        defer { w.release(limbCount: n) }
        let digits = self.digits(of: exponent)
        defer { digits.deallocate() }
        let accumulator = UnsafeMutablePointer<mp_limb_t>.allocate(capacity: n)
        defer { accumulator.deallocate() }
        var started = false
        for i in 0..<positions {
            let digit = digits[i]
            guard digit != 0 else { continue }
            let entry = table + (i * entriesPerPosition + digit) * n
            if started {
                domain.multiplyPublic(accumulator, accumulator, entry, w)
            } else {
                accumulator.update(from: entry, count: n)
                started = true
            }
        }
        if !started { return BigInt.one.modulo(domain.modulus) }
        return domain.leave(accumulator, w)
    }

    /// base^exponent mod modulus for a SECRET exponent, in time and memory access pattern
    /// independent of the exponent's value (see the theory of operation).
    ///
    /// - Precondition: `0 ≤ exponent < 2^exponentBits`.
    public func powerSecure(_ exponent: BigInt) -> BigInt {
        precondition(!exponent.isNegative && exponent.bitWidth <= exponentBits,
                     "the exponent is wider than the table")
        let n = domain.limbCount
        let w = MontgomeryDomain.Workspace(limbCount: n)
        defer { w.release(limbCount: n) }
        let digits = self.digits(of: exponent)
        defer {
            SecureMemory.wipe(digits, count: positions)
            digits.deallocate()
        }
        let accumulator = UnsafeMutablePointer<mp_limb_t>.allocate(capacity: n)
        let selected = UnsafeMutablePointer<mp_limb_t>.allocate(capacity: n)
        defer {
            SecureMemory.wipe(accumulator, count: n)
            SecureMemory.wipe(selected, count: n)
            accumulator.deallocate()
            selected.deallocate()
        }
        accumulator.update(from: domain.oneLimbs, count: n)
        for i in 0..<positions {
            cgmp_tabselect(selected, table + i * entriesPerPosition * n, n, entriesPerPosition, digits[i])
            domain.multiplySecure(accumulator, accumulator, selected, w)
        }
        return domain.leave(accumulator, w)
    }

    /// The D digits of the exponent, least significant first, extracted branch-free from a
    /// zero-padded fixed-width limb copy. The caller frees (and, for secrets, wipes) them.
    private func digits(of exponent: BigInt) -> UnsafeMutablePointer<Int> {
        let limbBits = MemoryLayout<mp_limb_t>.size * 8
        // One spare limb so a digit straddling the top limb reads zeros, not past the end.
        let limbs = (positions * windowBits + limbBits - 1) / limbBits + 1
        let copy = UnsafeMutablePointer<mp_limb_t>.allocate(capacity: limbs)
        defer {
            SecureMemory.wipe(copy, count: limbs)
            copy.deallocate()
        }
        MontgomeryDomain.copyLimbs(of: exponent, into: copy, count: limbs)
        let out = UnsafeMutablePointer<Int>.allocate(capacity: positions)
        let mask: mp_limb_t = (1 << mp_limb_t(windowBits)) - 1
        for i in 0..<positions {
            let bit = i * windowBits
            let (index, offset) = (bit / limbBits, bit % limbBits)
            // The next limb's bits go up by limbBits − offset ∈ 1…64: two shifts, so offset 0
            // (a full-width shift) needs no special case.
            let low = copy[index] >> mp_limb_t(offset)
            let high = (copy[index + 1] << 1) << mp_limb_t(limbBits - 1 - offset)
            out[i] = Int((low | high) & mask)
        }
        return out
    }
}
