import TelemedCrypto

// MARK: - FieldReader

/// Typed access to a parsed object whose key set has already been checked. Each accessor
/// applies one field rule of PROTOCOL.md §4 and throws the `DecodeError` naming the field.
struct FieldReader {
    private let values: [[UInt8]: JSONValue]

    /// Wraps members whose keys are known to be distinct.
    init(_ members: [JSONMember]) {
        var values: [[UInt8]: JSONValue] = [:]
        for member in members { values[member.key] = member.value }
        self.values = values
    }

    // MARK: - Raw kinds

    private func value(_ key: String) throws(DecodeError) -> JSONValue {
        guard let value = values[Array(key.utf8)] else { throw .missingKey(key) }
        return value
    }

    /// An integer field: `0` or `[1-9][0-9]*`, at most 2^53−1.
    func integer(_ key: String) throws(DecodeError) -> UInt64 {
        guard case .number(let number) = try value(key) else { throw .wrongType(key) }
        switch number.kind {
        case .integer(let integer): return integer
        case .tooLarge, .negative: throw .integerOutOfRange(key)
        case .notInteger: throw .wrongType(key)
        }
    }

    /// A string field's unescaped UTF-8 bytes.
    func string(_ key: String) throws(DecodeError) -> [UInt8] {
        guard case .string(let bytes) = try value(key) else { throw .wrongType(key) }
        return bytes
    }

    // MARK: - Field rules

    /// An id field (1–64 bytes of `[A-Za-z0-9._-]`).
    func id(_ key: String) throws(DecodeError) -> PeerID {
        let text = try string(key)
        do {
            return try PeerID(bytes: text)
        } catch {
            throw .invalidID(key)
        }
    }

    /// A lowercase hex field that must decode to a byte count in `lengths`.
    func hex(_ key: String, lengths: ClosedRange<Int>) throws(DecodeError) -> [UInt8] {
        let text = try string(key)
        guard let bytes = LowercaseHex.decode(text) else { throw .invalidHex(key) }
        if bytes.count < lengths.lowerBound {
            throw .wrongLength(key, expected: lengths.lowerBound, actual: bytes.count)
        }
        if bytes.count > lengths.upperBound {
            throw .wrongLength(key, expected: lengths.upperBound, actual: bytes.count)
        }
        return bytes
    }

    /// A 32-byte field (rn, skv, sig_s): 64 lowercase hex digits.
    func bytes32(_ key: String) throws(DecodeError) -> Bytes32 {
        let bytes = try hex(key, lengths: 32...32)
        do {
            return try Bytes32(bytes)
        } catch {
            throw .wrongLength(key, expected: 32, actual: bytes.count)
        }
    }

    /// A group element field: 2L lowercase hex digits.
    func element(_ key: String, length: Int) throws(DecodeError) -> ElementBytes {
        ElementBytes(try hex(key, lengths: length...length))
    }

    /// The group field, which must equal `expected` byte for byte.
    func group(_ key: String, expected: String) throws(DecodeError) -> String {
        let text = try string(key)
        guard text.elementsEqual(expected.utf8) else { throw .unexpectedGroup(DecodeError.render(text)) }
        return expected
    }
}
