import TelemedCrypto

/// How a connection ended, as the host's transport saw it.
public enum ConnectionEnd: Sendable, Equatable {
    /// The peer closed between frames (EOF or reset before any byte of a frame).
    case closedByPeer
    /// The peer closed in the middle of a frame.
    case cutFrame
    /// A length prefix over the limit (or zero) arrived; the body was not read.
    case oversizeFrame
    /// The connection could not be written within the write timeout, or died.
    case transportFailure
}

extension DoctorMachine {
    // MARK: - Accept

    /// A connection was accepted from `source` (PROTOCOL.md §5, "On accept, before reading").
    public mutating func connectionOpened(_ connection: ConnectionID, from source: SourceAddress,
                                          now: Instant) -> [DoctorAction] {
        precondition(started, "call start(now:) before feeding the doctor")
        precondition(connections[connection] == nil, "connection ids must be unique")
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
        if policy.refusesUnauthenticated {
            return actions + refuse(connection, source, .limit, "source-block table saturated")
        }
        if pendingBySource[source, default: 0] >= configuration.pendingPerSource {
            return actions + refuse(connection, source, .limit, "source holds its limit of pending handshakes")
        }
        if pendingByPrefix[source.prefix, default: 0] >= configuration.pendingPerPrefix {
            return actions + refuse(connection, source, .limit, "prefix holds its limit of pending handshakes")
        }
        if pendingCount >= configuration.pendingTotal {
            return actions + refuse(connection, source, .limit, "pending-handshake table full")
        }
        connections[connection] = .awaitingRequest(Accepted(source: source))
        addPending(source)
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
                                       using rng: inout some RandomNumberGenerator) -> [DoctorAction] {
        precondition(started, "call start(now:) before feeding the doctor")
        guard let state = connections[connection] else { return [] }
        switch state {
        case let .awaitingRequest(accepted):
            return requestReceived(body, on: connection, accepted, now: now, using: &rng)
        case let .awaitingConfirmation(verified):
            return confirmationReceived(body, on: connection, verified, now: now, using: &rng)
        case let .active(patient):
            return memberFrameReceived(body, on: connection, from: patient, now: now, using: &rng)
        }
    }

    /// The transport refused a frame before reading its body (length 0 or over 64 KiB).
    public mutating func frameRefused(on connection: ConnectionID, declaredLength: UInt32, now: Instant,
                                      using rng: inout some RandomNumberGenerator) -> [DoctorAction] {
        guard let state = connections[connection] else { return [] }
        let reason = "frame length \(declaredLength) outside 1...\(65_536)"
        return reject(connection, state, .frame, reason, patient: nil,
                      counts: isUnverified(state), now: now, using: &rng)
    }

    // MARK: - Close and timers

    /// The transport reports the connection gone.
    public mutating func connectionClosed(_ connection: ConnectionID, _ end: ConnectionEnd, now: Instant,
                                          using rng: inout some RandomNumberGenerator) -> [DoctorAction] {
        guard let state = connections.removeValue(forKey: connection) else { return [] }
        switch state {
        case let .active(patient):
            return leave(patient, reason: .connectionClosed, notify: nil, connectionGone: true, now: now, using: &rng)
        case .awaitingRequest, .awaitingConfirmation:
            removePending(state)
            var actions: [DoctorAction] = [.cancelTimer(.handshake(connection))]
            guard end != .closedByPeer, let source = state.source else { return actions }
            let rule: RuleID = end == .transportFailure ? .state : .frame
            let reason = end == .cutFrame ? "connection closed inside a frame"
                : end == .oversizeFrame ? "frame length over the limit" : "connection failed during the handshake"
            actions.append(.event(.rejected(connection, source: source, rule: rule, reason: reason,
                                            patient: pendingPatient(state))))
            if isUnverified(state) { actions += countFailure(source, now: now) }
            return actions
        }
    }

    /// A timer the machine scheduled has fired.
    public mutating func timerFired(_ timer: DoctorTimer, now: Instant,
                                    using rng: inout some RandomNumberGenerator) -> [DoctorAction] {
        switch timer {
        case let .handshake(connection):
            guard let state = connections[connection] else { return [] }
            if case .active = state { return [] }
            return reject(connection, state, .state, "handshake not complete within the timeout",
                          patient: pendingPatient(state), counts: isUnverified(state), now: now, using: &rng)
        }
    }

    // MARK: - Shared helpers

    func isUnverified(_ state: Connection) -> Bool {
        if case .awaitingRequest = state { return true }
        return false
    }

    func pendingPatient(_ state: Connection) -> PeerID? {
        if case let .awaitingConfirmation(verified) = state { return verified.patient }
        return nil
    }

    mutating func addPending(_ source: SourceAddress) {
        pendingBySource[source, default: 0] += 1
        pendingByPrefix[source.prefix, default: 0] += 1
        pendingCount += 1
    }

    mutating func removePending(_ state: Connection) {
        guard let source = state.source else { return }
        pendingBySource[source, default: 1] -= 1
        if pendingBySource[source] == 0 { pendingBySource[source] = nil }
        pendingByPrefix[source.prefix, default: 1] -= 1
        if pendingByPrefix[source.prefix] == 0 { pendingByPrefix[source.prefix] = nil }
        pendingCount -= 1
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
                         using rng: inout some RandomNumberGenerator,
                         extra: [DoctorAction] = []) -> [DoctorAction] {
        connections[connection] = nil
        let source: SourceAddress
        switch state {
        case let .active(member):
            let memberSource = members[member]?.source
            var actions: [DoctorAction] = []
            if let memberSource {
                actions.append(.event(.rejected(connection, source: memberSource, rule: rule, reason: reason, patient: member)))
            }
            actions += [.send(connection, codec.encode(.rejected))]
            return actions + leave(member, reason: .rejected, notify: nil, now: now, using: &rng)
        case .awaitingRequest, .awaitingConfirmation:
            removePending(state)
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
