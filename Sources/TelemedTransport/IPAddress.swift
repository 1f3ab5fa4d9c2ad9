// MARK: - IPAddress

/// An IPv4 or IPv6 address in normalised form.
///
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) become the IPv4 address, so one host has one
/// identity whichever socket family accepted it. The text form is the dotted quad for IPv4
/// and the RFC 5952 canonical form for IPv6 (lowercase, no leading zeros, the longest run of
/// two or more zero groups — the first of equal runs — written `::`).
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address bytes in network order: 4 for IPv4, 16 for IPv6.
    public let bytes: [UInt8]

    /// Builds an address from 4 or 16 network-order bytes (nil for any other count).
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4:
            self.bytes = bytes
        case 16:
            let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
            self.bytes = mapped ? Array(bytes[12..<16]) : bytes
        default:
            return nil
        }
    }

    /// Parses a textual IPv4 (strict dotted quad) or IPv6 address; nil if it is neither.
    /// Zone identifiers (`%eth0`) are not accepted.
    public init?(_ text: String) {
        if let v4 = IPAddressText.parseIPv4(Substring(text)) {
            self.init(bytes: v4)
        } else if let v6 = IPAddressText.parseIPv6(text) {
            self.init(bytes: v6)
        } else {
            return nil
        }
    }

    /// Whether this is an IPv4 address (including one that arrived IPv4-mapped).
    public var isIPv4: Bool { bytes.count == 4 }

    /// The address with every bit after the first `prefixLength` cleared (e.g. 24 for an
    /// IPv4 /24 network, 48 or 64 for IPv6).
    ///
    /// - Precondition: `prefixLength` is within the address width.
    public func masked(toPrefixLength prefixLength: Int) -> IPAddress {
        precondition(
            (0...bytes.count * 8).contains(prefixLength),
            "A prefix length of \(prefixLength) does not fit a \(bytes.count * 8)-bit address."
        )
        var out = bytes
        for index in out.indices {
            let keep = min(max(prefixLength - index * 8, 0), 8)
            out[index] &= keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - keep))
        }
        return IPAddress(uncheckedBytes: out)
    }

    /// The normalised text form.
    public var description: String {
        isIPv4 ? IPAddressText.formatIPv4(bytes) : IPAddressText.formatIPv6(bytes)
    }

    private init(uncheckedBytes: [UInt8]) {
        self.bytes = uncheckedBytes
    }
}
