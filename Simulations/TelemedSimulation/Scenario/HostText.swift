import TelemedProtocol
import TelemedTransport

// MARK: - HostText

/// Address text in scenario files, normalised when the file is read.
///
/// A scenario may write an address in any valid spelling (`::ffff:198.51.100.9`, `2001:DB8::1`,
/// `2001:db8:0:0::1`); the loader keeps only the transport's normalised text
/// (`IPAddress.description`: the dotted quad for IPv4 and IPv4-mapped IPv6, RFC 5952 for IPv6).
/// Every place that uses address text as a key (the simulated endpoints, the connections an
/// attacker reuses, block expectations) therefore sees one spelling per address, and two
/// spellings of one address are one host. Text that is not an address is refused here with its
/// JSON path, so no address text from a file reaches the in-memory network unchecked.
enum HostText {
    /// The normalised form of an IPv4 or IPv6 address, or a ``ScenarioError`` at `path`.
    static func normalized(_ text: String, at path: String) throws(ScenarioError) -> String {
        guard let address = IPAddress(text) else {
            throw ScenarioError(path: path, message: "\"\(text)\" is not an IPv4 or IPv6 address")
        }
        return address.description
    }

    /// `address` + `offset`, counting the address as one big-endian number; nil past the end
    /// of its family's address space.
    static func address(_ address: IPAddress, plus offset: UInt64) -> IPAddress? {
        var bytes = address.bytes
        var carry = offset
        for index in bytes.indices.reversed() where carry > 0 {
            let sum = UInt64(bytes[index]) + (carry & 0xff)
            bytes[index] = UInt8(truncatingIfNeeded: sum)
            carry = (carry >> 8) + (sum >> 8)
        }
        guard carry == 0 else { return nil }
        return IPAddress(bytes: bytes)
    }

    /// A block target as `blocked` / `notBlocked` name it, normalised: a source (`203.0.113.7`),
    /// a device (`alice@203.0.113.7`, the id as written, the address normalised) or a prefix
    /// (`203.0.113.0/24`, `2001:db8::/48`: the network address, with exactly the prefix length
    /// the doctor blocks, /24 for IPv4 and /48 for IPv6).
    static func blockTarget(_ text: String, at path: String) throws(ScenarioError) -> String {
        if let at = text.lastIndex(of: "@") {
            let id = String(text[..<at])
            guard (try? PeerID(id)) != nil else {
                throw ScenarioError(path: path, message: "\"\(id)\" in \"\(text)\" is not a valid patient id")
            }
            return id + "@" + (try normalized(String(text[text.index(after: at)...]), at: path))
        }
        if let slash = text.firstIndex(of: "/") {
            guard let address = IPAddress(String(text[..<slash])) else {
                throw ScenarioError(path: path, message: "\"\(text)\" is not a prefix (203.0.113.0/24 or 2001:db8::/48)")
            }
            let length = address.isIPv4 ? 24 : 48
            guard String(text[text.index(after: slash)...]) == String(length) else {
                throw ScenarioError(path: path, message: "\"\(text)\": the doctor blocks /\(length) prefixes of "
                    + (address.isIPv4 ? "IPv4" : "IPv6") + " addresses")
            }
            return address.masked(toPrefixLength: length).description + "/\(length)"
        }
        return try normalized(text, at: path)
    }
}
