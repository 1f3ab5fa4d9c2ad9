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
        guard var value = try? JSONParser.parse(body), case var .object(pairs) = value else {
            throw SimulationFailure(message: "cannot edit fields of a body that is not a JSON object")
        }
        switch mutation {
        case let .set(field, newValue):
            value.set(field, newValue)
        case let .remove(field):
            value.remove(field)
        case let .duplicateKey(field):
            guard let index = pairs.firstIndex(where: { $0.0 == field }) else {
                throw SimulationFailure(message: "no field \(field) to duplicate")
            }
            pairs.insert(pairs[index], at: index + 1)
            value = .object(pairs)
        case let .flipBit(field, bit):
            var bytes = try hexField(value, field)
            guard !bytes.isEmpty else { throw SimulationFailure(message: "field \(field) is empty") }
            let index = bit >= 0 ? bit : bytes.count * 8 + bit
            guard index >= 0, index < bytes.count * 8 else { throw SimulationFailure(message: "bit \(bit) is outside \(field)") }
            bytes[index / 8] ^= 0x80 >> UInt8(index % 8)
            value.set(field, .string(Hex.encode(bytes)))
        case let .truncate(field, count):
            let bytes = try hexField(value, field)
            value.set(field, .string(Hex.encode(bytes.dropLast(max(0, min(count, bytes.count))))))
        case let .resign(signer):
            value = try resign(value, body: body, signer: signer)
        case .flipBodyBit:
            break
        }
        return Array(value.compactText.utf8)
    }

    private func hexField(_ value: JSONValue, _ field: String) throws(SimulationFailure) -> [UInt8] {
        guard let text = value[field]?.stringValue, let bytes = Hex.decode(text) else {
            throw SimulationFailure(message: "field \(field) is not a hex string")
        }
        return bytes
    }

    /// Recomputes sig_r/sig_s over the (edited) message with `signer`'s key: a valid signature
    /// by the wrong party, or over edited content.
    private func resign(_ value: JSONValue, body: [UInt8], signer: String) throws(SimulationFailure) -> JSONValue {
        guard let key = keys.key(named: signer) else { throw SimulationFailure(message: "no key named \(signer)") }
        let message: Message
        do {
            message = try codec.decode(Array(value.compactText.utf8))
        } catch {
            throw SimulationFailure(message: "cannot re-sign a frame that does not decode: \(error)")
        }
        let signed: [UInt8]
        switch message {
        case let .keyVerification(request): signed = SignedBytes.keyVerification(request)
        case let .sessionToken(token): signed = SignedBytes.sessionToken(token)
        case let .encMsg(broadcast):
            signed = SignedBytes.broadcast(group: keys.group.name, idGWN: keys.doctorID, epoch: broadcast.epoch,
                                           seq: broadcast.seq, ts: broadcast.ts, ct: broadcast.ct)
        default:
            throw SimulationFailure(message: "only KEY_VERIFICATION, SESSION_TOKEN and ENC_MSG carry signatures")
        }
        let signature = key.sign(signed, using: &craftRandom)
        var out = value
        out.set("sig_r", .string(Hex.encode(signature.rBytes(in: keys.group))))
        out.set("sig_s", .string(Hex.encode(signature.sBytes(in: keys.group))))
        return out
    }
}
