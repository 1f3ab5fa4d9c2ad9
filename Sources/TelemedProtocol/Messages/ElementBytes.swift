// MARK: - ElementBytes

/// A group element as it travels on the wire: exactly L bytes, big-endian, left-padded with
/// zeros (PROTOCOL.md §4). The codec checks the length against its configured L; whether the
/// value is a valid subgroup element is the crypto layer's check (R-ELEM), not this type's.
public struct ElementBytes: Sendable, Hashable, CustomStringConvertible {
    /// The L big-endian bytes.
    public let bytes: [UInt8]

    /// Wraps `bytes` without checking their length (the codec and the crypto layer check).
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Wraps `bytes` without checking their length (the codec and the crypto layer check).
    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// A short, non-secret summary (elements on the wire are public values).
    public var description: String { "ElementBytes(\(bytes.count) bytes)" }
}
