import TelemedCrypto

// MARK: - Encoding

extension MessageCodec {
    /// Compact JSON of `message`, keys in the table's order (PROTOCOL.md §4). Fields are
    /// written as given: the encoder does not check lengths or ranges (see the top of
    /// MessageCodec.swift), so a message the decoder would refuse is still written faithfully.
    public func encode(_ message: Message) -> [UInt8] {
        var writer = JSONWriter()
        writer.integer("opcode", UInt64(message.opcode.rawValue))
        switch message {
        case .keyVerification(let m):
            writer.string("group", m.group)
            writer.string("id_i", m.idI.value)
            writer.string("id_gwn", m.idGWN.value)
            writer.integer("ts_i", m.tsI)
            writer.hex("rn_i", m.rnI.bytes)
            writer.hex("c1", m.c1.bytes)
            writer.hex("c2", m.c2.bytes)
            writer.hex("sig_r", m.sigR.bytes)
            writer.hex("sig_s", m.sigS.bytes)
        case .keyVerificationV2(let m):
            writer.string("group", m.group)
            writer.string("id_i", m.idI.value)
            writer.string("id_gwn", m.idGWN.value)
            writer.integer("ts_i", m.tsI)
            writer.hex("rn_i", m.rnI.bytes)
            writer.hex("c1", m.c1.bytes)
            writer.hex("c2", m.c2.bytes)
            writer.hex("dh_i", m.dhI.bytes)
            writer.hex("sig_r", m.sigR.bytes)
            writer.hex("sig_s", m.sigS.bytes)
        case .keyConfirmation(let m):
            writer.string("id_i", m.idI.value)
            writer.integer("ts", m.ts)
            writer.hex("skv", m.skv.bytes)
        case .sessionToken(let m):
            writer.string("group", m.group)
            writer.string("id_gwn", m.idGWN.value)
            writer.string("id_i", m.idI.value)
            writer.integer("ts_gwn", m.tsGWN)
            writer.hex("rn_gwn", m.rnGWN.bytes)
            writer.hex("rn_i", m.rnI.bytes)
            writer.hex("c1", m.c1.bytes)
            writer.hex("c2", m.c2.bytes)
            writer.hex("sig_r", m.sigR.bytes)
            writer.hex("sig_s", m.sigS.bytes)
        case .sessionTokenV2(let m):
            writer.string("group", m.group)
            writer.string("id_gwn", m.idGWN.value)
            writer.string("id_i", m.idI.value)
            writer.integer("ts_gwn", m.tsGWN)
            writer.hex("rn_gwn", m.rnGWN.bytes)
            writer.hex("rn_i", m.rnI.bytes)
            writer.hex("c1", m.c1.bytes)
            writer.hex("c2", m.c2.bytes)
            writer.hex("dh_gwn", m.dhGWN.bytes)
            writer.hex("sig_r", m.sigR.bytes)
            writer.hex("sig_s", m.sigS.bytes)
        case .groupKey(let m):
            writer.integer("epoch", m.epoch)
            writer.integer("seq", m.seq)
            writer.integer("members", m.members)
            writer.hex("ct", m.ct)
        case .encMsg(let m):
            writer.integer("epoch", m.epoch)
            writer.integer("seq", m.seq)
            writer.integer("ts", m.ts)
            writer.hex("ct", m.ct)
            writer.hex("sig_r", m.sigR.bytes)
            writer.hex("sig_s", m.sigS.bytes)
        case .decMsg(let m):
            writer.string("id_i", m.idI.value)
            writer.integer("seq", m.seq)
            writer.hex("ct", m.ct)
        case .disconnect(let m):
            writer.integer("seq", m.seq)
            writer.hex("ct", m.ct)
        case .rejected:
            break
        }
        return writer.finish()
    }
}
