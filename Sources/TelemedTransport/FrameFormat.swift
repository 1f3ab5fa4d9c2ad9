// MARK: - FrameFormat

/// The framing every transport uses: `u32be(n) ‖ body`, with 1 ≤ n ≤ 65536.
public enum FrameFormat {
    /// Bytes in the length prefix.
    public static let prefixLength = 4
    /// The longest body a frame may carry.
    public static let maximumBodyLength = 65_536

    /// Why an announced length is refused, or `nil` when it is acceptable.
    public static func violation(forAnnouncedLength length: UInt32) -> CloseReason? {
        if length == 0 { return .emptyFrame }
        if length > UInt32(maximumBodyLength) { return .oversizeFrame(length) }
        return nil
    }

    /// The prefix and the body, ready for the wire.
    ///
    /// - Precondition: `body.count` is in `1...maximumBodyLength`; sending anything else is a
    ///   bug in the caller, not something a peer can cause.
    public static func encode(_ body: [UInt8]) -> [UInt8] {
        precondition(
            (1...maximumBodyLength).contains(body.count),
            "A frame body must be 1...65536 bytes; the caller built one of \(body.count) bytes."
        )
        let n = UInt32(body.count)
        var out: [UInt8] = [UInt8(truncatingIfNeeded: n >> 24), UInt8(truncatingIfNeeded: n >> 16),
                            UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
        out.reserveCapacity(prefixLength + body.count)
        out.append(contentsOf: body)
        return out
    }
}
