// Theory of operation
// ===================
// `PatientMachine` is one patient device (Di) for one connection to the doctor, as a pure
// state machine: no I/O, no clock, no system randomness. Inputs are past-tense methods
// taking an `Instant` (and a random number generator where fresh randomness is needed);
// outputs are `PatientAction`s.
//
// Stages, each reached only from the one before:
//   idle              nothing sent yet
//   awaitingToken     KEY_VERIFICATION sent (its rn_i, ts_i and K kept)
//   awaitingGroupKey  SESSION_TOKEN verified under the pinned doctor key, SK derived,
//                     KEY_CONFIRMATION sent; any frame but GROUP_KEY closes
//   active            a GROUP_KEY opened: the patient holds GK_e
//   ended             terminal
//
// Patients never send REJECTED. A doctor frame that fails parsing, a signature, AEAD or the
// state closes the session silently; a stale timestamp, a repeated or older seq, an old epoch
// are dropped and the session stays (PROTOCOL.md §5, "REJECTED and closing"). A dropped frame
// changes nothing.
//
// REJECTED, at any stage, ends the session like EOF (it is unauthenticated, so it cannot be
// a reason to trust anything), but the end says so: `.connectionLost(.refusedByDoctor)`
// against `.connectionLost(.dropped)` for EOF or a reset. The host decides what a refusal is
// worth (the patient runtime retries a bounded number of times); the machine decodes the
// frame once and nobody decodes it again.

import TelemedCrypto

/// One patient's side of one connection.
public struct PatientMachine: Sendable {
    /// Timing policy.
    public let configuration: PatientConfiguration
    /// The deployment's group.
    public let group: TelemedGroup
    /// ID_i.
    public let identity: PeerID
    /// The pinned doctor id.
    public let doctorID: PeerID
    let privateKey: PrivateKey
    let doctorKey: PublicKey
    let codec: MessageCodec
    var stage: Stage = .idle

    /// A machine for a fresh connection with the patient's credential.
    public init(configuration: PatientConfiguration, identity: PeerID, privateKey: PrivateKey,
                doctorID: PeerID, doctorKey: PublicKey) throws(ConfigurationError) {
        precondition(privateKey.group == doctorKey.group, "the patient and the doctor must share a group")
        self.configuration = try configuration.validated()
        self.group = privateKey.group
        self.identity = identity
        self.privateKey = privateKey
        self.doctorID = doctorID
        self.doctorKey = doctorKey
        self.codec = MessageCodec(groupName: privateKey.group.name, elementLength: privateKey.group.elementLength)
    }

    // MARK: - Stages

    enum Stage: Sendable {
        case idle
        case awaitingToken(Requested)
        case awaitingGroupKey(Keyed)
        case active(Session)
        case ended(PatientEnd)
    }

    /// KEY_VERIFICATION (version 1) or KEY_VERIFICATION_V2 is out.
    struct Requested: Sendable {
        let tsI: UInt64
        let rnI: Bytes32
        /// What the answer needs, by version.
        let secrets: RequestSecrets
        /// The monotonic time KEY_VERIFICATION went out (the handshake timer started then).
        let sentAt: UInt64
    }

    /// The pending request's secrets. Ending the stage drops them, and so erases them (the
    /// ephemeral's scalar through GMP's wiping allocator, K through swift-crypto's zeroing key
    /// storage; the version-1 array of K is dropped, Swift arrays cannot be overwritten in
    /// place once shared), PROTOCOL.md §8.4.
    enum RequestSecrets: Sendable {
        /// K = g^t as L bytes.
        case v1(element: [UInt8])
        /// Version 2: K, the ephemeral a with its share A, and H_1 of the request signed.
        case v2(RequestedV2)
    }

    /// A version-2 request's state.
    struct RequestedV2: Sendable {
        let element: ElementSecret
        let ephemeral: EphemeralKey
        /// A as sent (dh_i).
        let share: [UInt8]
        /// H_1 = SHA-256(SignData1_v2).
        let requestDigest: Bytes32
    }

    /// SK is known; KEY_CONFIRMATION is out.
    struct Keyed: Sendable {
        /// k_p2d with its counter (DEC_MSG and DISCONNECT share it).
        var sending: SealingKey
        /// k_d2p with the last accepted seq (GROUP_KEY and DISCONNECT).
        var receiving: OpeningKey

        init(keys: KeySchedule.TrafficKeys) {
            sending = SealingKey(keys.patientToDoctor)
            receiving = OpeningKey(keys.doctorToPatient)
        }
    }

    /// Holds GK_e.
    struct Session: Sendable {
        var keyed: Keyed
        var epoch: UInt64
        var members: UInt64
        var groupKey: GroupKey
        /// GK_e with the last accepted broadcast seq of this epoch.
        var broadcasts: OpeningKey
    }

