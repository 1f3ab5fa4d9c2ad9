// Handshake jobs: the expensive, stateless part of a KEY_VERIFICATION
// ====================================================================
// A KEY_VERIFICATION costs the doctor about a dozen modular exponentiations. None of them
// reads or writes machine state, so the machine hands them to its host as jobs that may run on
// any thread, and takes each job's result back as an input (`DoctorMachine.jobFinished`). Two
// phases, in the order of PROTOCOL.md §5 as amended by §7.7:
//
//   signature  the request's signature under the key enrolled when it arrived (the fixed
//              dummy key for an unknown id: the same work as a bad signature, R-ID).
//   answer     c1 and c2 valid, K decrypted and valid, then the SESSION_TOKEN built and signed
//              with fresh doctor randomness, and SK derived.
//
// Between the two the machine does the atomic replay check-and-insert (§7.3, §7.7) serially,
// so nothing after the insert is computed for a request that loses it (a concurrent
// duplicate, a full quota): the work is exactly the serial order's. Everything that reads or
// writes state (blocks, registry, replay cache, counters, the pending table) stays in the
// machine and is applied when the result comes back; see DoctorMachine+Jobs.swift for what
// happens when the connection, a block or the registry changed meanwhile.
//
// A job holds the doctor's private key (for the answer phase) and its result the session key:
// neither prints, mirrors or compares by its secrets (R-NOLEAK). A job is identified by the
// connection and a number the machine assigns; only the result of the job a connection is
// waiting for is applied, anything else is ignored.

import TelemedCrypto

/// Which part of a KEY_VERIFICATION a ``HandshakeJob`` computes.
public enum HandshakePhase: String, Sendable, Equatable {
    /// Verifies the request's signature.
    case signature
    /// Checks c1 and c2, decrypts K and builds and signs the SESSION_TOKEN.
    case answer
}

/// The stateless crypto of one KEY_VERIFICATION phase, emitted by the doctor as
/// ``DoctorAction/verify(_:)``. Run it anywhere with ``run(using:)`` and give the result back
/// to the same machine with ``DoctorMachine/jobFinished(_:now:using:)``.
public struct HandshakeJob: Sendable {
    /// The connection whose request this is.
    public let connection: ConnectionID
    /// The machine's number for this job (increasing, never reused by one machine).
    public let number: UInt64
    let work: Work

    enum Work: Sendable {
        case signature(SignatureWork)
        case answer(AnswerWork)
    }

    struct SignatureWork: Sendable {
        let request: KeyVerification
        /// dh_i of a version-2 request (opcode 12); nil for version 1.
        let share: ElementBytes?
        let signature: Signature
        /// The enrolled key, or the dummy key for an unknown id.
        let key: PublicKey
    }

    struct AnswerWork: Sendable {
        let request: KeyVerification
        /// dh_i of a version-2 request (opcode 12); nil for version 1.
        let share: ElementBytes?
        let patientKey: PublicKey
        let doctorKey: PrivateKey
        let identity: PeerID
        let tsGWN: UInt64
        let codec: MessageCodec
    }

    /// Which phase this job computes.
    public var phase: HandshakePhase {
        switch work {
        case .signature: return .signature
        case .answer: return .answer
        }
    }

    /// The patient id the request claims (not yet authenticated in the signature phase).
    public var claimedPatient: PeerID {
        switch work {
        case let .signature(work): return work.request.idI
        case let .answer(work): return work.request.idI
        }
    }

    /// Computes the job. Pure: it reads no clock and no machine state, and draws randomness
    /// only from `rng` (the answer phase: K_GWN, the ElGamal and signature nonces, RN_GWN), so
    /// it may run on any thread, concurrently with the machine and with other jobs.
    public func run(using rng: inout some CryptographicRandomNumberGenerator) -> HandshakeJobResult {
        HandshakeJobResult(connection: connection, number: number, outcome: work.run(using: &rng))
    }
}

extension HandshakeJob.Work {
    func run(using rng: inout some CryptographicRandomNumberGenerator) -> HandshakeJobResult.Outcome {
        switch self {
        case let .signature(work):
            return .signature(valid: work.key.isValidSignature(work.signature, for: signedRequest(work.request, share: work.share)))
        case let .answer(work):
            guard let share = work.share else { return work.run(using: &rng) }
            return work.runV2(share: share, using: &rng)
        }
    }
}

