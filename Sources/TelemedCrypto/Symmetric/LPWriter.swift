/// Builds the length-prefixed byte strings that every hash, signature and AAD input uses:
/// `lp(b) = u32be(len(b)) ‖ b` (PROTOCOL.md §4).
public struct LPWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty writer.
    public init() {}

    /// Appends `lp(data)`.
    public mutating func lp(_ data: some Sequence<UInt8>) {
        bytes.append(contentsOf: LPWriter.field(data))
    }

    /// `lp(data)` on its own: the 4-byte big-endian length, then the bytes.
    ///
    /// - Precondition: `data` is at most 2^32−1 bytes (every protocol field is far shorter).
    package static func field(_ data: some Sequence<UInt8>) -> [UInt8] {
        let field = Array(data)
        precondition(field.count <= Int(UInt32.max), "lp() field longer than 2^32−1 bytes")
        return u32(UInt32(field.count)) + field
    }

    /// Appends `lp(ASCII/UTF-8 bytes of text)`.
    public mutating func lp(_ text: String) { lp(Array(text.utf8)) }

    /// Appends `lp(u64be(value))`.
    public mutating func lpU64(_ value: UInt64) { lp(LPWriter.u64(value)) }

    /// `u32be(value)`.
    public static func u32(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
    }

    /// `u64be(value)`.
    public static func u64(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }
}
