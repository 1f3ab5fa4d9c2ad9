/// The network identity a failure or block is charged to (PROTOCOL.md §5, "Sources and counters").
///
/// A source is an IP address: an IPv4 address as /32, an IPv6 address truncated to its /64,
/// an IPv4-mapped IPv6 address normalised to IPv4. Its ``prefix`` is the /24 (IPv4) or /48
/// (IPv6) network that pending-handshake limits and prefix blocks apply to.
public struct SourceAddress: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// 4 bytes for IPv4, 8 bytes (the /64) for IPv6.
    public let bytes: [UInt8]

    /// Parses an IPv4 dotted quad or an IPv6 address (with `::`, an embedded IPv4 tail, or an
    /// IPv4-mapped form). Returns nil for anything else, including zone ids and ports.
    public init?(_ text: String) {
        if let v4 = SourceAddress.parseIPv4(Substring(text)) {
            bytes = v4
        } else if let v6 = SourceAddress.parseIPv6(text) {
            let mapped = v6[0..<10].allSatisfy { $0 == 0 } && v6[10] == 0xff && v6[11] == 0xff
            bytes = mapped ? Array(v6[12..<16]) : Array(v6[0..<8])
        } else {
            return nil
        }
    }

    /// Wraps raw bytes (4 for IPv4, 8 for an IPv6 /64).
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 8 else { return nil }
        self.bytes = bytes
    }

    /// True for IPv4.
    public var isIPv4: Bool { bytes.count == 4 }

    /// The /24 (IPv4) or /48 (IPv6) network containing this source.
    public var prefix: SourcePrefix {
        SourcePrefix(bytes: isIPv4 ? Array(bytes[0..<3]) : Array(bytes[0..<6]))
    }

    public static func < (lhs: SourceAddress, rhs: SourceAddress) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    public var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        return SourceAddress.groups(bytes) + "::/64"
    }

    static func groups(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: bytes.count, by: 2).map { index in
            String(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]), radix: 16)
        }.joined(separator: ":")
    }

    // MARK: - Parsing

    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.utf8.count), part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let value = UInt8(part) else { return nil }
            out.append(value)
        }
        return out
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        guard text.utf8.count <= 45, !text.isEmpty else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func parseGroups(_ part: String, allowIPv4Tail: Bool) -> [UInt8]? {
            if part.isEmpty { return [] }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            var out: [UInt8] = []
            for (index, piece) in pieces.enumerated() {
                if allowIPv4Tail, index == pieces.count - 1, piece.contains(".") {
                    guard let v4 = parseIPv4(piece) else { return nil }
                    out += v4
                    continue
                }
                guard (1...4).contains(piece.utf8.count), let value = UInt16(piece, radix: 16) else { return nil }
                out += [UInt8(value >> 8), UInt8(value & 0xff)]
            }
            return out
        }
        if halves.count == 1 {
            guard let all = parseGroups(halves[0], allowIPv4Tail: true), all.count == 16 else { return nil }
            return all
        }
        guard let head = parseGroups(halves[0], allowIPv4Tail: false),
              let tail = parseGroups(halves[1], allowIPv4Tail: true),
              head.count + tail.count <= 14 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}

/// A /24 IPv4 or /48 IPv6 network: the unit of prefix limits and prefix blocks.
public struct SourcePrefix: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// 3 bytes for IPv4, 6 bytes for IPv6.
    public let bytes: [UInt8]

    /// Wraps raw prefix bytes.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// True when `source` lies inside this prefix.
    public func contains(_ source: SourceAddress) -> Bool { source.prefix == self }

    public static func < (lhs: SourcePrefix, rhs: SourcePrefix) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    public var description: String {
        if bytes.count == 3 { return bytes.map(String.init).joined(separator: ".") + ".0/24" }
        return SourceAddress.groups(bytes) + "::/48"
    }
}
