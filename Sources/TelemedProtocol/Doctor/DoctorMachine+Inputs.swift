import TelemedCrypto

/// How a connection ended, as the host's transport saw it. The transport closes a connection
/// by itself only for these; everything else (a refused length prefix, a frame or handshake
/// that takes too long) reaches the machine as an input and the machine closes.
public enum ConnectionEnd: Sendable, Equatable {
    /// The peer closed between frames (EOF or reset before any byte of a frame), or the host
    /// closed it on the machine's request.
    case closedByPeer
    /// The peer closed in the middle of a frame (R-FRAME: a cut frame).
    case cutFrame
    /// Frames queued for the peer were not written within the write timeout
    /// (``DoctorConfiguration/writeTimeoutMillis``).
    case writeTimeout
    /// A send would have exceeded the connection's outbound bound
    /// (``DoctorConfiguration/outboundQueueBytes``).
    case outboundQueueFull
    /// The system reported the connection dead.
    case transportFailure
}

extension DoctorMachine {
    // MARK: - Accept

    /// A connection was accepted from `source` (PROTOCOL.md §5, "On accept, before reading").
    public mutating func connectionOpened(_ connection: ConnectionID, from source: SourceAddress,
                                          now: Instant) -> [DoctorAction] {
        precondition(started, "call start(now:) before feeding the doctor")
        precondition(!table.contains(connection), "connection ids must be unique")
        var actions = policy.purgeExpired(now: now.wall).map(DoctorAction.persist)
        if now.wall &+ configuration.timeWindowMillis < policy.state.startTime {
            if !clockBehindEpisode {
                clockBehindEpisode = true
                actions.append(.event(.alert(.clockBehindStart(clock: now.wall, startTime: policy.state.startTime))))
            }
            return actions + refuse(connection, source, .start, "doctor clock is behind its recorded start time")
        }
        clockBehindEpisode = false
        if let until = policy.sourceBlockExpiry(source, now: now.wall) {
            return actions + refuse(connection, source, .block, "source blocked until \(until)")
        }
        if policy.refusesUnauthenticated(from: source) {
            return actions + refuse(connection, source, .limit, "source-block table saturated")
        }
        if table.pending(from: source) >= configuration.pendingPerSource {
            return actions + refuse(connection, source, .limit, "source holds its limit of pending handshakes")
        }
        if table.pending(in: source.prefix) >= configuration.pendingPerPrefix {
            return actions + refuse(connection, source, .limit, "prefix holds its limit of pending handshakes")
        }
        if table.pendingCount >= configuration.pendingTotal {
            return actions + refuse(connection, source, .limit, "pending-handshake table full")
        }
        table.openHandshake(connection, from: source)
        actions.append(.scheduleTimer(.handshake(connection), afterMillis: configuration.handshakeTimeoutMillis))
        return actions
    }

    /// REJECTED and close for a connection the machine does not track.
    private func refuse(_ connection: ConnectionID, _ source: SourceAddress, _ rule: RuleID,
                        _ reason: String) -> [DoctorAction] {
        [.event(.rejected(connection, source: source, rule: rule, reason: reason, patient: nil)),
         .send(connection, codec.encode(.rejected)),
         .close(connection)]
    }

    // MARK: - Frames

    /// One complete frame body arrived on `connection`.
    public mutating func frameReceived(_ body: [UInt8], on connection: ConnectionID, now: Instant,
                                       using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        precondition(started, "call start(now:) before feeding the doctor")
        guard let state = table.stage(of: connection) else { return [] }
        switch state {
        case let .awaitingRequest(accepted):
            table.endFrame(on: connection)
            return requestReceived(body, on: connection, accepted, now: now, using: &rng)
        case let .awaitingConfirmation(verified):
            table.endFrame(on: connection)
            return confirmationReceived(body, on: connection, verified, now: now, using: &rng)
        case let .verifying(verifying):
            // Nothing may come before the SESSION_TOKEN; the request's own outcome (counted or
            // not) is applied when its job's result is back.
            table.endFrame(on: connection)
            return reject(connection, state, .state, "frame before SESSION_TOKEN (the request was still being verified)",
                          patient: verifying.namedPatient, counts: false, now: now, using: &rng)
        case let .active(patient):
            let cancel: [DoctorAction] = table.endFrame(on: connection) ? [.cancelTimer(.frameCompletion(connection))] : []
            return cancel + memberFrameReceived(body, on: connection, from: patient, now: now, using: &rng)
        }
    }

