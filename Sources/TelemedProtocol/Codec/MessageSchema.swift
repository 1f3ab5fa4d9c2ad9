// MARK: - MessageSchema

/// The JSON keys of each opcode in the table's order (PROTOCOL.md §4 "Messages"): the one
/// place both the decoder's exact-key-set check and the encoder's key order come from.
enum MessageSchema {
    /// The keys of `opcode`'s object, `opcode` first, in the order senders write them.
    static func keys(of opcode: Opcode) -> [String] {
        switch opcode {
        case .keyVerification:
            ["opcode", "group", "id_i", "id_gwn", "ts_i", "rn_i", "c1", "c2", "sig_r", "sig_s"]
        case .keyVerificationV2:
            ["opcode", "group", "id_i", "id_gwn", "ts_i", "rn_i", "c1", "c2", "dh_i", "sig_r", "sig_s"]
        case .keyConfirmation:
            ["opcode", "id_i", "ts", "skv"]
        case .sessionToken:
            ["opcode", "group", "id_gwn", "id_i", "ts_gwn", "rn_gwn", "rn_i", "c1", "c2", "sig_r", "sig_s"]
        case .sessionTokenV2:
            ["opcode", "group", "id_gwn", "id_i", "ts_gwn", "rn_gwn", "rn_i", "c1", "c2", "dh_gwn", "sig_r", "sig_s"]
        case .groupKey:
            ["opcode", "epoch", "seq", "members", "ct"]
        case .encMsg:
            ["opcode", "epoch", "seq", "ts", "ct", "sig_r", "sig_s"]
        case .decMsg:
            ["opcode", "id_i", "seq", "ct"]
        case .disconnect:
            ["opcode", "seq", "ct"]
        case .rejected:
            ["opcode"]
        }
    }

    /// The allowed byte length of `ct` for `opcode` (GCM ciphertext ‖ 16-byte tag).
    static func ciphertextLengths(of opcode: Opcode) -> ClosedRange<Int> {
        switch opcode {
        case .groupKey: 48...48
        case .encMsg: 17...16_400
        case .decMsg: 32...32
        case .disconnect: 16...272
        default: 0...0
        }
    }
}