/// The bytes a request's signature covers: SignData1 (§4) or SignData1_v2 (§8.3).
func signedRequest(_ request: KeyVerification, share: ElementBytes?) -> [UInt8] {
    guard let share else { return SignedBytes.keyVerification(request) }
    return SignedBytes.keyVerificationV2(KeyVerificationV2(request, dhI: share))
}

extension KeyVerificationV2 {
    /// The version-2 request made of the shared fields and dh_i.
    init(_ common: KeyVerification, dhI: ElementBytes) {
        self.init(group: common.group, idI: common.idI, idGWN: common.idGWN, tsI: common.tsI, rnI: common.rnI,
                  c1: common.c1, c2: common.c2, dhI: dhI, sigR: common.sigR, sigS: common.sigS)
    }
}

extension HandshakeJob.AnswerWork {
    /// Version 2 (PROTOCOL.md §8.5): c1 and c2 valid, K decrypted and valid, then dh_i valid
    /// (R-ELEM), then the answer in the order of §8.5 — ts_gwn (the job's), u, the ElGamal k
    /// and rn_gwn drawn; K_GWN, c1, c2; b (hedged over h_b, which needs H_1); B; SignData2_v2,
    /// H_2 and the signature; Z = A^b; SK. Every secret of the handshake (b, Z, u, the
    /// ElGamal k, K, K_GWN) is a local of this function: they are dropped, and so erased
    /// (GMP's wiping allocator, swift-crypto's zeroing key storage), when it returns with the
    /// frame and SK, before the machine sends anything (R-FS).
    func runV2(share: ElementBytes, using rng: inout some CryptographicRandomNumberGenerator) -> HandshakeJobResult.Outcome {
        let group = doctorKey.group
        let patientElement: ElementSecret
        do {
            let ciphertext = try ElGamalCiphertext(group: group, c1Bytes: request.c1.bytes, c2Bytes: request.c2.bytes)
            patientElement = try doctorKey.decryptSecret(ciphertext)
        } catch {
            return .elementsInvalid
        }
        let patientShare: DiffieHellmanShare
        do {
            patientShare = try DiffieHellmanShare(group: group, bytes: share.bytes)
        } catch {
            return .shareInvalid(DiffieHellmanShare.defect(of: share.bytes, in: group) ?? .range)
        }
        let requestV2 = KeyVerificationV2(request, dhI: share)
        let requestDigest = Hashing.sha256(SignedBytes.keyVerificationV2(requestV2))
        let doctorElementValue = group.randomElement(using: &rng)
        let ciphertext = ElGamal.encrypt(doctorElementValue, to: patientKey, using: &rng)
        let doctorElement = ElementSecret(doctorElementValue, in: group)
        let rnGWN = Bytes32(random: &rng)
        let context = KeySchedule.doctorEphemeralContext(group: group.name, idGWN: identity, idI: request.idI,
                                                         tsGWN: tsGWN, rnGWN: rnGWN, requestDigest: requestDigest)
        let ephemeral = doctorKey.hedgedEphemeral(context: context, using: &rng)
        var token = SessionTokenV2(
            group: group.name, idGWN: identity, idI: request.idI, tsGWN: tsGWN, rnGWN: rnGWN, rnI: request.rnI,
            c1: ElementBytes(bytes: group.encodeElement(ciphertext.c1)),
            c2: ElementBytes(bytes: group.encodeElement(ciphertext.c2)),
            dhGWN: ElementBytes(bytes: ephemeral.shareBytes),
            sigR: ElementBytes(bytes: [UInt8](repeating: 0, count: group.elementLength)), sigS: Bytes32.zero)
        let signed = SignedBytes.sessionTokenV2(token, requestDigest: requestDigest)
        let answerDigest = Hashing.sha256(signed)
        let signature = doctorKey.sign(signed, using: &rng)
        token.sigR = ElementBytes(bytes: signature.rBytes(in: group))
        token.sigS = Bytes32.unchecked(signature.sBytes(in: group))
        let shared = ephemeral.sharedSecret(with: patientShare)
        let sessionKey = KeySchedule.sessionKeyV2(patientElement: patientElement, doctorElement: doctorElement,
                                                  shared: shared, requestDigest: requestDigest, answerDigest: answerDigest)
        return .answered(frame: codec.encode(.sessionTokenV2(token)), sessionKey: sessionKey)
    }
}

