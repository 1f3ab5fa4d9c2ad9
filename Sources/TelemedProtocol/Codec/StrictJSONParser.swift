// MARK: - StrictJSONParser
//
// Theory of operation
//
// A purpose-built RFC 8259 parser for frame bodies (PROTOCOL.md §4 "Framing"; R-FRAME) and,
// through `parseDocument`, for the simulator's scenario files. It exists because general JSON
// decoders accept what the protocol must refuse: duplicate keys, lone surrogates, numbers that
// round. The rules it holds:
//
//   * the whole text is strict UTF-8 (checked first, in one pass) and does not start with a
//     byte order mark;
//   * exactly one value, surrounded only by insignificant whitespace (space, tab, LF, CR);
//   * the value is kept whole: object members in document order with unescaped keys, arrays
//     in order, strings as unescaped UTF-8 bytes; duplicate detection is left to the caller,
//     which compares keys after unescaping (the codec refuses any duplicate; the scenario
//     reader refuses them in the objects it reads, and keeps them in frames written as JSON);
//   * objects and arrays nest at most `maxDepth` deep (the top value is depth 1), so the
//     recursion is bounded; the parsed value grows linearly with the text (every element and
//     member is at least one byte of it), so a 64 KiB frame gives a small value;
//   * `\uXXXX` escapes must form valid Unicode scalars: a high surrogate must be followed by a
//     low one, and a lone surrogate of either kind is an error;
//   * numbers follow the RFC grammar (a leading zero is a grammar error) and keep their
//     literal text; at most 16 digits are ever accumulated, into a UInt64 that cannot
//     overflow, to classify the number against the wire integer rule (`JSONNumber.Kind`).
//
// Every read goes through `peek()`/`advance()`, which return nil at the end instead of
// indexing out of range; no arithmetic can overflow. Nothing here traps on any input.