    // MARK: - Introspection

    /// The current epoch (0 until the first GROUP_KEY).
    public var epoch: UInt64 {
        if case let .active(session) = stage { return session.epoch }
        return 0
    }
    /// True once the first GROUP_KEY opened, until the session ends.
    public var isActive: Bool {
        if case .active = stage { return true }
        return false
    }
    /// How the session ended, once it has.
    public var end: PatientEnd? {
        if case let .ended(end) = stage { return end }
        return nil
    }
    /// A digest identifying the held GK (never the key itself).
    public var groupKeyFingerprint: Bytes32? {
        guard case let .active(session) = stage else { return nil }
        return KeySchedule.fingerprint(of: session.groupKey)
    }

    // MARK: - Inputs

    /// The connection to the doctor is open: send KEY_VERIFICATION (version 1) or
    /// KEY_VERIFICATION_V2 (version 2), as configured; never the other.
    public mutating func connected(now: Instant, using rng: inout some CryptographicRandomNumberGenerator) -> [PatientAction] {
        guard case .idle = stage else { preconditionFailure("connected(now:using:) is the first input, once") }
        if configuration.version == .v2 { return connectedV2(now: now, using: &rng) }
        let element = group.randomElement(using: &rng)
        let ciphertext = ElGamal.encrypt(element, to: doctorKey, using: &rng)
        let unsigned = KeyVerification(
            group: group.name, idI: identity, idGWN: doctorID, tsI: now.wall, rnI: Bytes32(random: &rng),
            c1: ElementBytes(bytes: group.encodeElement(ciphertext.c1)),
            c2: ElementBytes(bytes: group.encodeElement(ciphertext.c2)),
            sigR: ElementBytes(bytes: [UInt8](repeating: 0, count: group.elementLength)), sigS: .zero)
        let signature = privateKey.sign(SignedBytes.keyVerification(unsigned), using: &rng)
        let request = KeyVerification(
            group: unsigned.group, idI: unsigned.idI, idGWN: unsigned.idGWN, tsI: unsigned.tsI, rnI: unsigned.rnI,
            c1: unsigned.c1, c2: unsigned.c2, sigR: ElementBytes(bytes: signature.rBytes(in: group)),
            sigS: .unchecked(signature.sBytes(in: group)))
        stage = .awaitingToken(Requested(tsI: request.tsI, rnI: request.rnI, secrets: .v1(element: group.encodeElement(element)),
                                         sentAt: now.monotonic))
        return [.send(codec.encode(.keyVerification(request))),
                .scheduleTimer(.handshake, afterMillis: configuration.handshakeTimeoutMillis)]
    }

    /// KEY_VERIFICATION_V2 (PROTOCOL.md §8.3, §8.4): t, the ElGamal k and rn_i drawn; K, c1,
    /// c2; a hedged over h_a (x_i, the context, 32 fresh bytes); A; SignData1_v2 signed. H_1
    /// is kept for the answer's check and for SK.
    private mutating func connectedV2(now: Instant, using rng: inout some CryptographicRandomNumberGenerator) -> [PatientAction] {
        let elementValue = group.randomElement(using: &rng)
        let ciphertext = ElGamal.encrypt(elementValue, to: doctorKey, using: &rng)
        let element = ElementSecret(elementValue, in: group)
        let rnI = Bytes32(random: &rng)
        let context = KeySchedule.patientEphemeralContext(group: group.name, idI: identity, idGWN: doctorID,
                                                          tsI: now.wall, rnI: rnI)
        let ephemeral = privateKey.hedgedEphemeral(context: context, using: &rng)
        var request = KeyVerificationV2(
            group: group.name, idI: identity, idGWN: doctorID, tsI: now.wall, rnI: rnI,
            c1: ElementBytes(bytes: group.encodeElement(ciphertext.c1)),
            c2: ElementBytes(bytes: group.encodeElement(ciphertext.c2)),
            dhI: ElementBytes(bytes: ephemeral.shareBytes),
            sigR: ElementBytes(bytes: [UInt8](repeating: 0, count: group.elementLength)), sigS: .zero)
        let signed = SignedBytes.keyVerificationV2(request)
        let signature = privateKey.sign(signed, using: &rng)
        request.sigR = ElementBytes(bytes: signature.rBytes(in: group))
        request.sigS = .unchecked(signature.sBytes(in: group))
        let pending = RequestedV2(element: element, ephemeral: ephemeral, share: request.dhI.bytes,
                                  requestDigest: Hashing.sha256(signed))
        stage = .awaitingToken(Requested(tsI: request.tsI, rnI: rnI, secrets: .v2(pending), sentAt: now.monotonic))
        return [.send(codec.encode(.keyVerificationV2(request))),
                .scheduleTimer(.handshake, afterMillis: configuration.handshakeTimeoutMillis)]
    }

