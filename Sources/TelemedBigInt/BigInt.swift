// A value-type arbitrary-precision integer over GMP.
//
// Theory of operation: every `BigInt` owns an immutable GMP `mpz_t` behind a final class.
// Operations never mutate an operand's storage; they always write into freshly allocated
// storage, so passing the same value twice (`a.powMod(a, a)`) can never alias an output with
// an input. Storage is cleared and freed in `deinit`; GMP's allocation functions are the
// wiping ones of `SecureMemory`, installed before the first storage exists, so the limbs (and
// every block GMP outgrows or frees as scratch) are zeroed on the way out.

import CGMP

/// Errors for conversions that a peer or a file can trigger.
public enum BigIntError: Error, Equatable, Sendable {
    /// A negative value was given where only non-negative values have an encoding.
    case negativeValue
    /// The value needs more bytes than the fixed width allows.
    case valueTooWide(neededBytes: Int, width: Int)
    /// The text is not hexadecimal (or has the wrong length for a fixed-width read).
    case invalidHex
    /// The text is not a decimal integer.
    case invalidDecimal
    /// A random value was requested below a bound that is not positive.
    case nonPositiveBound
}

/// Owns one initialised `mpz_t`. Never mutated after construction finishes.
@usableFromInline
final class GMPStorage: @unchecked Sendable {
    @usableFromInline let pointer: UnsafeMutablePointer<__mpz_struct>

    @usableFromInline init() {
        _ = SecureMemory.installWipingAllocator
        pointer = .allocate(capacity: 1)
        __gmpz_init(pointer)
    }

    deinit {
        // mpz_clear hands the limbs to the wiping free function, which zeroes them.
        __gmpz_clear(pointer)
        pointer.deallocate()
    }
}

/// An arbitrary-precision signed integer backed by GMP, with value semantics.
public struct BigInt: Sendable {
    @usableFromInline let storage: GMPStorage

    @usableFromInline var raw: UnsafePointer<__mpz_struct> { UnsafePointer(storage.pointer) }

    /// Builds a value by running `body` on fresh storage. Only used during construction.
    @inlinable
    init(_ body: (UnsafeMutablePointer<__mpz_struct>) -> Void) {
        let storage = GMPStorage()
        body(storage.pointer)
        self.storage = storage
    }

    /// Creates a value from a machine integer.
    public init(_ value: Int) {
        self.init { __gmpz_set_si($0, value) }
    }

    /// Creates a value from an unsigned machine integer.
    public init(_ value: UInt64) {
        self.init { __gmpz_set_ui($0, UInt(value)) }
    }

    /// Zero.
    public static let zero = BigInt(0)
    /// One.
    public static let one = BigInt(1)

    // MARK: - Properties

    /// -1, 0 or 1 according to the sign.
    public var signum: Int { Int(cgmp_sgn(raw)) }
    /// True for zero.
    public var isZero: Bool { signum == 0 }
    /// True for a negative value.
    public var isNegative: Bool { signum < 0 }
    /// True for an odd value.
    public var isOdd: Bool { cgmp_odd_p(raw) != 0 }
    /// The number of bits of the absolute value (0 for zero).
    public var bitWidth: Int { isZero ? 0 : Int(__gmpz_sizeinbase(raw, 2)) }
    /// The number of bytes of the minimal big-endian encoding of the absolute value.
    public var byteWidth: Int { (bitWidth + 7) / 8 }

    /// The bit at `index` of the absolute value (two's complement for negatives, as GMP).
    public func testBit(_ index: Int) -> Bool {
        precondition(index >= 0, "bit index must be non-negative")
        return __gmpz_tstbit(raw, UInt(index)) != 0
    }

    /// The value as an `Int` when it fits.
    public var intValue: Int? {
        guard __gmpz_fits_slong_p(raw) != 0 else { return nil }
        return __gmpz_get_si(raw)
    }
}

// MARK: - Equality, order, hashing

extension BigInt: Comparable, Hashable {
    public static func == (lhs: BigInt, rhs: BigInt) -> Bool {
        __gmpz_cmp(lhs.raw, rhs.raw) == 0
    }

    public static func < (lhs: BigInt, rhs: BigInt) -> Bool {
        __gmpz_cmp(lhs.raw, rhs.raw) < 0
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(signum)
        hasher.combine(magnitudeBytes())
    }
}

extension BigInt: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self.init(value) }
}

extension BigInt: CustomStringConvertible {
    /// Decimal text.
    public var description: String { toString(radix: 10) }
}
