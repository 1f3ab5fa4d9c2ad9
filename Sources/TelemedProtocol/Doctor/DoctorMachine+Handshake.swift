import TelemedCrypto

extension DoctorMachine {
    // MARK: - KEY_VERIFICATION (first frame), cheapest check first (PROTOCOL.md §5)

    mutating func requestReceived(_ body: [UInt8], on connection: ConnectionID, _ accepted: Accepted,
                                  now: Instant, using rng: inout some RandomNumberGenerator) -> [DoctorAction] {
        let state = Connection.awaitingRequest(accepted)
        let source = accepted.source
        func fail(_ rule: RuleID, _ reason: String, _ patient: PeerID? = nil, counts: Bool = true,
                  _ machine: inout DoctorMachine, _ rng: inout some RandomNumberGenerator) -> [DoctorAction] {
            machine.reject(connection, state, rule, reason, patient: patient, counts: counts, now: now, using: &rng)
        }
        if let until = policy.sourceBlockExpiry(source, now: now.wall) {
            return fail(.block, "source blocked until \(until)", counts: false, &self, &rng)
        }
        if policy.refusesUnauthenticated {
            return fail(.limit, "source-block table saturated", counts: false, &self, &rng)
        }
        guard body.count <= Framing.maxBodyLength else {
            return fail(.frame, "frame over the limit", nil, &self, &rng)
        }
        let message: Message
        do {
            message = try codec.decode(body)
        } catch {
            if case let .unexpectedGroup(name) = error {
                return fail(.group, "request for group \(name.prefix(64))", nil, &self, &rng)
            }
            return fail(.frame, "malformed frame: \(error)", nil, &self, &rng)
        }
        guard case let .keyVerification(request) = message else {
            return fail(.state, "opcode \(message.opcode.rawValue) before KEY_VERIFICATION", nil, &self, &rng)
        }
        guard request.idGWN == identity else {
            return fail(.identity, "request addressed to another gateway", request.idI, &self, &rng)
        }
        guard now.wall.distance(to: request.tsI) <= configuration.timeWindowMillis else {
            return fail(.time, "ts_i \(request.tsI) outside ΔTS of \(now.wall)", request.idI, &self, &rng)
        }
        guard request.tsI >= policy.state.startTime else {
            return fail(.start, "ts_i \(request.tsI) before start time \(policy.state.startTime)", request.idI, &self, &rng)
        }
        let enrolledKey = registry[request.idI]
        let key = enrolledKey ?? dummyKey
        let device = DeviceKey(patient: request.idI, source: source)
        if let until = policy.deviceBlockExpiry(device, now: now.wall) {
            return fail(.block, "device \(device) blocked until \(until)", request.idI, counts: false, &self, &rng)
        }
        if replay.contains(request.idI, request.rnI, now: now.monotonic) {
            return fail(.replay, "(id, rn) seen within the replay window", request.idI, &self, &rng)
        }
        let signature: Signature
        do {
            signature = try Signature(group: group, rBytes: request.sigR.bytes, sBytes: request.sigS.bytes)
        } catch {
            return fail(.signature, "signature has the wrong width", request.idI, &self, &rng)
        }
        let verified = key.isValidSignature(signature, for: SignedBytes.keyVerification(request))
        guard verified, enrolledKey != nil else {
            if enrolledKey == nil { return fail(.identity, "unknown patient id", request.idI, &self, &rng) }
            return fail(.signature, "signature does not verify under the enrolled key", request.idI, &self, &rng)
        }
        // The signature verified: from here on, failures no longer count against the source.
        guard let patientKey = enrolledKey else { return [] }
        let patientElement: BigInt
        do {
            let ciphertext = try ElGamalCiphertext(group: group, c1Bytes: request.c1.bytes, c2Bytes: request.c2.bytes)
            patientElement = try privateKey.decrypt(ciphertext)
        } catch {
            return fail(.element, "c1, c2 or K is not a valid group element", request.idI, counts: false, &self, &rng)
        }
        switch replay.insert(request.idI, request.rnI, now: now.monotonic) {
        case .inserted: break
        case .duplicate:
            return fail(.replay, "concurrent duplicate of (id, rn)", request.idI, counts: false, &self, &rng)
        case .full:
            return fail(.replay, "replay cache full: failing closed", request.idI, counts: false, &self, &rng)
        }
        return answer(request, patientKey: patientKey, patientElement: patientElement,
                      on: connection, source: source, now: now, using: &rng)
    }

    /// Builds and sends SESSION_TOKEN with a fresh K_GWN of the doctor's own (R-ORACLE).
    private mutating func answer(_ request: KeyVerification, patientKey: PublicKey, patientElement: BigInt,
                                 on connection: ConnectionID, source: SourceAddress, now: Instant,
                                 using rng: inout some RandomNumberGenerator) -> [DoctorAction] {
        let doctorElement = group.randomElement(using: &rng)
        let ciphertext = ElGamal.encrypt(doctorElement, to: patientKey, using: &rng)
        let unsigned = SessionToken(
            group: group.name, idGWN: identity, idI: request.idI, tsGWN: now.wall,
            rnGWN: Bytes32(random: &rng), rnI: request.rnI,
            c1: ElementBytes(bytes: group.encodeElement(ciphertext.c1)),
            c2: ElementBytes(bytes: group.encodeElement(ciphertext.c2)),
            sigR: ElementBytes(bytes: [UInt8](repeating: 0, count: group.elementLength)),
            sigS: Bytes32.zero)
        let signature = privateKey.sign(SignedBytes.sessionToken(unsigned), using: &rng)
        let token = SessionToken(
            group: unsigned.group, idGWN: unsigned.idGWN, idI: unsigned.idI, tsGWN: unsigned.tsGWN,
            rnGWN: unsigned.rnGWN, rnI: unsigned.rnI, c1: unsigned.c1, c2: unsigned.c2,
            sigR: ElementBytes(bytes: signature.rBytes(in: group)),
            sigS: Bytes32.unchecked(signature.sBytes(in: group)))
        let transcript = KeySchedule.HandshakeTranscript(
            patientElement: group.encodeElement(patientElement), doctorElement: group.encodeElement(doctorElement),
            tsI: request.tsI, tsGWN: token.tsGWN, rnI: request.rnI, rnGWN: token.rnGWN,
            idI: request.idI, idGWN: identity)
        connections[connection] = .awaitingConfirmation(
            Verified(source: source, patient: request.idI, sessionKey: KeySchedule.sessionKey(transcript)))
        return [.send(connection, codec.encode(.sessionToken(token)))]
    }

