import TelemedBigInt
// MARK: - DecodeError

/// Every way a frame body can fail to be a valid message (PROTOCOL.md §4 "Framing"; R-FRAME).
///
/// Cases name the problem and the field; they never carry secret material. Text that came
/// from the peer (an unknown key, a wrong group name) is rendered printable-ASCII-only and cut
/// to at most 64 bytes, so an error can go into an audit record as is.
public enum DecodeError: Error, Equatable, Sendable {
    /// The body is not well-formed UTF-8 (truncated, overlong, surrogate, above U+10FFFF…).
    case invalidUTF8
    /// The body is not one RFC 8259 JSON text; the text says where the grammar broke.
    case invalidJSON(String)
    /// The JSON text is valid but its top-level value is not an object.
    case notAnObject
    /// A key occurs twice in the object (compared after unescaping).
    case duplicateKey(String)
    /// A key that the message's opcode does not list.
    case unknownKey(String)
    /// A key that the message's opcode lists is absent.
    case missingKey(String)
    /// The field's value has the wrong JSON type (or is a number that is not an integer).
    case wrongType(String)
    /// The field's integer is negative or above 2^53−1.
    case integerOutOfRange(String)
    /// The field's string is not lowercase hexadecimal of even length.
    case invalidHex(String)
    /// The field decodes to the wrong number of bytes. For a field with an allowed range
    /// (`ct` of opcodes 40 and 60), `expected` is the bound that was violated.
    case wrongLength(String, expected: Int, actual: Int)
    /// An id is empty, longer than 64 bytes, or has a character outside `[A-Za-z0-9._-]`.
    /// From the codec the text is the field name; from `PeerID.init` it names the problem.
    case invalidID(String)
    /// The opcode is an integer in range but not one of the protocol's opcodes.
    case unknownOpcode(UInt64)
    /// The group field (opcodes 10 and 20) differs from the configured group; carries the
    /// received name (rendered safe).
    case unexpectedGroup(String)
    /// The body is well-formed but its content breaks another protocol rule.
    case invalidContent(String)
}

// MARK: - Rendering peer text

extension DecodeError {
    /// The longest piece of peer-supplied text an error carries, in bytes.
    static let maxEchoedBytes = 64

    /// Peer bytes made safe for an error: printable ASCII kept, `\` and everything else
    /// written as `\xHH`, cut to `maxEchoedBytes` output bytes (with a trailing `…`).
    static func render(_ bytes: some Collection<UInt8>) -> String {
        var out = ""
        for byte in bytes {
            let piece: String
            if byte >= 0x20, byte < 0x7f, byte != UInt8(ascii: "\\") {
                piece = String(UnicodeScalar(byte))
            } else {
                piece = "\\x" + BigInt.encodeHex(CollectionOfOne(byte))
            }
            if out.utf8.count + piece.utf8.count > maxEchoedBytes {
                return out + "…"
            }
            out += piece
        }
        return out
    }
}