/// Strict, non-trapping parser of one JSON text (a frame body or a scenario file).
package struct StrictJSONParser {
    /// The deepest nesting of frame bodies before the text is refused (the top value is 1).
    package static let maxDepth = 16

    private let bytes: [UInt8]
    private let maxDepth: Int
    private var index = 0

    private init(_ bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Parses `body` and returns its top-level object's members in document order.
    ///
    /// - Throws: `.invalidUTF8`, `.invalidJSON(where and why)`, or `.notAnObject` for a valid
    ///   text whose value is not an object.
    static func parseObject(_ body: [UInt8]) throws(DecodeError) -> [JSONMember] {
        let value: JSONValue
        do {
            value = try parseDocument(body)
        } catch {
            throw error.reason
        }
        guard case .object(let members) = value else { throw .notAnObject }
        return members
    }

    /// Parses `text` as one JSON value of any type, kept whole.
    ///
    /// - Parameter maxDepth: the deepest nesting allowed (the top value is depth 1); frames
    ///   use `StrictJSONParser.maxDepth`, a local file may allow more.
    /// - Throws: a `JSONSyntaxError` with the byte offset where reading stopped.
    package static func parseDocument(
        _ text: [UInt8], maxDepth: Int = StrictJSONParser.maxDepth
    ) throws(JSONSyntaxError) -> JSONValue {
        if let bad = UTF8Validation.firstInvalidOffset(text) {
            throw JSONSyntaxError(reason: .invalidUTF8, offset: bad)
        }
        var parser = StrictJSONParser(text, maxDepth: maxDepth)
        do throws(DecodeError) {
            if text.starts(with: [0xef, 0xbb, 0xbf]) { throw .invalidJSON("byte order mark") }
            parser.skipWhitespace()
            let value = try parser.parseValue(depth: 1)
            parser.skipWhitespace()
            guard parser.index == text.count else {
                throw .invalidJSON("trailing characters at byte \(parser.index)")
            }
            return value
        } catch {
            throw JSONSyntaxError(reason: error, offset: parser.index)
        }
    }

// MARK: - Cursor

    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    private mutating func advance() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d {
            index += 1
        }
    }

    private mutating func expect(_ ascii: Unicode.Scalar, _ context: String) throws(DecodeError) {
        guard let byte = advance() else { throw .invalidJSON("unexpected end of text, \(context)") }
        guard byte == UInt8(ascii: ascii) else {
            throw .invalidJSON("expected '\(ascii)' at byte \(index - 1), \(context)")
        }
    }

    // MARK: - Objects and arrays

    private func checkDepth(_ depth: Int) throws(DecodeError) {
        guard depth <= maxDepth else { throw .invalidJSON("nesting deeper than \(maxDepth)") }
    }

    /// Parses `{ members }` at `depth`.
    private mutating func parseObjectValue(depth: Int) throws(DecodeError) -> [JSONMember] {
        try checkDepth(depth)
        try expect("{", "object start")
        var members: [JSONMember] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return members
        }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else {
                throw .invalidJSON("expected a string key at byte \(index)")
            }
            let key = try parseString()
            skipWhitespace()
            try expect(":", "after an object key")
            skipWhitespace()
            members.append(JSONMember(key: key, value: try parseValue(depth: depth + 1)))
            skipWhitespace()
            switch advance() {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "}"): return members
            case nil: throw .invalidJSON("unexpected end of text inside an object")
            default: throw .invalidJSON("expected ',' or '}' at byte \(index - 1)")
            }
        }
    }

    /// Parses `[ elements ]` at `depth`.
    private mutating func parseArray(depth: Int) throws(DecodeError) -> [JSONValue] {
        try checkDepth(depth)
        try expect("[", "array start")
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return elements
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            switch advance() {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "]"): return elements
            case nil: throw .invalidJSON("unexpected end of text inside an array")
            default: throw .invalidJSON("expected ',' or ']' at byte \(index - 1)")
            }
        }
    }

    // MARK: - Values

    /// Parses any value at `depth`.
    private mutating func parseValue(depth: Int) throws(DecodeError) -> JSONValue {
        guard let byte = peek() else { throw .invalidJSON("unexpected end of text, value expected") }
        switch byte {
        case UInt8(ascii: "{"):
            return .object(try parseObjectValue(depth: depth))
        case UInt8(ascii: "["):
            return .array(try parseArray(depth: depth))
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        case UInt8(ascii: "t"):
            try parseLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try parseLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try parseLiteral("null")
            return .null
        default:
            throw .invalidJSON("unexpected character at byte \(index)")
        }
    }

    private mutating func parseLiteral(_ word: StaticString) throws(DecodeError) {
        let start = index
        var matched = true
        word.withUTF8Buffer { expected in
            for byte in expected where advance() != byte {
                matched = false
                return
            }
        }
        guard matched else { throw .invalidJSON("invalid literal at byte \(start)") }
    }

    // MARK: - Numbers

    private mutating func parseNumber() throws(DecodeError) -> JSONNumber {
        let start = index
        let kind = try parseNumberKind()
        return JSONNumber(literal: Array(bytes[start..<index]), kind: kind)
    }

    private mutating func parseNumberKind() throws(DecodeError) -> JSONNumber.Kind {
        let negative = peek() == UInt8(ascii: "-")
        if negative { index += 1 }
        var value: UInt64 = 0
        var digitCount = 0
        switch peek() {
        case UInt8(ascii: "0"):
            index += 1
            digitCount = 1
            if let next = peek(), isDigit(next) {
                throw .invalidJSON("number with a leading zero at byte \(index - 1)")
            }
        case let first? where isDigit(first):
            while let digit = peek(), isDigit(digit) {
                // At most maxDigits (16) digits are accumulated: 10^16 < 2^64, no overflow.
                if digitCount < JSONNumber.maxDigits { value = value * 10 + UInt64(digit &- 0x30) }
                digitCount += 1
                index += 1
            }
        default:
            throw .invalidJSON("digit expected at byte \(index)")
        }
        var integral = true
        if peek() == UInt8(ascii: ".") {
            index += 1
            integral = false
            try skipDigits("after a decimal point")
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            integral = false
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            try skipDigits("in an exponent")
        }
        if !integral { return .notInteger }
        if negative { return .negative }
        if digitCount > JSONNumber.maxDigits || value > JSONNumber.maxInteger { return .tooLarge }
        return .integer(value)
    }

    private mutating func skipDigits(_ context: String) throws(DecodeError) {
        guard let first = peek(), isDigit(first) else {
            throw .invalidJSON("digit expected \(context) at byte \(index)")
        }
        while let digit = peek(), isDigit(digit) { index += 1 }
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    // MARK: - Strings

    /// Parses a string at the cursor and returns its unescaped content as UTF-8 bytes. The
    /// content never outgrows the source text (an escape is at least as long as its result).
    private mutating func parseString() throws(DecodeError) -> [UInt8] {
        try expect("\"", "string start")
        var out: [UInt8] = []
        while true {
            guard let byte = advance() else { throw .invalidJSON("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                return out
            case UInt8(ascii: "\\"):
                try parseEscape(into: &out)
            case 0x00..<0x20:
                throw .invalidJSON("unescaped control character in a string at byte \(index - 1)")
            default:
                // The body is valid UTF-8, so multi-byte sequences are copied as they are.
                out.append(byte)
            }
        }
    }

    private mutating func parseEscape(into out: inout [UInt8]) throws(DecodeError) {
        guard let kind = advance() else { throw .invalidJSON("unterminated escape") }
        switch kind {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(kind)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0c)
        case UInt8(ascii: "n"): out.append(0x0a)
        case UInt8(ascii: "r"): out.append(0x0d)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"): try parseUnicodeEscape(into: &out)
        default: throw .invalidJSON("invalid escape at byte \(index - 1)")
        }
    }

    /// After `\u`: one scalar, or a surrogate pair written as two escapes.
    private mutating func parseUnicodeEscape(into out: inout [UInt8]) throws(DecodeError) {
        let unit = try parseHexQuad()
        var scalarValue = UInt32(unit)
        switch unit {
        case 0xdc00...0xdfff:
            throw .invalidJSON("unpaired low surrogate escape at byte \(index - 6)")
        case 0xd800...0xdbff:
            guard advance() == UInt8(ascii: "\\"), advance() == UInt8(ascii: "u") else {
                throw .invalidJSON("unpaired high surrogate escape")
            }
            let low = try parseHexQuad()
            guard (0xdc00...0xdfff).contains(low) else {
                throw .invalidJSON("high surrogate escape not followed by a low surrogate")
            }
            scalarValue = 0x10000 + (UInt32(unit - 0xd800) << 10) + UInt32(low - 0xdc00)
        default:
            break
        }
        appendUTF8(scalarValue, to: &out)
    }

    /// Appends the UTF-8 form of a scalar value (never a surrogate, at most U+10FFFF here).
    private func appendUTF8(_ value: UInt32, to out: inout [UInt8]) {
        switch value {
        case 0..<0x80:
            out.append(UInt8(value))
        case 0x80..<0x800:
            out.append(0xc0 | UInt8(value >> 6))
            out.append(0x80 | UInt8(value & 0x3f))
        case 0x800..<0x10000:
            out.append(0xe0 | UInt8(value >> 12))
            out.append(0x80 | UInt8(value >> 6 & 0x3f))
            out.append(0x80 | UInt8(value & 0x3f))
        default:
            out.append(0xf0 | UInt8(truncatingIfNeeded: value >> 18))
            out.append(0x80 | UInt8(value >> 12 & 0x3f))
            out.append(0x80 | UInt8(value >> 6 & 0x3f))
            out.append(0x80 | UInt8(value & 0x3f))
        }
    }

    private mutating func parseHexQuad() throws(DecodeError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let byte = advance() else { throw .invalidJSON("unterminated \\u escape") }
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
            default: throw .invalidJSON("invalid hex digit in a \\u escape at byte \(index - 1)")
            }
            value = value << 4 | UInt16(nibble)
        }
        return value
    }
}
