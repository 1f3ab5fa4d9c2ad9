/// The network identity a failure or block is charged to (PROTOCOL.md §5, "Sources and counters").
///
/// A source is an IP address: an IPv4 address as /32, an IPv6 address truncated to its /64,
/// an IPv4-mapped IPv6 address normalised to IPv4. Its ``prefix`` is the /24 (IPv4) or /48
/// (IPv6) network that pending-handshake limits and prefix blocks apply to.
///
/// The core never reads address text: a host builds a source from the address bytes its
/// transport reports (``init(addressBytes:)``), and parses any text (operator commands, test
/// scenarios) with its transport's one strict IP parser before calling that initializer.
public struct SourceAddress: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// 4 bytes for IPv4, 8 bytes (the /64) for IPv6.
    public let bytes: [UInt8]

    /// The source of an IP address given as 4 (IPv4) or 16 (IPv6) bytes in network order.
    ///
    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) becomes that IPv4 address; any other IPv6
    /// address keeps its first 64 bits. Returns nil for any other byte count.
    public init?(addressBytes: [UInt8]) {
        switch addressBytes.count {
        case 4:
            bytes = addressBytes
        case 16:
            let mapped = addressBytes[0..<10].allSatisfy { $0 == 0 }
                && addressBytes[10] == 0xff && addressBytes[11] == 0xff
            bytes = mapped ? Array(addressBytes[12..<16]) : Array(addressBytes[0..<8])
        default:
            return nil
        }
    }

    /// Rebuilds a source from its stored ``bytes`` (4 for IPv4, 8 for an IPv6 /64); nil for any
    /// other count.
    public init?(storedBytes: [UInt8]) {
        guard storedBytes.count == 4 || storedBytes.count == 8 else { return nil }
        bytes = storedBytes
    }

    /// Decodes the stored ``bytes``, refusing a count that is no source.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let stored = try container.decode([UInt8].self, forKey: .bytes)
        guard let source = SourceAddress(storedBytes: stored) else {
            throw DecodingError.dataCorruptedError(forKey: .bytes, in: container,
                                                   debugDescription: "a source has 4 or 8 bytes")
        }
        self = source
    }

    /// True for IPv4.
    public var isIPv4: Bool { bytes.count == 4 }

    /// The /24 (IPv4) or /48 (IPv6) network containing this source.
    public var prefix: SourcePrefix {
        SourcePrefix(bytes: isIPv4 ? Array(bytes[0..<3]) : Array(bytes[0..<6]))
    }

    /// Orders sources by their bytes (IPv4 sources and IPv6 sources interleave by first bytes).
    public static func < (lhs: SourceAddress, rhs: SourceAddress) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    /// `192.0.2.1` for IPv4; the four uncompressed /64 groups and `::/64` for IPv6
    /// (`2001:db8:1:2::/64`). Audit rows, traces and fixtures record this form.
    public var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        return SourceAddress.groups(bytes) + "::/64"
    }

    /// Hex 16-bit groups without leading zeros, joined by `:`.
    static func groups(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: bytes.count, by: 2).map { index in
            String(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]), radix: 16)
        }.joined(separator: ":")
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

    /// Orders prefixes by their bytes.
    public static func < (lhs: SourcePrefix, rhs: SourcePrefix) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    /// `192.0.2.0/24` for IPv4; the three uncompressed groups and `::/48` for IPv6.
    public var description: String {
        if bytes.count == 3 { return bytes.map(String.init).joined(separator: ".") + ".0/24" }
        return SourceAddress.groups(bytes) + "::/48"
    }
}
