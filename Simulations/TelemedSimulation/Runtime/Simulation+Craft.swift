@_spi(Testing) import TelemedCrypto
import TelemedProtocol

extension Simulation {
    // MARK: - Crafted messages

    /// Builds a KEY_VERIFICATION, KEY_CONFIRMATION or SESSION_TOKEN the way an attacker with
    /// the scenario's keys would, with the requested defects.
    ///
    /// With `reuseCiphertext` (floods) the fresh ElGamal ciphertext is made once and reused:
    /// the defect under test is elsewhere, and it saves two exponentiations per request.
    func craft(_ spec: CraftSpec, attacker: String, reuseCiphertext: Bool = false) throws(SimulationFailure) -> [UInt8] {
        guard let claim = try? PeerID(spec.claim) else { throw SimulationFailure(message: "invalid id \(spec.claim)") }
        let wall = clock(of: attacker)?.wall ?? doctorClock.wall
        let ts = UInt64(max(0, Int64(clamping: wall) &+ spec.tsOffsetMillis))
        let group = keys.group
        switch spec.kind {
        case .keyConfirmation:
            return codec.encode(.keyConfirmation(KeyConfirmation(idI: claim, ts: ts, skv: Bytes32(random: &craftRandom))))
        case .sessionToken:
            return try craftToken(spec, claim: claim, ts: ts)
        default:
            break
        }
        var c1: ElementBytes
        var c2: ElementBytes
        if let ref = spec.ciphertextFrom {
            guard case let .keyVerification(source)? = try? codec.decode(captured(ref).body) else {
                throw SimulationFailure(message: "ciphertextFrom does not name a KEY_VERIFICATION")
            }
            c1 = source.c1
            c2 = source.c2
        } else if reuseCiphertext, let cached = floodCiphertext {
            (c1, c2) = cached
        } else {
            let ciphertext = ElGamal.encrypt(group.randomElement(using: &craftRandom), to: keys.doctorKey.publicKey,
                                             using: &craftRandom)
            c1 = ElementBytes(bytes: ciphertext.c1Bytes(in: group))
            c2 = ElementBytes(bytes: ciphertext.c2Bytes(in: group))
            if reuseCiphertext { floodCiphertext = (c1, c2) }
        }
        if let value = spec.c1 { c1 = ElementBytes(bytes: try elementBytes(value)) }
        if let value = spec.c2 { c2 = ElementBytes(bytes: try elementBytes(value)) }
        var gateway = keys.doctorID
        if let other = spec.idGWN {
            guard let id = try? PeerID(other) else { throw SimulationFailure(message: "invalid idGWN \(other)") }
            gateway = id
        }
        var request = KeyVerification(group: group.name, idI: claim, idGWN: gateway, tsI: ts, rnI: Bytes32(random: &craftRandom),
                                      c1: c1, c2: c2, sigR: ElementBytes(bytes: [UInt8](repeating: 0, count: group.elementLength)),
                                      sigS: try zero32())
        let (r, s) = try signature(over: SignedBytes.keyVerification(request), spec: spec)
        request.sigR = ElementBytes(bytes: r)
        request.sigS = try bytes32(s)
        return codec.encode(.keyVerification(request))
    }

    private func craftToken(_ spec: CraftSpec, claim: PeerID, ts: UInt64) throws(SimulationFailure) -> [UInt8] {
        guard let ref = spec.answering, case let .keyVerification(request)? = try? codec.decode(captured(ref).body) else {
            throw SimulationFailure(message: "answering does not name a KEY_VERIFICATION")
        }
        guard let patientKey = keys.patientKeys[claim.value] else {
            throw SimulationFailure(message: "no key for \(claim)")
        }
        let group = keys.group
        let ciphertext = ElGamal.encrypt(group.randomElement(using: &craftRandom), to: patientKey.publicKey, using: &craftRandom)
        var c1 = ElementBytes(bytes: ciphertext.c1Bytes(in: group))
        var c2 = ElementBytes(bytes: ciphertext.c2Bytes(in: group))
        if let value = spec.c1 { c1 = ElementBytes(bytes: try elementBytes(value)) }
        if let value = spec.c2 { c2 = ElementBytes(bytes: try elementBytes(value)) }
        var token = SessionToken(group: group.name, idGWN: keys.doctorID, idI: request.idI, tsGWN: ts,
                                 rnGWN: Bytes32(random: &craftRandom), rnI: request.rnI, c1: c1, c2: c2,
                                 sigR: ElementBytes(bytes: [UInt8](repeating: 0, count: group.elementLength)), sigS: try zero32())
        let (r, s) = try signature(over: SignedBytes.sessionToken(token), spec: spec)
        token.sigR = ElementBytes(bytes: r)
        token.sigS = try bytes32(s)
        return codec.encode(.sessionToken(token))
    }

    /// (r bytes, s bytes): signed by the spec's signer (over other bytes when asked), or
    /// random, then overridden by special values.
    private func signature(over message: [UInt8], spec: CraftSpec) throws(SimulationFailure) -> ([UInt8], [UInt8]) {
        let group = keys.group
        var r: [UInt8]
        var s: [UInt8]
        if let signerName = spec.signer {
            guard let signer = keys.key(named: signerName) else { throw SimulationFailure(message: "no key named \(signerName)") }
            let signature = signer.sign(spec.signOther ? message + Array("other bytes".utf8) : message, using: &craftRandom)
            r = signature.rBytes(in: group)
            s = signature.sBytes(in: group)
        } else {
            r = craftRandom.bytes(group.elementLength)
            s = craftRandom.bytes(32)
        }
        if let value = spec.r { r = try elementBytes(value) }
        if let value = spec.s { s = try scalarBytes(value) }
        return (r, s)
    }

    // MARK: - Special values

    func elementBytes(_ value: SpecialValue) throws(SimulationFailure) -> [UInt8] {
        let group = keys.group
        let number: BigInt
        switch value {
        case .zero: number = BigInt(0)
        case .one: number = BigInt(1)
        case .pMinusOne: number = group.p - BigInt(1)
        case .p: number = group.p
        case .q: number = group.q
        case .random: return craftRandom.bytes(group.elementLength)
        case .nonSubgroup:
            var candidate = BigInt(2)
            var tries = 0
            while group.isValidElement(candidate) && tries < 1_000 {
                candidate = candidate + BigInt(1)
                tries += 1
            }
            number = candidate
        }
        guard let bytes = try? number.bytes(width: group.elementLength) else {
            throw SimulationFailure(message: "\(value.rawValue) does not fit an element")
        }
        return bytes
    }

    func scalarBytes(_ value: SpecialValue) throws(SimulationFailure) -> [UInt8] {
        let number: BigInt
        switch value {
        case .zero: number = BigInt(0)
        case .one: number = BigInt(1)
        case .q: number = keys.group.q
        case .random: return craftRandom.bytes(32)
        case .pMinusOne, .p, .nonSubgroup:
            throw SimulationFailure(message: "\(value.rawValue) does not fit in s (32 bytes)")
        }
        guard let bytes = try? number.bytes(width: 32) else {
            throw SimulationFailure(message: "\(value.rawValue) does not fit in s (32 bytes)")
        }
        return bytes
    }

    func bytes32(_ bytes: [UInt8]) throws(SimulationFailure) -> Bytes32 {
        guard let value = try? Bytes32(bytes) else { throw SimulationFailure(message: "expected 32 bytes") }
        return value
    }

    func zero32() throws(SimulationFailure) -> Bytes32 {
        try bytes32([UInt8](repeating: 0, count: 32))
    }
}
