import TelemedCrypto

// MARK: - MessageCodec
//
// Theory of operation
//
// `decode` turns one frame body into a `Message` or a `DecodeError`, checking in this order
// (the first failure wins, so the same input always gives the same error):
//
//   1. the strict JSON grammar (UTF-8, no BOM, one object, nothing after it);
//   2. no key twice (bytes compared after unescaping; first repeat in document order);
//   3. `opcode`: present, an integer in range, one of the ten opcodes (§4 and §8.3);
//   4. the exact key set of that opcode: the first unknown key in document order, then the
//      first missing key in table order;
//   5. the fields in the table's order, which puts `group` (opcodes 10, 12, 20, 22) first after the
//      opcode: type, integer range, lowercase hex, byte length, id syntax, group name.
//
// `encode` writes compact JSON in the table's key order. It writes the fields as given and
// does not validate them, so tests and the simulator can build frames the decoder refuses
// (a truncated ct, a short element); everything the state machines build round-trips.

/// The JSON body codec of PROTOCOL.md §4 for one configured group.
public struct MessageCodec: Sendable {
    /// The only group name accepted in `group` fields (R-GROUP), e.g. "telemed-2048-256".
    public let groupName: String
    /// L, the byte length of p and of every group element on the wire.
    public let elementLength: Int

    /// The largest message body (PROTOCOL.md §4 "Framing": 1 ≤ n ≤ 65536). The wire's length
    /// prefix is read and written by `TelemedTransport.Framing`, which enforces the same bound
    /// before a body byte is read; the machines check it again for hosts that feed them bodies
    /// without a transport.
    public static let maxBodyLength = 65_536

    /// A codec for the group `groupName` whose elements are `elementLength` (= L) bytes.
    public init(groupName: String, elementLength: Int) {
        precondition(elementLength > 0, "elementLength (L) must be positive")
        self.groupName = groupName
        self.elementLength = elementLength
    }

    // MARK: - Decoding

    /// Decodes one frame body.
    ///
    /// - Throws: the first `DecodeError` in the order described at the top of this file.
    public func decode(_ body: [UInt8]) throws(DecodeError) -> Message {
        let members = try StrictJSONParser.parseObject(body)
        try MessageCodec.checkDistinctKeys(members)
        let opcode = try MessageCodec.opcode(of: members)
        try MessageCodec.checkKeySet(members, of: opcode)
        let fields = FieldReader(members)
        switch opcode {
        case .keyVerification: return .keyVerification(try keyVerification(fields))
        case .keyVerificationV2: return .keyVerificationV2(try keyVerificationV2(fields))
        case .keyConfirmation: return .keyConfirmation(try keyConfirmation(fields))
        case .sessionToken: return .sessionToken(try sessionToken(fields))
        case .sessionTokenV2: return .sessionTokenV2(try sessionTokenV2(fields))
        case .groupKey: return .groupKey(try groupKey(fields))
        case .encMsg: return .encMsg(try broadcast(fields))
        case .decMsg: return .decMsg(try receipt(fields))
        case .disconnect: return .disconnect(try disconnect(fields))
        case .rejected: return .rejected
        }
    }

    private static func checkDistinctKeys(_ members: [JSONMember]) throws(DecodeError) {
        var seen = Set<[UInt8]>()
        for member in members where !seen.insert(member.key).inserted {
            throw .duplicateKey(DecodeError.render(member.key))
        }
    }

    private static func opcode(of members: [JSONMember]) throws(DecodeError) -> Opcode {
        let key = Array("opcode".utf8)
        guard let member = members.first(where: { $0.key == key }) else { throw .missingKey("opcode") }
        guard case .number(let number) = member.value else { throw .wrongType("opcode") }
        switch number.kind {
        case .integer(let value):
            guard value <= UInt64(UInt8.max), let opcode = Opcode(rawValue: UInt8(value)) else {
                throw .unknownOpcode(value)
            }
            return opcode
        case .tooLarge, .negative:
            throw .integerOutOfRange("opcode")
        case .notInteger:
            throw .wrongType("opcode")
        }
    }

    private static func checkKeySet(_ members: [JSONMember], of opcode: Opcode) throws(DecodeError) {
        let expected = MessageSchema.keys(of: opcode).map { Array($0.utf8) }
        let allowed = Set(expected)
        for member in members where !allowed.contains(member.key) {
            throw .unknownKey(DecodeError.render(member.key))
        }
        let present = Set(members.map(\.key))
        for key in expected where !present.contains(key) {
            throw .missingKey(String(decoding: key, as: UTF8.self))
        }
    }

