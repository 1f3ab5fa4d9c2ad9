@_spi(Testing) import TelemedCrypto
import TelemedProtocol

extension Simulation {
    // MARK: - Editing frames

    /// Applies one edit to a frame body.
    func apply(_ mutation: Mutation, to body: [UInt8]) throws(SimulationFailure) -> [UInt8] {
        if case let .flipBodyBit(bit) = mutation {
            guard !body.isEmpty else { return body }
            let index = bit >= 0 ? bit : body.count * 8 + bit
            guard index >= 0, index < body.count * 8 else { throw SimulationFailure(message: "bit \(bit) is outside the body") }
            var out = body
            out[index / 8] ^= 0x80 >> UInt8(index % 8)
            return out
        }
        // Fields are edited on the codec's own ordered representation: the frame's members as
        // the protocol parser reads them, written back by the one JSON writer.
        guard let parsed = try? StrictJSONParser.parseDocument(body), case var .object(members) = parsed else {
            throw SimulationFailure(message: "cannot edit fields of a body that is not a JSON object")
        }
        switch mutation {
        case let .set(field, newValue):
            members.set(field, newValue.value)
        case let .copy(field, ref, sourceField):
            guard let source = try? StrictJSONParser.parseDocument(try captured(ref).body), case let .object(from) = source,
                  let value = from.first(where: { $0.key == Array(sourceField.utf8) })?.value else {
                throw SimulationFailure(message: "the captured frame has no field \(sourceField)")
            }
            members.set(field, value)
        case let .remove(field):
            members.removeAll { $0.key == Array(field.utf8) }
        case let .duplicateKey(field):
            guard let index = members.firstIndex(where: { $0.key == Array(field.utf8) }) else {
                throw SimulationFailure(message: "no field \(field) to duplicate")
            }
            members.insert(members[index], at: index + 1)
        case let .flipBit(field, bit):
            var bytes = try hexField(members, field)
            guard !bytes.isEmpty else { throw SimulationFailure(message: "field \(field) is empty") }
            let index = bit >= 0 ? bit : bytes.count * 8 + bit
            guard index >= 0, index < bytes.count * 8 else { throw SimulationFailure(message: "bit \(bit) is outside \(field)") }
            bytes[index / 8] ^= 0x80 >> UInt8(index % 8)
            members.set(field, .string(Hex.encode(bytes)))
        case let .truncate(field, count):
            let bytes = try hexField(members, field)
            members.set(field, .string(Hex.encode(bytes.dropLast(max(0, min(count, bytes.count))))))
        case let .resign(signer):
            members = try resign(members, signer: signer)
        case let .resignAnswer(signer, answering):
            members = try resignAnswer(members, signer: signer, answering: answering)
        case .flipBodyBit:
            break
        }
        return JSONWriter.write(.object(members))
    }

    private func hexField(_ members: [JSONMember], _ field: String) throws(SimulationFailure) -> [UInt8] {
        guard let text = JSONValue.object(members)[field]?.stringValue, let bytes = Hex.decode(text) else {
            throw SimulationFailure(message: "field \(field) is not a hex string")
        }
        return bytes
    }

    /// Recomputes sig_r/sig_s over the (edited) message with `signer`'s key: a valid signature
    /// by the wrong party, or over edited content.
    private func resign(_ members: [JSONMember], signer: String) throws(SimulationFailure) -> [JSONMember] {
        guard let key = keys.key(named: signer) else { throw SimulationFailure(message: "no key named \(signer)") }
        let message: Message
        do {
            message = try codec.decode(JSONWriter.write(.object(members)))
        } catch {
            throw SimulationFailure(message: "cannot re-sign a frame that does not decode: \(error)")
        }
        let signed: [UInt8]
        switch message {
        case let .keyVerification(request): signed = SignedBytes.keyVerification(request)
        case let .sessionToken(token): signed = SignedBytes.sessionToken(token)
        case let .keyVerificationV2(request): signed = SignedBytes.keyVerificationV2(request)
        case let .encMsg(broadcast):
            signed = SignedBytes.broadcast(group: keys.group.name, idGWN: keys.doctorID, epoch: broadcast.epoch,
                                           seq: broadcast.seq, ts: broadcast.ts, ct: broadcast.ct)
        default:
            throw SimulationFailure(message: "only KEY_VERIFICATION(_V2), SESSION_TOKEN and ENC_MSG are re-signed (SESSION_TOKEN_V2 signs H_1 of a request the frame does not carry)")
        }
        let signature = key.sign(signed, using: &craftRandom)
        var out = members
        out.set("sig_r", .string(Hex.encode(signature.rBytes(in: keys.group))))
        out.set("sig_s", .string(Hex.encode(signature.sBytes(in: keys.group))))
        return out
    }
}

extension Simulation {
    /// Re-signs a SESSION_TOKEN_V2 over SignData2_v2 with H_1 of the captured request
    /// `answering`: a valid signature, but over that request's transcript.
    private func resignAnswer(_ members: [JSONMember], signer: String, answering: CaptureRef) throws(SimulationFailure) -> [JSONMember] {
        guard let key = keys.key(named: signer) else { throw SimulationFailure(message: "no key named \(signer)") }
        guard case let .sessionTokenV2(token)? = try? codec.decode(JSONWriter.write(.object(members))) else {
            throw SimulationFailure(message: "resign with answering edits a SESSION_TOKEN_V2 that decodes")
        }
        guard case let .keyVerificationV2(request)? = try? codec.decode(try captured(answering).body) else {
            throw SimulationFailure(message: "answering does not name a KEY_VERIFICATION_V2")
        }
        let requestDigest = Hashing.sha256(SignedBytes.keyVerificationV2(request))
        let signature = key.sign(SignedBytes.sessionTokenV2(token, requestDigest: requestDigest), using: &craftRandom)
        var out = members
        out.set("sig_r", .string(Hex.encode(signature.rBytes(in: keys.group))))
        out.set("sig_s", .string(Hex.encode(signature.sBytes(in: keys.group))))
        return out
    }
}

extension [JSONMember] {
    /// Replaces the value of the first member named `key`, or appends the member (an unknown
    /// field) when there is none; the order of the others is kept.
    mutating func set(_ key: String, _ value: JSONValue) {
        let name = [UInt8](key.utf8)
        if let index = firstIndex(where: { $0.key == name }) {
            self[index].value = value
        } else {
            append(JSONMember(key: name, value: value))
        }
    }
}