    // MARK: - KEY_CONFIRMATION

    mutating func confirmationReceived(_ body: [UInt8], on connection: ConnectionID, _ verified: Verified,
                                       now: Instant, using rng: inout some RandomNumberGenerator) -> [DoctorAction] {
        let state = Connection.awaitingConfirmation(verified)
        let patient = verified.patient
        func fail(_ rule: RuleID, _ reason: String, _ machine: inout DoctorMachine,
                  _ rng: inout some RandomNumberGenerator, extra: [DoctorAction] = []) -> [DoctorAction] {
            machine.reject(connection, state, rule, reason, patient: patient, counts: false, now: now,
                           using: &rng, extra: extra)
        }
        let message: Message
        do {
            message = try codec.decode(body)
        } catch {
            return fail(.frame, "malformed frame: \(error)", &self, &rng)
        }
        guard case let .keyConfirmation(confirmation) = message else {
            return fail(.state, "opcode \(message.opcode.rawValue) instead of KEY_CONFIRMATION", &self, &rng)
        }
        guard confirmation.idI == patient else {
            return fail(.state, "KEY_CONFIRMATION for another id", &self, &rng)
        }
        guard now.wall.distance(to: confirmation.ts) <= configuration.timeWindowMillis else {
            return fail(.time, "ts \(confirmation.ts) outside ΔTS of \(now.wall)", &self, &rng)
        }
        guard confirmation.ts >= policy.state.startTime else {
            return fail(.start, "ts \(confirmation.ts) before start time", &self, &rng)
        }
        let expected = KeySchedule.sessionKeyVerifier(sessionKey: verified.sessionKey, ts: confirmation.ts)
        guard expected.constantTimeEquals(confirmation.skv) else {
            let device = DeviceKey(patient: patient, source: verified.source)
            let (changes, alerts, until) = policy.blockDevice(device, now: now.wall)
            let extra = changes.map(DoctorAction.persist) + alerts.map { DoctorAction.event(.alert($0)) }
                + [.event(.blocked(.device(device), until: until, rule: .skv))]
            return fail(.skv, "SKV mismatch", &self, &rng, extra: extra)
        }
        return join(patient, on: connection, verified, now: now, using: &rng)
    }

    /// Makes a confirmed patient a member: ends its other pending handshakes, replaces an
    /// older session of the same id, and starts a new epoch with the joiner served first.
    private mutating func join(_ patient: PeerID, on connection: ConnectionID, _ verified: Verified,
                               now: Instant, using rng: inout some RandomNumberGenerator) -> [DoctorAction] {
        if members[patient] == nil && members.count >= configuration.maxActivePatients {
            return reject(connection, .awaitingConfirmation(verified), .limit, "active-patient table full",
                          patient: patient, counts: false, now: now, using: &rng)
        }
        removePending(.awaitingConfirmation(verified))
        connections[connection] = .active(patient)
        var actions: [DoctorAction] = [.cancelTimer(.handshake(connection))]
        let rivals = connections.filter { entry in
            if case let .awaitingConfirmation(other) = entry.value { return other.patient == patient }
            return false
        }.keys.sorted()
        for rival in rivals {
            guard let rivalState = connections[rival] else { continue }
            actions += reject(rival, rivalState, .state, "another handshake of this id completed",
                              patient: patient, counts: false, now: now, using: &rng)
        }
        if var old = members.removeValue(forKey: patient) {
            actions += sealedDisconnect(to: &old, reason: "replaced")
            connections[old.connection] = nil
            actions += [.close(old.connection), .event(.patientLeft(patient, old.connection, reason: .replaced))]
        }
        let keys = KeySchedule.trafficKeys(sessionKey: verified.sessionKey)
        members[patient] = Member(patient: patient, connection: connection, source: verified.source,
                                  sessionKey: verified.sessionKey, keys: keys)
        actions += startEpoch(first: patient, using: &rng)
        let authenticated = DoctorEvent.patientAuthenticated(patient, connection, source: verified.source, epoch: epoch)
        if let index = actions.firstIndex(where: { if case .event(.epochStarted) = $0 { return true }; return false }) {
            actions.insert(.event(authenticated), at: index)
        } else {
            actions.append(.event(authenticated))
        }
        return actions
    }
}

extension Bytes32 {
    /// 32 zero bytes (a placeholder before a signature is filled in).
    static let zero: Bytes32 = unchecked([UInt8](repeating: 0, count: 32))

    /// Wraps bytes the caller guarantees are 32 long.
    static func unchecked(_ bytes: [UInt8]) -> Bytes32 {
        do { return try Bytes32(bytes) } catch { preconditionFailure("internal value must be 32 bytes") }
    }
}