    /// The first bytes of a frame arrived and the frame is not complete yet (PROTOCOL.md §7.6).
    ///
    /// For an active member the frame must complete within the handshake timeout (a timer);
    /// for a pending handshake the handshake timer already runs, and when it fires the begun
    /// frame makes it an R-FRAME refusal instead of R-STATE.
    public mutating func frameStarted(on connection: ConnectionID, now: Instant) -> [DoctorAction] {
        precondition(started, "call start(now:) before feeding the doctor")
        guard let state = table.stage(of: connection), table.beginFrame(on: connection) else { return [] }
        guard case .active = state else { return [] }
        return [.scheduleTimer(.frameCompletion(connection), afterMillis: configuration.handshakeTimeoutMillis)]
    }

    /// The transport refused a length prefix (0 or over 65536) before reading any body byte;
    /// the connection is still writable (PROTOCOL.md §7.6: REJECTED, close, R-FRAME, counted
    /// for a first frame, a leave for a member).
    public mutating func frameRefused(on connection: ConnectionID, declaredLength: UInt32, now: Instant,
                                      using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        precondition(started, "call start(now:) before feeding the doctor")
        guard let state = table.stage(of: connection) else { return [] }
        let reason = "frame length \(declaredLength) outside 1...\(MessageCodec.maxBodyLength)"
        return reject(connection, state, .frame, reason, patient: pendingPatient(state),
                      counts: isUnverified(state), now: now, using: &rng)
    }

    // MARK: - Close and timers

    /// The transport reports the connection gone (PROTOCOL.md §5 "Leaving", §7.6).
    public mutating func connectionClosed(_ connection: ConnectionID, _ end: ConnectionEnd, now: Instant,
                                          using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        guard let state = table.stage(of: connection) else { return [] }
        switch state {
        case let .active(patient):
            // `leave` removes the member together with its connection (and its frame timer).
            var actions: [DoctorAction] = []
            let reason: LeaveReason
            switch end {
            case .closedByPeer, .transportFailure: reason = .connectionClosed
            case .writeTimeout: reason = .writeTimeout
            case .outboundQueueFull: reason = .outboundQueueFull
            case .cutFrame:
                reason = .rejected
                if let source = members[patient]?.source {
                    actions.append(.event(.rejected(connection, source: source, rule: .frame,
                                                    reason: "connection closed inside a frame", patient: patient)))
                }
            }
            return actions + leave(patient, reason: reason, notify: nil, connectionGone: true, now: now, using: &rng)
        case .awaitingRequest, .verifying, .awaitingConfirmation:
            // A verifying handshake is retired by the removal: its job's result is still applied.
            table.removeHandshake(connection)
            var actions: [DoctorAction] = [.cancelTimer(.handshake(connection))]
            guard end != .closedByPeer, let source = state.source else { return actions }
            let (rule, reason): (RuleID, String) = switch end {
            case .cutFrame: (.frame, "connection closed inside a frame")
            case .writeTimeout: (.state, "SESSION_TOKEN not written within the write timeout")
            case .outboundQueueFull: (.state, "outbound queue full during the handshake")
            case .closedByPeer, .transportFailure: (.state, "connection failed during the handshake")
            }
            actions.append(.event(.rejected(connection, source: source, rule: rule, reason: reason,
                                            patient: pendingPatient(state))))
            if isUnverified(state) { actions += countFailure(source, now: now) }
            return actions
        }
    }

