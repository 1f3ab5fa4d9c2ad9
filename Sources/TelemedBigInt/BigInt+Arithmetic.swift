import CGMP

// MARK: - Arithmetic

extension BigInt {
    public static func + (lhs: BigInt, rhs: BigInt) -> BigInt {
        BigInt { __gmpz_add($0, lhs.raw, rhs.raw) }
    }

    public static func - (lhs: BigInt, rhs: BigInt) -> BigInt {
        BigInt { __gmpz_sub($0, lhs.raw, rhs.raw) }
    }

    public static func * (lhs: BigInt, rhs: BigInt) -> BigInt {
        BigInt { __gmpz_mul($0, lhs.raw, rhs.raw) }
    }

    public prefix static func - (value: BigInt) -> BigInt {
        BigInt { __gmpz_neg($0, value.raw) }
    }

    /// Truncating division (rounds toward zero, like Swift's `Int`).
    public static func / (lhs: BigInt, rhs: BigInt) -> BigInt {
        precondition(!rhs.isZero, "division by zero")
        return BigInt { __gmpz_tdiv_q($0, lhs.raw, rhs.raw) }
    }

    /// Truncating remainder (takes the sign of the dividend, like Swift's `Int`).
    public static func % (lhs: BigInt, rhs: BigInt) -> BigInt {
        precondition(!rhs.isZero, "division by zero")
        return BigInt { __gmpz_tdiv_r($0, lhs.raw, rhs.raw) }
    }

    public static func += (lhs: inout BigInt, rhs: BigInt) { lhs = lhs + rhs }
    public static func -= (lhs: inout BigInt, rhs: BigInt) { lhs = lhs - rhs }
    public static func *= (lhs: inout BigInt, rhs: BigInt) { lhs = lhs * rhs }

    /// The least non-negative residue of `self` modulo a positive `modulus`.
    public func modulo(_ modulus: BigInt) -> BigInt {
        precondition(modulus.signum > 0, "modulus must be positive")
        return BigInt { __gmpz_mod($0, raw, modulus.raw) }
    }

    /// `(self * other) mod modulus`, non-negative.
    public func multipliedMod(_ other: BigInt, _ modulus: BigInt) -> BigInt {
        precondition(modulus.signum > 0, "modulus must be positive")
        return BigInt {
            __gmpz_mul($0, raw, other.raw)
            __gmpz_mod($0, $0, modulus.raw)
        }
    }

    /// `self << count`.
    public func shiftedLeft(_ count: Int) -> BigInt {
        precondition(count >= 0, "shift must be non-negative")
        return BigInt { __gmpz_mul_2exp($0, raw, UInt(count)) }
    }

    /// `self >> count`, rounding toward negative infinity.
    public func shiftedRight(_ count: Int) -> BigInt {
        precondition(count >= 0, "shift must be non-negative")
        return BigInt { __gmpz_fdiv_q_2exp($0, raw, UInt(count)) }
    }

    /// The greatest common divisor (non-negative).
    public func gcd(_ other: BigInt) -> BigInt {
        BigInt { __gmpz_gcd($0, raw, other.raw) }
    }
}

// MARK: - Modular exponentiation and number theory

extension BigInt {
    /// `self^exponent mod modulus` with GMP's fastest algorithm.
    ///
    /// Its running time depends on the exponent: use it only for public exponents.
    /// For a secret exponent use ``powModSecure(_:_:)``.
    public func powMod(_ exponent: BigInt, _ modulus: BigInt) -> BigInt {
        precondition(modulus.signum > 0, "modulus must be positive")
        precondition(!exponent.isNegative, "use inverse(modulo:) for negative exponents")
        return BigInt { __gmpz_powm($0, raw, exponent.raw, modulus.raw) }
    }

    /// `self^exponent mod modulus` in time and memory access pattern independent of the
    /// exponent's value (GMP `mpz_powm_sec`). Use it for every secret exponent.
    ///
    /// The modulus must be odd (every group modulus here is prime). A zero exponent gives 1.
    public func powModSecure(_ exponent: BigInt, _ modulus: BigInt) -> BigInt {
        precondition(modulus.signum > 0 && modulus.isOdd, "powModSecure needs an odd positive modulus")
        precondition(!exponent.isNegative, "exponent must be non-negative")
        if exponent.isZero { return BigInt.one.modulo(modulus) }
        return BigInt { __gmpz_powm_sec($0, raw, exponent.raw, modulus.raw) }
    }

    /// The inverse of `self` modulo `modulus`, or nil when none exists.
    public func inverse(modulo modulus: BigInt) -> BigInt? {
        precondition(modulus.signum > 0, "modulus must be positive")
        let storage = GMPStorage()
        guard __gmpz_invert(storage.pointer, raw, modulus.raw) != 0 else { return nil }
        return BigInt(storage: storage)
    }

    /// The Jacobi symbol (self / n) for an odd positive `n`: -1, 0 or 1.
    public func jacobi(_ n: BigInt) -> Int {
        precondition(n.signum > 0 && n.isOdd, "the Jacobi symbol needs an odd positive n")
        return Int(__gmpz_jacobi(raw, n.raw))
    }

    /// The Legendre symbol (self / p) for an odd prime `p`: -1, 0 or 1.
    public func legendre(_ p: BigInt) -> Int {
        precondition(p.signum > 0 && p.isOdd, "the Legendre symbol needs an odd prime p")
        return Int(cgmp_legendre(raw, p.raw))
    }

    /// A probabilistic primality test: Baillie-PSW plus `rounds` Miller-Rabin rounds
    /// (GMP `mpz_probab_prime_p`). A composite passes with probability below 4^-rounds.
    public func isProbablePrime(rounds: Int = 40) -> Bool {
        precondition(rounds > 0, "rounds must be positive")
        return __gmpz_probab_prime_p(raw, Int32(rounds)) != 0
    }
}

extension BigInt {
    @usableFromInline init(storage: GMPStorage) { self.storage = storage }
}
