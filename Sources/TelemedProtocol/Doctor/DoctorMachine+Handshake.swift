import TelemedCrypto

extension DoctorMachine {
    // MARK: - KEY_VERIFICATION (first frame), cheapest check first (PROTOCOL.md §5, §7)

    /// The checks of a first frame that need no public-key work, in the order of PROTOCOL.md §5
    /// up to the replay-cache lookup; if they pass, the signature phase of a ``HandshakeJob``
    /// goes out (run at once when ``handshakeJobs`` is `.inline`). The rest of the request's
    /// checks happen when the job's results come back (DoctorMachine+Jobs.swift).
    mutating func requestReceived(_ body: [UInt8], on connection: ConnectionID, _ accepted: Accepted,
                                  now: Instant, using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        let state = Connection.awaitingRequest(accepted)
        // Forget what expired while the connection was pending, as on accept: a block table
        // that was saturated refuses only until it has room again (R-LIMIT).
        let purged = policy.purgeExpired(now: now.wall).map(DoctorAction.persist)
        do throws(Refusal) {
            let (request, share, enrolledKey, signature) = try checkRequest(body, from: accepted.source, now: now)
            let verifying = Verifying(source: accepted.source, request: request, share: share, patientKey: enrolledKey,
                                      job: takeJobNumber(), phase: .signature)
            table.beginVerification(connection, verifying)
            // An unknown id is checked against the dummy key: the same work, the same answer (R-ID).
            let job = HandshakeJob(connection: connection, number: verifying.job, work: .signature(
                HandshakeJob.SignatureWork(request: request, share: share, signature: signature, key: enrolledKey ?? dummyKey)))
            return purged + dispatch(job, now: now, using: &rng)
        } catch {
            return purged + reject(connection, state, error.rule, error.reason, patient: error.patient,
                                   counts: error.counts, now: now, using: &rng)
        }
    }

    /// The checks of a first frame before its signature, in the order of PROTOCOL.md §5; they
    /// change nothing. Returns the request's shared fields, dh_i (version 2 only), the enrolled
    /// key (nil for an unknown id) and the parsed signature.
    private func checkRequest(_ body: [UInt8], from source: SourceAddress,
                              now: Instant) throws(Refusal) -> (KeyVerification, ElementBytes?, PublicKey?, Signature) {
        if let until = policy.sourceBlockExpiry(source, now: now.wall) {
            throw Refusal(.block, "source blocked until \(until)", nil, counts: false)
        }
        if policy.refusesUnauthenticated(from: source) {
            throw Refusal(.limit, "source-block table saturated", nil, counts: false)
        }
        guard body.count <= MessageCodec.maxBodyLength else { throw Refusal(.frame, "frame over the limit") }
        let message: Message
        do {
            message = try codec.decode(body)
        } catch {
            if case let .unexpectedGroup(name) = error {
                throw Refusal(.group, "request for group \(name)")
            }
            throw Refusal(.frame, "malformed frame: \(error)")
        }
        let request: KeyVerification
        let share: ElementBytes?
        switch message {
        case let .keyVerification(v1):
            // §8.5, §8.6.3: below the minimum → refused right after the strict parse, audited
            // with the claimed id, not counted, nothing else looked at (no cache lookup).
            guard minimumVersion <= .v1 || fault == .acceptVersion1BelowMinimum else {
                throw Refusal(.version, "request version 1 below minimum \(minimumVersion)", v1.idI,
                              counts: fault == .countVersionRefusal)
            }
            (request, share) = (v1, nil)
        case let .keyVerificationV2(v2):
            (request, share) = (v2.commonFields, v2.dhI)
        default:
            throw Refusal(.state, "opcode \(message.opcode.rawValue) before KEY_VERIFICATION")
        }
        let id = request.idI
        guard request.idGWN == identity else { throw Refusal(.identity, "request addressed to another gateway", id) }
        // §7.2: the time window and the start rule cost no public-key work and do not count
        // (an honest patient whose clock lags a restart must not block its own address).
        guard now.wall.absoluteDifference(from: request.tsI) <= configuration.timeWindowMillis else {
            throw Refusal(.time, "ts_i \(request.tsI) outside ΔTS of \(now.wall)", id, counts: fault == .countTimeRefusal)
        }
        guard request.tsI >= policy.state.startTime else {
            throw Refusal(.start, "ts_i \(request.tsI) before start time \(policy.state.startTime)", id, counts: false)
        }
        let enrolledKey = registry[id]
        let device = DeviceKey(patient: id, source: source)
        if let until = policy.deviceBlockExpiry(device, now: now.wall) {
            throw Refusal(.block, "device \(device) blocked until \(until)", id, counts: fault == .countDeviceBlockedRequest)
        }
        if replay.contains(id, request.rnI, now: now.monotonic) {
            throw Refusal(.replay, "(id, rn) seen within the replay window", id)
        }
        do {
            let signature = try Signature(group: group, rBytes: request.sigR.bytes, sBytes: request.sigS.bytes)
            return (request, share, enrolledKey, signature)
        } catch {
            throw Refusal(.signature, "signature has the wrong width", id)
        }
    }

    // MARK: - KEY_CONFIRMATION

