@_spi(Testing) import TelemedBigInt

/// A prime-order subgroup of Z_p^*: p prime, q a 256-bit prime dividing p − 1, g of order q.
///
/// Values of this type are valid by construction: the two named groups are checked by the
/// test suite (re-derived from their seeds), and every other group goes through
/// ``init(validating:p:q:g:)``. A peer never supplies a group (R-GROUP).
///
/// Every group value carries its precomputation (a fixed-base table for g, about 256 KiB for
/// a 2048-bit p): copies share it. Equality and hashing look at the parameters only, not at
/// the ``exponentiation`` strategy.
public struct TelemedGroup: Sendable, Hashable {
    // MARK: - Parameters

    /// The group's name, e.g. `telemed-2048-256`.
    public let name: String
    /// The field prime.
    public let p: BigInt
    /// The prime order of the subgroup (256 bits).
    public let q: BigInt
    /// A generator of the order-q subgroup.
    public let g: BigInt

    /// How this value computes exponentiations (``ExponentiationStrategy/accelerated`` unless
    /// chosen otherwise with ``using(_:)``).
    public let exponentiation: ExponentiationStrategy
    /// The shared precomputation.
    let engine: GroupEngine

    /// L: the byte length of p (256 for 2048-bit p, 384 for 3072-bit p).
    public var elementLength: Int { p.byteWidth }
    /// The byte length of an encoded scalar mod q.
    public static let scalarLength = 32
    /// The smallest accepted size of p, in bits.
    public static let minimumModulusBits = 2048

    /// Trusted constructor for the built-in constants (no checks).
    init(trustedName name: String, p: BigInt, q: BigInt, g: BigInt) {
        self.name = name
        self.p = p
        self.q = q
        self.g = g
        self.exponentiation = .accelerated
        self.engine = GroupEngine(p: p, q: q, g: g)
    }

    private init(_ other: TelemedGroup, exponentiation: ExponentiationStrategy) {
        self.name = other.name
        self.p = other.p
        self.q = other.q
        self.g = other.g
        self.exponentiation = exponentiation
        self.engine = other.engine
    }

    /// The same group computing with `strategy` (sharing the precomputation). Keys must be
    /// built in the returned value for their operations to use it.
    public func using(_ strategy: ExponentiationStrategy) -> TelemedGroup {
        TelemedGroup(self, exponentiation: strategy)
    }

    // MARK: - Equality (parameters only)

    /// Equal when name, p, q and g are equal; the strategy does not matter.
    public static func == (lhs: TelemedGroup, rhs: TelemedGroup) -> Bool {
        lhs.name == rhs.name && lhs.p == rhs.p && lhs.q == rhs.q && lhs.g == rhs.g
    }

