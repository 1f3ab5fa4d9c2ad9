import TelemedCrypto

// MARK: - AssociatedData

/// The AES-256-GCM associated data of each sealed message (PROTOCOL.md §4 "Messages"); every
/// label and field is `lp()`-wrapped and integers are `lp(u64be)`.
public enum AssociatedData {
    /// Label of GROUP_KEY's AAD.
    public static let groupKeyLabel = "TELEMED-V1 GROUP_KEY"
    /// Label of ENC_MSG's AAD.
    public static let broadcastLabel = "TELEMED-V1 ENC_MSG"
    /// Label of DEC_MSG's AAD.
    public static let receiptLabel = "TELEMED-V1 DEC_MSG"
    /// Label of DISCONNECT's AAD.
    public static let disconnectLabel = "TELEMED-V1 DISCONNECT"

    /// lp(label) lp(id_gwn) lp(id_i) lp(u64 epoch) lp(u64 seq) lp(u64 members).
    public static func groupKey(idGWN: PeerID, idI: PeerID, epoch: UInt64, seq: UInt64, members: UInt64) -> [UInt8] {
        var writer = LPWriter()
        writer.lp(groupKeyLabel)
        writer.lp(idGWN.bytes)
        writer.lp(idI.bytes)
        writer.lpU64(epoch)
        writer.lpU64(seq)
        writer.lpU64(members)
        return writer.bytes
    }

    /// lp(label) lp(id_gwn) lp(u64 epoch) lp(u64 seq) lp(u64 ts).
    public static func broadcast(idGWN: PeerID, epoch: UInt64, seq: UInt64, ts: UInt64) -> [UInt8] {
        var writer = LPWriter()
        writer.lp(broadcastLabel)
        writer.lp(idGWN.bytes)
        writer.lpU64(epoch)
        writer.lpU64(seq)
        writer.lpU64(ts)
        return writer.bytes
    }

    /// lp(label) lp(id_i) lp(id_gwn) lp(u64 seq).
    public static func receipt(idI: PeerID, idGWN: PeerID, seq: UInt64) -> [UInt8] {
        var writer = LPWriter()
        writer.lp(receiptLabel)
        writer.lp(idI.bytes)
        writer.lp(idGWN.bytes)
        writer.lpU64(seq)
        return writer.bytes
    }

    /// lp(label) lp(sender id) lp(receiver id) lp(u64 seq).
    public static func disconnect(sender: PeerID, receiver: PeerID, seq: UInt64) -> [UInt8] {
        var writer = LPWriter()
        writer.lp(disconnectLabel)
        writer.lp(sender.bytes)
        writer.lp(receiver.bytes)
        writer.lpU64(seq)
        return writer.bytes
    }
}
