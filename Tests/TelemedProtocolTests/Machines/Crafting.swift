@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol

/// Builds protocol messages by hand, the way an attacker (or a test) would.
struct Crafter {
    let group = Harness.group
    var codec: MessageCodec { MessageCodec(groupName: group.name, elementLength: group.elementLength) }

    func element(_ value: BigInt) -> ElementBytes {
        ElementBytes(bytes: (try? value.bytes(width: group.elementLength)) ?? [])
    }

    /// A KEY_VERIFICATION claiming `id`, signed by `signer` over exactly what it carries
    /// unless `signOver` supplies other bytes.
    func request(claiming id: String, signer: PrivateKey, ts: UInt64, rn: Bytes32? = nil,
                 groupName: String? = nil, idGWN: String = "doctor",
                 c1: ElementBytes? = nil, c2: ElementBytes? = nil,
                 rng: inout SeededRandom, signOver: (([UInt8]) -> [UInt8])? = nil) throws -> KeyVerification {
        let element = group.randomElement(using: &rng)
        let ciphertext = ElGamal.encrypt(element, to: Harness.keyCache.key("doctor").publicKey, using: &rng)
        let unsigned = KeyVerification(
            group: groupName ?? group.name, idI: try PeerID(id), idGWN: try PeerID(idGWN), tsI: ts,
            rnI: rn ?? Bytes32(random: &rng),
            c1: c1 ?? ElementBytes(bytes: group.encodeElement(ciphertext.c1)),
            c2: c2 ?? ElementBytes(bytes: group.encodeElement(ciphertext.c2)),
            sigR: ElementBytes(bytes: [UInt8](repeating: 0, count: group.elementLength)), sigS: .zero)
        var signed = SignedBytes.keyVerification(unsigned)
        if let signOver { signed = signOver(signed) }
        let signature = signer.sign(signed, using: &rng)
        return withSignature(unsigned, r: ElementBytes(bytes: signature.rBytes(in: group)),
                             s: .unchecked(signature.sBytes(in: group)))
    }

    func withSignature(_ m: KeyVerification, r: ElementBytes, s: Bytes32) -> KeyVerification {
        KeyVerification(group: m.group, idI: m.idI, idGWN: m.idGWN, tsI: m.tsI, rnI: m.rnI,
                        c1: m.c1, c2: m.c2, sigR: r, sigS: s)
    }

    func withID(_ m: KeyVerification, _ id: String) throws -> KeyVerification {
        KeyVerification(group: m.group, idI: try PeerID(id), idGWN: m.idGWN, tsI: m.tsI, rnI: m.rnI,
                        c1: m.c1, c2: m.c2, sigR: m.sigR, sigS: m.sigS)
    }

    func encode(_ m: KeyVerification) -> [UInt8] { codec.encode(.keyVerification(m)) }

    func decode(_ body: [UInt8]) -> Message? { try? codec.decode(body) }
}