    // MARK: - Per-opcode field rules

    private func keyVerification(_ fields: FieldReader) throws(DecodeError) -> KeyVerification {
        let group = try fields.group("group", expected: groupName)
        return KeyVerification(
            group: group,
            idI: try fields.id("id_i"),
            idGWN: try fields.id("id_gwn"),
            tsI: try fields.integer("ts_i"),
            rnI: try fields.bytes32("rn_i"),
            c1: try fields.element("c1", length: elementLength),
            c2: try fields.element("c2", length: elementLength),
            sigR: try fields.element("sig_r", length: elementLength),
            sigS: try fields.bytes32("sig_s")
        )
    }

    private func keyVerificationV2(_ fields: FieldReader) throws(DecodeError) -> KeyVerificationV2 {
        let group = try fields.group("group", expected: groupName)
        return KeyVerificationV2(
            group: group,
            idI: try fields.id("id_i"),
            idGWN: try fields.id("id_gwn"),
            tsI: try fields.integer("ts_i"),
            rnI: try fields.bytes32("rn_i"),
            c1: try fields.element("c1", length: elementLength),
            c2: try fields.element("c2", length: elementLength),
            dhI: try fields.element("dh_i", length: elementLength),
            sigR: try fields.element("sig_r", length: elementLength),
            sigS: try fields.bytes32("sig_s")
        )
    }

    private func sessionTokenV2(_ fields: FieldReader) throws(DecodeError) -> SessionTokenV2 {
        let group = try fields.group("group", expected: groupName)
        return SessionTokenV2(
            group: group,
            idGWN: try fields.id("id_gwn"),
            idI: try fields.id("id_i"),
            tsGWN: try fields.integer("ts_gwn"),
            rnGWN: try fields.bytes32("rn_gwn"),
            rnI: try fields.bytes32("rn_i"),
            c1: try fields.element("c1", length: elementLength),
            c2: try fields.element("c2", length: elementLength),
            dhGWN: try fields.element("dh_gwn", length: elementLength),
            sigR: try fields.element("sig_r", length: elementLength),
            sigS: try fields.bytes32("sig_s")
        )
    }

    private func keyConfirmation(_ fields: FieldReader) throws(DecodeError) -> KeyConfirmation {
        KeyConfirmation(
            idI: try fields.id("id_i"),
            ts: try fields.integer("ts"),
            skv: try fields.bytes32("skv")
        )
    }

    private func sessionToken(_ fields: FieldReader) throws(DecodeError) -> SessionToken {
        let group = try fields.group("group", expected: groupName)
        return SessionToken(
            group: group,
            idGWN: try fields.id("id_gwn"),
            idI: try fields.id("id_i"),
            tsGWN: try fields.integer("ts_gwn"),
            rnGWN: try fields.bytes32("rn_gwn"),
            rnI: try fields.bytes32("rn_i"),
            c1: try fields.element("c1", length: elementLength),
            c2: try fields.element("c2", length: elementLength),
            sigR: try fields.element("sig_r", length: elementLength),
            sigS: try fields.bytes32("sig_s")
        )
    }

    private func groupKey(_ fields: FieldReader) throws(DecodeError) -> GroupKeyMessage {
        GroupKeyMessage(
            epoch: try fields.integer("epoch"),
            seq: try fields.integer("seq"),
            members: try fields.integer("members"),
            ct: try fields.hex("ct", lengths: MessageSchema.ciphertextLengths(of: .groupKey))
        )
    }

    private func broadcast(_ fields: FieldReader) throws(DecodeError) -> BroadcastMessage {
        BroadcastMessage(
            epoch: try fields.integer("epoch"),
            seq: try fields.integer("seq"),
            ts: try fields.integer("ts"),
            ct: try fields.hex("ct", lengths: MessageSchema.ciphertextLengths(of: .encMsg)),
            sigR: try fields.element("sig_r", length: elementLength),
            sigS: try fields.bytes32("sig_s")
        )
    }

    private func receipt(_ fields: FieldReader) throws(DecodeError) -> ReceiptMessage {
        ReceiptMessage(
            idI: try fields.id("id_i"),
            seq: try fields.integer("seq"),
            ct: try fields.hex("ct", lengths: MessageSchema.ciphertextLengths(of: .decMsg))
        )
    }

    private func disconnect(_ fields: FieldReader) throws(DecodeError) -> DisconnectMessage {
        DisconnectMessage(
            seq: try fields.integer("seq"),
            ct: try fields.hex("ct", lengths: MessageSchema.ciphertextLengths(of: .disconnect))
        )
    }
}
