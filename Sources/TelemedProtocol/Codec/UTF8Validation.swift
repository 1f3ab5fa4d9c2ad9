// MARK: - UTF8Validation

/// Strict UTF-8 well-formedness (RFC 3629 §4, Unicode Table 3-7): rejects overlong forms,
/// encoded surrogates (U+D800–DFFF), code points above U+10FFFF, stray continuation bytes,
/// the bytes C0, C1, F5–FF, and sequences cut short.
///
/// The package's one UTF-8 validator: the protocol's JSON parser and the simulator's scenario
/// reader both use it (`package` visibility; it is not part of the public API).
package enum UTF8Validation {
    /// Whether every byte of `bytes` belongs to a well-formed UTF-8 sequence.
    package static func isValid(_ bytes: [UInt8]) -> Bool {
        firstInvalidOffset(bytes) == nil
    }

    /// The offset of the first sequence that is not well-formed UTF-8, nil when there is none.
    package static func firstInvalidOffset(_ bytes: [UInt8]) -> Int? {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            // The allowed range of the second byte depends on the lead (Table 3-7); the
            // remaining continuation bytes are always 80–BF.
            let length: Int
            var secondLow: UInt8 = 0x80
            var secondHigh: UInt8 = 0xbf
            switch lead {
            case 0xc2...0xdf: length = 2
            case 0xe0: length = 3; secondLow = 0xa0
            case 0xe1...0xec, 0xee...0xef: length = 3
            case 0xed: length = 3; secondHigh = 0x9f
            case 0xf0: length = 4; secondLow = 0x90
            case 0xf1...0xf3: length = 4
            case 0xf4: length = 4; secondHigh = 0x8f
            default: return index
            }
            guard count - index >= length else { return index }
            let second = bytes[index + 1]
            guard second >= secondLow, second <= secondHigh else { return index }
            var offset = 2
            while offset < length {
                guard bytes[index + offset] & 0xc0 == 0x80 else { return index }
                offset += 1
            }
            index += length
        }
        return nil
    }

    /// The text of `bytes` when they are well-formed UTF-8; nil otherwise (never a repaired
    /// string with U+FFFD in it).
    package static func decode(_ bytes: [UInt8]) -> String? {
        guard isValid(bytes) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