    mutating func confirmationReceived(_ body: [UInt8], on connection: ConnectionID, _ verified: Verified,
                                       now: Instant, using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        let state = Connection.awaitingConfirmation(verified)
        let patient = verified.patient
        func refuse(_ rule: RuleID, _ reason: String) -> Refusal { Refusal(rule, reason, patient, counts: false) }
        // §7.4: before anything else (before parsing), a block set on the source, its prefix
        // or the device while the handshake was pending ends it: no new block, not counted. A
        // saturated block table does not refuse a pending confirmation.
        let recheck = fault != .skipBlockRecheckAtConfirmation
        if recheck, let until = policy.sourceBlockExpiry(verified.source, now: now.wall) {
            return reject(connection, state, .block, "source blocked until \(until) while the handshake was pending",
                          patient: patient, counts: false, now: now, using: &rng)
        }
        let pendingDevice = DeviceKey(patient: patient, source: verified.source)
        if recheck, let until = policy.deviceBlockExpiry(pendingDevice, now: now.wall) {
            return reject(connection, state, .block,
                          "device \(pendingDevice) blocked until \(until) while the handshake was pending",
                          patient: patient, counts: false, now: now, using: &rng)
        }
        let refusal: Refusal
        do {
            let message = try codec.decode(body)
            guard case let .keyConfirmation(confirmation) = message else {
                throw refuse(.state, "opcode \(message.opcode.rawValue) instead of KEY_CONFIRMATION")
            }
            guard confirmation.idI == patient else { throw refuse(.state, "KEY_CONFIRMATION for another id") }
            guard now.wall.absoluteDifference(from: confirmation.ts) <= configuration.timeWindowMillis else {
                throw refuse(.time, "ts \(confirmation.ts) outside ΔTS of \(now.wall)")
            }
            guard confirmation.ts >= policy.state.startTime else {
                throw refuse(.start, "ts \(confirmation.ts) before start time")
            }
            guard KeySchedule.verifiesSessionKey(confirmation.skv, sessionKey: verified.sessionKey, ts: confirmation.ts) else {
                let device = DeviceKey(patient: patient, source: verified.source)
                let (changes, alerts, until) = policy.blockDevice(device, now: now.wall)
                let extra = changes.map(DoctorAction.persist) + alerts.map { DoctorAction.event(.alert($0)) }
                    + [.event(.blocked(.device(device), until: until, rule: .skv))]
                return reject(connection, state, .skv, "SKV mismatch", patient: patient, counts: false,
                              now: now, using: &rng, extra: extra)
            }
            return join(patient, on: connection, verified, now: now, using: &rng)
        } catch let error as DecodeError {
            refusal = refuse(.frame, "malformed frame: \(error)")
        } catch let error as Refusal {
            refusal = error
        } catch {
            refusal = refuse(.frame, "unexpected failure")
        }
        return reject(connection, state, refusal.rule, refusal.reason, patient: patient, counts: false,
                      now: now, using: &rng)
    }

    /// Makes a confirmed patient a member: ends its other pending handshakes, replaces an
    /// older session of the same id, and records the change (a new epoch with the joiner served
    /// first, at once or at the end of the epoch window).
    private mutating func join(_ patient: PeerID, on connection: ConnectionID, _ verified: Verified,
                               now: Instant, using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        if members[patient] == nil && members.count >= configuration.maxActivePatients {
            return reject(connection, .awaitingConfirmation(verified), .limit, "active-patient table full",
                          patient: patient, counts: false, now: now, using: &rng)
        }
        // The connection stops being a pending handshake here and becomes the member's below,
        // after rival handshakes and an older session of the id are gone.
        table.removeHandshake(connection)
        var actions: [DoctorAction] = [.cancelTimer(.handshake(connection))]
        let rivals = table.handshakes(naming: patient)
        for rival in rivals {
            guard let rivalState = table.stage(of: rival) else { continue }
            actions += reject(rival, rivalState, .state, "another handshake of this id completed",
                              patient: patient, counts: false, now: now, using: &rng)
        }
        if case (var old, let cancel)? = removeMember(patient) {
            actions += cancel
            actions += sealedDisconnect(to: &old, reason: "replaced")
            actions += [.close(old.connection), .event(.patientLeft(patient, old.connection, reason: .replaced))]
        }
        let keys = KeySchedule.trafficKeys(sessionKey: verified.sessionKey)
        table.addMember(Member(patient: patient, connection: connection, source: verified.source,
                               sessionKey: verified.sessionKey, version: verified.version, sending: SealingKey(keys.doctorToPatient),
                               receiving: OpeningKey(keys.patientToDoctor)))
        actions += membershipChanged(joiner: patient, using: &rng)
        // With a window the joiner's epoch is the pending one (the next number).
        let joins = pendingEpoch == nil ? epoch : epoch + 1
        let authenticated = DoctorEvent.patientAuthenticated(patient, connection, source: verified.source, epoch: joins)
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

/// Why an input was refused: the rule, the reason, the claimed patient and whether the
/// failure counts against the source (R-SRC).
struct Refusal: Error {
    let rule: RuleID
    let reason: String
    let patient: PeerID?
    let counts: Bool

    init(_ rule: RuleID, _ reason: String, _ patient: PeerID? = nil, counts: Bool = true) {
        self.rule = rule
        self.reason = reason
        self.patient = patient
        self.counts = counts
    }
}
