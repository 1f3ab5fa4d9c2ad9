// MARK: - IPAddressText
//
// Parsing and printing of IP address text, kept apart from `IPAddress` so that type stays small.
// Parsing is strict: anything unusual is refused rather than guessed at.

enum IPAddressText {
    // MARK: - IPv4

    /// `a.b.c.d`, each part 0...255 in decimal without leading zeros.
    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  part.count == 1 || part.first != "0",
                  let value = UInt8(part)
            else { return nil }
            out.append(value)
        }
        return out
    }

    static func formatIPv4(_ bytes: [UInt8]) -> String {
        bytes.map(String.init).joined(separator: ".")
    }

    // MARK: - IPv6

    /// RFC 4291 §2.2 text: up to eight hex groups, at most one `::`, optionally ending in a dotted quad.
    static func parseIPv6(_ text: String) -> [UInt8]? {
        guard text.contains(":"), !text.contains("%") else { return nil }
        let halves = text.split(separator: "::", omittingEmptySubsequences: false).map(String.init)
        guard halves.count <= 2 else { return nil }
        guard let head = groups(halves[0], allowIPv4Suffix: halves.count == 1) else { return nil }
        if halves.count == 1 {
            return head.count == 8 ? bytes(of: head) : nil
        }
        guard let tail = groups(halves[1], allowIPv4Suffix: true), head.count + tail.count <= 7 else { return nil }
        return bytes(of: head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail)
    }

    /// The 16-bit groups of one side of `::` (an embedded IPv4 address counts as two).
    private static func groups(_ text: String, allowIPv4Suffix: Bool) -> [UInt16]? {
        if text.isEmpty { return [] }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        var out: [UInt16] = []
        for (index, part) in parts.enumerated() {
            if allowIPv4Suffix, index == parts.count - 1, part.contains(".") {
                guard let v4 = parseIPv4(part) else { return nil }
                out.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                out.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                continue
            }
            guard (1...4).contains(part.count), part.allSatisfy({ $0.isHexDigit && $0.isASCII }),
                  let value = UInt16(part, radix: 16)
            else { return nil }
            out.append(value)
        }
        return out.count <= 8 ? out : nil
    }

    private static func bytes(of groups: [UInt16]) -> [UInt8] {
        groups.flatMap { [UInt8(truncatingIfNeeded: $0 >> 8), UInt8(truncatingIfNeeded: $0)] }
    }

    /// RFC 5952 §4: lowercase hex, no leading zeros, longest zero run (≥ 2 groups, first on ties) as `::`.
    static func formatIPv6(_ bytes: [UInt8]) -> String {
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var bestStart = -1, bestLength = 0, runStart = -1
        for index in 0...8 {
            if index < 8, groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength { bestStart = runStart; bestLength = index - runStart }
                runStart = -1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestLength >= 2 else { return hex.joined(separator: ":") }
        let left = hex[0..<bestStart].joined(separator: ":")
        let right = hex[(bestStart + bestLength)...].joined(separator: ":")
        return left + "::" + right
    }
}