    /// Hashes name, p, q and g.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(p)
        hasher.combine(q)
        hasher.combine(g)
    }

    // MARK: - Validating loader

    /// Loads any group after checking it: name non-empty and not a built-in name with other
    /// parameters; p prime of at least 2048 bits; q prime of exactly 256 bits; q | p − 1;
    /// 1 < g < p − 1; g^q ≡ 1 (mod p).
    ///
    /// - Throws: ``CryptoError/invalidGroup(_:)`` naming the first failed check.
    public init(validating name: String, p: BigInt, q: BigInt, g: BigInt) throws(CryptoError) {
        guard !name.isEmpty else { throw .invalidGroup("empty name") }
        if let builtIn = TelemedGroup.builtIn.first(where: { $0.name == name }),
           builtIn.p != p || builtIn.q != q || builtIn.g != g {
            throw .invalidGroup("the name \(name) belongs to a built-in group with other parameters")
        }
        guard p.bitWidth >= TelemedGroup.minimumModulusBits else {
            throw .invalidGroup("p has \(p.bitWidth) bits, fewer than \(TelemedGroup.minimumModulusBits)")
        }
        guard q.bitWidth == 256, !q.isNegative else {
            throw .invalidGroup("q has \(q.bitWidth) bits, not 256")
        }
        guard q.isProbablePrime(rounds: 64) else { throw .invalidGroup("q is not prime") }
        guard p.isProbablePrime(rounds: 64) else { throw .invalidGroup("p is not prime") }
        guard (p - .one).modulo(q).isZero else { throw .invalidGroup("q does not divide p − 1") }
        guard g > .one, g < p - .one else { throw .invalidGroup("g is not in 2 … p − 2") }
        guard g.powMod(q, p) == .one else { throw .invalidGroup("g does not have order q") }
        self.init(trustedName: name, p: p, q: q, g: g)
    }

    // MARK: - Elements

    /// True when `1 < z < p − 1` and `z^q ≡ 1 (mod p)` (PROTOCOL.md §4, R-ELEM).
    public func isValidElement(_ z: BigInt) -> Bool {
        switch exponentiation {
        case .reference: return ElementCheck.isValid(z, p: p, q: q)
        case .accelerated: return isInElementRange(z) && z.powMod(q, p) == .one
        }
    }

    /// True when `1 < z < p − 1`: the range half of the element check, without exponentiation.
    func isInElementRange(_ z: BigInt) -> Bool {
        z > .one && z < engine.pMinusOne
    }

    // MARK: - Powers of g

    /// g^e mod p for a SECRET e in [0, q): the constant-time comb (accelerated) or
    /// `mpz_powm_sec` (reference).
    func generatorPowerSecure(_ e: BigInt) -> BigInt {
        switch exponentiation {
        case .reference: return g.powModSecure(e, p)
        case .accelerated:
            guard e.bitWidth <= engine.generatorTable.exponentBits else { return g.powModSecure(e, p) }
            return engine.generatorTable.powerSecure(e)
        }
    }

    /// g^e mod p for a PUBLIC e in [0, q).
    func generatorPower(_ e: BigInt) -> BigInt {
        switch exponentiation {
        case .reference: return g.powMod(e, p)
        case .accelerated:
            guard e.bitWidth <= engine.generatorTable.exponentBits else { return g.powMod(e, p) }
            return engine.generatorTable.power(e)
        }
    }

    /// Decodes exactly L big-endian bytes and validates the element.
    ///
    /// - Throws: ``CryptoError/wrongLength(expected:actual:)`` or ``CryptoError/invalidElement``.
    public func element(from bytes: [UInt8]) throws(CryptoError) -> BigInt {
        guard bytes.count == elementLength else {
            throw .wrongLength(expected: elementLength, actual: bytes.count)
        }
        let z = BigInt(bigEndian: bytes)
        guard isValidElement(z) else { throw .invalidElement }
        return z
    }

    /// Exactly L big-endian bytes of `z`.
    ///
    /// - Precondition: `0 ≤ z < p`.
    public func encodeElement(_ z: BigInt) -> [UInt8] {
        precondition(!z.isNegative && z < p, "encodeElement needs 0 ≤ z < p")
        return FixedWidth.encode(z, width: elementLength)
    }

    /// Exactly 32 big-endian bytes of `s`.
    ///
    /// - Precondition: `0 ≤ s < q`.
    public func encodeScalar(_ s: BigInt) -> [UInt8] {
        precondition(!s.isNegative && s < q, "encodeScalar needs 0 ≤ s < q")
        return FixedWidth.encode(s, width: TelemedGroup.scalarLength)
    }

    // MARK: - Randomness

    /// A uniform scalar in [1, q − 1], by rejection sampling.
    public func randomScalar(using rng: inout some CryptographicRandomNumberGenerator) -> BigInt {
        do {
            return try BigInt.random(in: .one, q - .one, using: &rng)
        } catch {
            preconditionFailure("q − 1 ≥ 1 holds for every valid group")
        }
    }

    /// A fresh secret element g^t with t uniform in [1, q − 1] (constant-time exponentiation).
    public func randomElement(using rng: inout some CryptographicRandomNumberGenerator) -> BigInt {
        let t = randomScalar(using: &rng)
        return generatorPowerSecure(t)
    }
}

// MARK: - Helpers shared with the known-answer layer

/// The element check on explicit (p, q), total on every input: it never traps.
enum ElementCheck {
    static func isValid(_ z: BigInt, p: BigInt, q: BigInt) -> Bool {
        guard p > BigInt(3), q.signum > 0 else { return false }
        guard z > .one, z < p - .one else { return false }
        return z.powMod(q, p) == .one
    }
}

/// Fixed-width big-endian encoding for values already known to fit.
enum FixedWidth {
    static func encode(_ value: BigInt, width: Int) -> [UInt8] {
        do {
            return try value.bytes(width: width)
        } catch {
            preconditionFailure("a value checked to fit did not fit \(width) bytes")
        }
    }
}
