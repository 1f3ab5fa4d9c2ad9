import TelemedCrypto

// MARK: - Framing

/// The frame layer of PROTOCOL.md §4: `u32be(n) ‖ body`, 1 ≤ n ≤ 65536.
public enum Framing {
    /// The largest body a frame may carry, in bytes.
    public static let maxBodyLength = 65_536

    /// The size of the length prefix, in bytes.
    public static let headerLength = 4

    /// Prefixes `body` with its big-endian 32-bit length.
    ///
    /// Precondition: `body` has 1…65536 bytes (an empty or larger body is caller misuse:
    /// every encoded message fits).
    public static func frame(_ body: [UInt8]) -> [UInt8] {
        precondition(
            (1...maxBodyLength).contains(body.count),
            "a frame body must have 1...\(maxBodyLength) bytes, not \(body.count)"
        )
        var out = LPWriter.u32(UInt32(body.count))
        out.reserveCapacity(headerLength + body.count)
        out.append(contentsOf: body)
        return out
    }
}
