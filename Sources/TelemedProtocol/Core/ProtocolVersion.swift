/// The protocol versions (PROTOCOL.md §8.6). A handshake's version is fixed by its first
/// frame: opcode 10 is version 1, opcode 12 version 2; every frame after the handshake is shared.
public enum ProtocolVersion: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    /// Version 1 (§4, §5, §7): SK hashes K and K_GWN. Kept for migration only.
    case v1 = 1
    /// Version 2 (§8): forward secrecy; SK also hashes Z = g^(ab) and both signed digests.
    case v2 = 2

    public static func < (lhs: ProtocolVersion, rhs: ProtocolVersion) -> Bool { lhs.rawValue < rhs.rawValue }

    /// "1" or "2".
    public var description: String { String(rawValue) }
}
