/// An address or network whose unauthenticated failures the doctor never counts (see
/// ``DoctorConfiguration/trustedSources`` and the "Trusted sources" section of the security
/// rules).
///
/// A trusted source is a network: the first ``prefixLength`` bits of ``bytes``. It is matched
/// against ``SourceAddress`` values, which are IPv4 addresses (/32) and IPv6 /64 networks, so
/// an IPv6 entry is at most a /64 (a single IPv6 address stands for the /64 it lies in, which
/// is the source the doctor charges failures to). An IPv4-mapped IPv6 address is its IPv4
/// address, as for sources (its prefix length then counts IPv4 bits).
///
/// The core reads no address text: a host parses the operator's text (`10.1.2.0/24`,
/// `192.0.2.7`, `2001:db8::/48`) with its transport's IP parser and calls
/// ``init(addressBytes:prefixLength:)``.
public struct TrustedSource: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The network bytes with every bit after ``prefixLength`` cleared: 4 for IPv4, 8 for IPv6
    /// (the /64 a source keeps).
    public let bytes: [UInt8]
    /// The number of leading bits that must match: 0–32 for IPv4, 0–64 for IPv6.
    public let prefixLength: Int

    /// Why an address and prefix length make no trusted source.
    public enum Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        /// Neither 4 nor 16 address bytes.
        case notAnAddress(byteCount: Int)
        /// A prefix length beyond the entry's family: 32 for IPv4, 64 for IPv6.
        case prefixLengthOutOfRange(Int, allowed: ClosedRange<Int>)

        public var description: String {
            switch self {
            case let .notAnAddress(count):
                return "\(count) address bytes are neither IPv4 (4) nor IPv6 (16)"
            case let .prefixLengthOutOfRange(length, allowed):
                return "prefix length /\(length) is outside /\(allowed.lowerBound)...\(allowed.upperBound)"
                    + (allowed.upperBound == 64 ? " (IPv6 sources are /64 networks)" : "")
            }
        }
    }

    /// The network of `prefixLength` leading bits of an address given as 4 (IPv4) or 16 (IPv6)
    /// network-order bytes; `prefixLength` nil means the whole source (/32, or the IPv6 /64).
    ///
    /// - Throws: ``Refusal`` for another byte count or a prefix length beyond /32 (IPv4) or /64
    ///   (IPv6).
    public init(addressBytes: [UInt8], prefixLength: Int? = nil) throws(Refusal) {
        guard let source = SourceAddress(addressBytes: addressBytes) else {
            throw .notAnAddress(byteCount: addressBytes.count)
        }
        let width = source.bytes.count * 8
        let length = prefixLength ?? width
        guard (0...width).contains(length) else { throw .prefixLengthOutOfRange(length, allowed: 0...width) }
        self.prefixLength = length
        self.bytes = source.bytes.enumerated().map { index, byte in
            let keep = min(max(length - index * 8, 0), 8)
            return keep == 0 ? 0 : byte & UInt8(truncatingIfNeeded: 0xff << (8 - keep))
        }
    }

    /// True for an IPv4 network.
    public var isIPv4: Bool { bytes.count == 4 }

    /// True when `source` lies inside this network (an IPv4 entry never matches an IPv6
    /// source, nor the reverse).
    public func contains(_ source: SourceAddress) -> Bool {
        guard source.bytes.count == bytes.count else { return false }
        for index in bytes.indices {
            let keep = min(max(prefixLength - index * 8, 0), 8)
            if keep == 0 { return true }
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - keep))
            if source.bytes[index] & mask != bytes[index] { return false }
        }
        return true
    }

    /// Orders entries by family, bytes, then prefix length.
    public static func < (lhs: TrustedSource, rhs: TrustedSource) -> Bool {
        if lhs.bytes.count != rhs.bytes.count { return lhs.bytes.count < rhs.bytes.count }
        if lhs.bytes != rhs.bytes { return lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
        return lhs.prefixLength < rhs.prefixLength
    }

    /// `10.1.2.0/24`, `192.0.2.7/32`; for IPv6 the four uncompressed /64 groups and the length
    /// (`2001:db8:0:0::/48`).
    public var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") + "/\(prefixLength)" }
        return SourceAddress.groups(bytes) + "::/\(prefixLength)"
    }
}