    /// The protocol version of this device (its configuration's).
    public var version: ProtocolVersion { configuration.version }

    /// A frame body from the doctor arrived.
    public mutating func frameReceived(_ body: [UInt8], now: Instant,
                                       using rng: inout some CryptographicRandomNumberGenerator) -> [PatientAction] {
        let message: Message
        do {
            message = try codec.decode(body)
        } catch {
            if case .ended = stage { return [] }
            if case .unexpectedGroup = error { return close(.protocolViolation(.group, "frame for another group")) }
            return close(.protocolViolation(.frame, "malformed frame: \(error)"))
        }
        if case .rejected = message { return close(.connectionLost(.refusedByDoctor)) }
        switch stage {
        case .idle, .ended:
            return []
        case let .awaitingToken(requested):
            // §8.6.2: only this version's answer; the other version's closes (R-VERSION), no fallback.
            switch (message, requested.secrets) {
            case let (.sessionToken(token), .v1(element)):
                return tokenReceived(token, requested, element: element, now: now)
            case let (.sessionTokenV2(token), .v2(pending)):
                return tokenReceivedV2(token, requested, pending, now: now)
            case (.sessionToken, .v2), (.sessionTokenV2, .v1):
                return close(.protocolViolation(.version, "answer of another version (opcode \(message.opcode.rawValue))"))
            default:
                return close(.protocolViolation(.state, "opcode \(message.opcode.rawValue) instead of SESSION_TOKEN"))
            }
        case let .awaitingGroupKey(keyed):
            guard case let .groupKey(groupKey) = message else {
                return close(.protocolViolation(.state, "opcode \(message.opcode.rawValue) before the first GROUP_KEY"))
            }
            return groupKeyReceived(groupKey, keyed: keyed, current: nil)
        case let .active(session):
            switch message {
            case let .groupKey(groupKey): return groupKeyReceived(groupKey, keyed: session.keyed, current: session)
            case let .encMsg(broadcast): return broadcastReceived(broadcast, session, now: now)
            case let .disconnect(disconnect): return disconnectReceived(disconnect, session.keyed)
            default: return close(.protocolViolation(.state, "opcode \(message.opcode.rawValue) from the doctor side"))
            }
        }
    }

    /// The transport refused a length prefix from the doctor (0 or over 65536): a doctor frame
    /// that cannot be parsed, so the patient closes without a word (PROTOCOL.md §5, R-FRAME).
    public mutating func frameRefused(declaredLength: UInt32) -> [PatientAction] {
        close(.protocolViolation(.frame, "frame length \(declaredLength) outside 1...\(MessageCodec.maxBodyLength)"))
    }

    /// The timer fired.
    public mutating func timerFired(_ timer: PatientTimer, now: Instant) -> [PatientAction] {
        switch stage {
        case .awaitingToken, .awaitingGroupKey: return close(.handshakeTimedOut)
        case .idle, .active, .ended: return []
        }
    }

    /// The connection is gone (EOF, reset, a transport close). A REJECTED frame that came
    /// before has already ended the session as `.connectionLost(.refusedByDoctor)`.
    public mutating func connectionLost() -> [PatientAction] {
        if case .ended = stage { return [] }
        stage = .ended(.connectionLost(.dropped))
        return [.cancelTimer(.handshake), .event(.ended(.connectionLost(.dropped)))]
    }

    /// The user leaves: a sealed DISCONNECT when a session key exists, then close.
    public mutating func leave(reason: String = "bye") -> [PatientAction] {
        var keyed: Keyed
        switch stage {
        case let .awaitingGroupKey(current): keyed = current
        case let .active(session): keyed = session.keyed
        case .ended: return []
        case .idle, .awaitingToken: return close(.left)
        }
        let (identity, doctorID) = (identity, doctorID)
        let (seq, ct) = keyed.sending.seal(reason.utf8Prefix(maxBytes: 256)) { seq in
            AssociatedData.disconnect(sender: identity, receiver: doctorID, seq: seq)
        }
        let frame = codec.encode(.disconnect(DisconnectMessage(seq: seq, ct: ct)))
        return [.send(frame)] + close(.left)
    }

    // MARK: - Helpers

    mutating func close(_ end: PatientEnd) -> [PatientAction] {
        if case .ended = stage { return [] }
        stage = .ended(end)
        return [.cancelTimer(.handshake), .close, .event(.ended(end))]
    }
}
