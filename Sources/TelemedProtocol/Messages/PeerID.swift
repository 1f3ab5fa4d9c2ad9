// MARK: - PeerID

/// The identity of a patient device or of the doctor's gateway: 1–64 bytes of
/// `[A-Za-z0-9._-]` (PROTOCOL.md §4 "Notation").
///
/// Ordering is the `memcmp` order of the bytes with a proper prefix first, which is the order
/// the group key derivation sorts members in.
public struct PeerID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The longest id the protocol allows, in bytes.
    public static let maxLength = 64

    /// The id as text (ASCII only).
    public let value: String

    /// Validates `value` against the id syntax.
    ///
    /// - Throws: `DecodeError.invalidID` naming the problem (empty, too long, or a character
    ///   outside `[A-Za-z0-9._-]`). The offending text is not echoed.
    public init(_ value: String) throws(DecodeError) {
        if let problem = PeerID.problem(in: value.utf8) { throw .invalidID(problem) }
        self.value = value
    }

    /// Validates UTF-8 bytes (as they come off the wire) against the id syntax.
    ///
    /// - Throws: `DecodeError.invalidID` naming the problem.
    public init(bytes: [UInt8]) throws(DecodeError) {
        if let problem = PeerID.problem(in: bytes) { throw .invalidID(problem) }
        // Every byte is ASCII, so this decoding is exact.
        self.value = String(decoding: bytes, as: UTF8.self)
    }

    /// The id's bytes (UTF-8, which for this alphabet equals ASCII).
    public var bytes: [UInt8] { Array(value.utf8) }

    /// The id itself; ids are not secret.
    public var description: String { value }

    /// `memcmp` order of the bytes; a proper prefix sorts first.
    public static func < (lhs: PeerID, rhs: PeerID) -> Bool {
        lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }

    // MARK: - Syntax

    /// Why `bytes` is not a valid id, or nil if it is.
    static func problem(in bytes: some Collection<UInt8>) -> String? {
        if bytes.isEmpty { return "empty id" }
        if bytes.count > maxLength { return "id longer than \(maxLength) bytes (\(bytes.count))" }
        if !bytes.allSatisfy(isIDByte) { return "id contains a character outside [A-Za-z0-9._-]" }
        return nil
    }

    /// Whether `byte` belongs to `[A-Za-z0-9._-]`.
    static func isIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
