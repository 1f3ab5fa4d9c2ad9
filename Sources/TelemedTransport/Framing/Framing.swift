// MARK: - Framing

/// The frame layer of the wire protocol (PROTOCOL.md §4 "Framing"): `u32be(n) ‖ body`, with
/// 1 ≤ n ≤ 65536. This is the only place the length prefix is written; ``FrameDecoder`` is
/// the only place it is read. Both transports (TCP and in-memory) use them.
public enum Framing {
    /// The largest body a frame may carry, in bytes.
    public static let maxBodyLength = 65_536

    /// The size of the length prefix, in bytes.
    public static let headerLength = 4

    /// Prefixes `body` with its big-endian 32-bit length: the bytes to put on the wire.
    ///
    /// - Precondition: `body` has 1…65536 bytes. A larger or empty body is a bug in the
    ///   sender (every protocol message fits), never something a peer can cause.
    public static func frame(_ body: [UInt8]) -> [UInt8] {
        precondition(
            (1...maxBodyLength).contains(body.count),
            "a frame body must have 1...\(maxBodyLength) bytes, not \(body.count)"
        )
        let length = UInt32(body.count)
        var out: [UInt8] = []
        out.reserveCapacity(headerLength + body.count)
        out.append(UInt8(truncatingIfNeeded: length >> 24))
        out.append(UInt8(truncatingIfNeeded: length >> 16))
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
        out.append(contentsOf: body)
        return out
    }
}