    /// A timer the machine scheduled has fired.
    public mutating func timerFired(_ timer: DoctorTimer, now: Instant,
                                    using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        switch timer {
        case let .handshake(connection):
            guard let state = table.stage(of: connection) else { return [] }
            if case .active = state { return [] }
            // §7.6: a begun frame that never completed is R-FRAME; no frame begun (or no
            // KEY_CONFIRMATION) within the handshake timeout is R-STATE.
            let (rule, reason): (RuleID, String) = table.hasFrameInProgress(connection)
                ? (.frame, "frame not completed within the handshake timeout")
                : (.state, timeoutReason(state))
            return reject(connection, state, rule, reason, patient: pendingPatient(state),
                          counts: isUnverified(state), now: now, using: &rng)
        case let .frameCompletion(connection):
            guard let state = table.stage(of: connection), case .active = state,
                  table.hasFrameInProgress(connection) else { return [] }
            return reject(connection, state, .frame, "frame not completed within the handshake timeout",
                          patient: nil, counts: false, now: now, using: &rng)
        case .epochWindow:
            guard let pending = pendingEpoch else { return [] }
            return startEpoch(joiners: pending.joiners, using: &rng)
        }
    }

    // MARK: - Shared helpers

    /// Why the handshake timer ended a pending handshake without a begun frame.
    private func timeoutReason(_ state: Connection) -> String {
        switch state {
        case .awaitingRequest: return "no KEY_VERIFICATION within the handshake timeout"
        case .verifying: return "the request was still being verified at the handshake timeout"
        case .awaitingConfirmation, .active: return "no KEY_CONFIRMATION within the handshake timeout"
        }
    }

    /// Whether a failure on this connection counts against its source: only before a first
    /// frame reached the signature check (a verifying handshake's count is decided by its
    /// request's outcome, when the job's result is applied).
    func isUnverified(_ state: Connection) -> Bool {
        if case .awaitingRequest = state { return true }
        return false
    }

    func pendingPatient(_ state: Connection) -> PeerID? {
        switch state {
        case let .awaitingConfirmation(verified): return verified.patient
        case let .verifying(verifying): return verifying.namedPatient
        case .awaitingRequest, .active: return nil
        }
    }

    /// Counts a failure against `source` (R-SRC) and blocks it at the threshold.
    mutating func countFailure(_ source: SourceAddress, now: Instant) -> [DoctorAction] {
        let (changes, alerts, until) = policy.countFailure(source, now: now.wall)
        var actions = changes.map(DoctorAction.persist) + alerts.map { DoctorAction.event(.alert($0)) }
        if let until {
            let target: BlockTarget = policy.state.sourceBlocks[source] != nil ? .source(source) : .prefix(source.prefix)
            actions.append(.event(.blocked(target, until: until, rule: .source)))
        }
        return actions
    }

    /// Rejects an input on a tracked connection: audit, count, REJECTED, close, and for an
    /// active patient a leave (new epoch for the rest).
    mutating func reject(_ connection: ConnectionID, _ state: Connection, _ rule: RuleID, _ reason: String,
                         patient: PeerID?, counts: Bool, now: Instant,
                         using rng: inout some CryptographicRandomNumberGenerator,
                         extra: [DoctorAction] = []) -> [DoctorAction] {
        let source: SourceAddress
        switch state {
        case let .active(member):
            // `leave` removes the member together with its connection.
            let memberSource = members[member]?.source
            var actions: [DoctorAction] = []
            if let memberSource {
                actions.append(.event(.rejected(connection, source: memberSource, rule: rule, reason: reason, patient: member)))
            }
            actions += [.send(connection, codec.encode(.rejected))]
            return actions + leave(member, reason: .rejected, notify: nil, now: now, using: &rng)
        case .awaitingRequest, .verifying, .awaitingConfirmation:
            // A verifying handshake is retired by the removal: its job's result is still applied.
            table.removeHandshake(connection)
            source = state.source ?? preconditionFailureSource()
        }
        var actions = extra
        actions.append(.event(.rejected(connection, source: source, rule: rule, reason: reason, patient: patient)))
        if counts { actions += countFailure(source, now: now) }
        actions += [.cancelTimer(.handshake(connection)), .send(connection, codec.encode(.rejected)), .close(connection)]
        return actions
    }

    private func preconditionFailureSource() -> SourceAddress {
        preconditionFailure("a pending connection always has a source")
    }
}