extension HandshakeJob.AnswerWork {
    /// The element checks (c1, c2, then the decrypted K), then the SESSION_TOKEN with a fresh
    /// K_GWN of the doctor's own (R-ORACLE), and SK.
    func run(using rng: inout some CryptographicRandomNumberGenerator) -> HandshakeJobResult.Outcome {
        let group = doctorKey.group
        let patientElement: BigInt
        do {
            let ciphertext = try ElGamalCiphertext(group: group, c1Bytes: request.c1.bytes, c2Bytes: request.c2.bytes)
            patientElement = try doctorKey.decrypt(ciphertext)
        } catch {
            return .elementsInvalid
        }
        let doctorElement = group.randomElement(using: &rng)
        let ciphertext = ElGamal.encrypt(doctorElement, to: patientKey, using: &rng)
        let unsigned = SessionToken(
            group: group.name, idGWN: identity, idI: request.idI, tsGWN: tsGWN,
            rnGWN: Bytes32(random: &rng), rnI: request.rnI,
            c1: ElementBytes(bytes: group.encodeElement(ciphertext.c1)),
            c2: ElementBytes(bytes: group.encodeElement(ciphertext.c2)),
            sigR: ElementBytes(bytes: [UInt8](repeating: 0, count: group.elementLength)),
            sigS: Bytes32.zero)
        let signature = doctorKey.sign(SignedBytes.sessionToken(unsigned), using: &rng)
        let token = SessionToken(
            group: unsigned.group, idGWN: unsigned.idGWN, idI: unsigned.idI, tsGWN: unsigned.tsGWN,
            rnGWN: unsigned.rnGWN, rnI: unsigned.rnI, c1: unsigned.c1, c2: unsigned.c2,
            sigR: ElementBytes(bytes: signature.rBytes(in: group)),
            sigS: Bytes32.unchecked(signature.sBytes(in: group)))
        let transcript = KeySchedule.HandshakeTranscript(
            patientElement: group.encodeElement(patientElement), doctorElement: group.encodeElement(doctorElement),
            tsI: request.tsI, tsGWN: token.tsGWN, rnI: request.rnI, rnGWN: token.rnGWN,
            idI: request.idI, idGWN: identity)
        return .answered(frame: codec.encode(.sessionToken(token)), sessionKey: KeySchedule.sessionKey(transcript))
    }
}

/// What a ``HandshakeJob`` computed; give it to ``DoctorMachine/jobFinished(_:now:using:)``.
public struct HandshakeJobResult: Sendable {
    /// The connection of the job.
    public let connection: ConnectionID
    /// The job's number.
    public let number: UInt64
    let outcome: Outcome

    enum Outcome: Sendable {
        /// The signature phase: whether the signature verified under the job's key.
        case signature(valid: Bool)
        /// The answer phase: c1, c2 or K is not a valid element (R-ELEM).
        case elementsInvalid
        /// The answer phase of a version-2 request: c1, c2 and K are valid, dh_i is not
        /// (R-ELEM), for this reason; no exponentiation by b was done.
        case shareInvalid(ElementDefect)
        /// The answer phase: the SESSION_TOKEN frame and the session key it establishes.
        case answered(frame: [UInt8], sessionKey: SessionKey)
    }

    /// Which phase produced this result.
    public var phase: HandshakePhase {
        switch outcome {
        case .signature: return .signature
        case .elementsInvalid, .shareInvalid, .answered: return .answer
        }
    }
}

// MARK: - Identity, printing (R-NOLEAK)

extension HandshakeJob: Equatable {
    /// Jobs are equal when they are the same job of one machine (connection and number).
    public static func == (lhs: HandshakeJob, rhs: HandshakeJob) -> Bool {
        lhs.connection == rhs.connection && lhs.number == rhs.number && lhs.phase == rhs.phase
    }
}

extension HandshakeJob: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `HandshakeJob(#4 signature, conn#3)`: never the keys.
    public var description: String { "HandshakeJob(#\(number) \(phase.rawValue), \(connection))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension HandshakeJobResult: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `HandshakeJobResult(#4 signature valid, conn#3)`: never the session key.
    public var description: String {
        let what: String = switch outcome {
        case let .signature(valid): valid ? "signature valid" : "signature invalid"
        case .elementsInvalid: "answer elements invalid"
        case .shareInvalid: "answer share invalid"
        case .answered: "answer built"
        }
        return "HandshakeJobResult(#\(number) \(what), \(connection))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
