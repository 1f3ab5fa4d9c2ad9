/// A timer the doctor asks its host to run on the monotonic clock.
public enum DoctorTimer: Sendable, Hashable {
    /// The handshake of this connection must be complete (patient active) when it fires.
    case handshake(ConnectionID)
    /// A frame an active member began must be complete when it fires (the handshake timeout
    /// after its first bytes; PROTOCOL.md §5 "REJECTED and closing").
    case frameCompletion(ConnectionID)
    /// The coalescing window of the pending epoch has ended: start it (PROTOCOL.md §7.1).
    case epochWindow
}

/// Why an active patient stopped being a member.
public enum LeaveReason: String, Sendable, Equatable {
    /// It sent DISCONNECT.
    case disconnected
    /// Its connection closed or died (transport report).
    case connectionClosed
    /// The operator kicked it.
    case kicked
    /// A newer session of the same id replaced it.
    case replaced
    /// It sent something the doctor rejected (R-STATE, R-AEAD, R-FRAME, …), or its connection
    /// ended inside a frame.
    case rejected
    /// Frames for it could not be written within the write timeout.
    case writeTimeout
    /// Its outbound queue would have exceeded the configured bound (it does not read).
    case outboundQueueFull
    /// The doctor disconnected everyone (shutdown or the `disconnect` command).
    case shutdown
    /// The operator revoked the patient (DISCONNECT "revoked").
    case revoked
    /// The operator replaced the patient's key; the session of the old key ends
    /// (DISCONNECT "key replaced").
    case keyReplaced = "key_replaced"
    /// The operator raised the minimum protocol version above its session's (DISCONNECT
    /// "version", PROTOCOL.md §8.6).
    case versionRaised = "version"
}

/// What the doctor tells its host. Plain data: no secrets, no plaintexts.
public enum DoctorEvent: Sendable, Equatable {
    /// A patient confirmed its session key and is now a member of `epoch`.
    case patientAuthenticated(PeerID, ConnectionID, source: SourceAddress, epoch: UInt64)
    /// A member left.
    case patientLeft(PeerID, ConnectionID, reason: LeaveReason)
    /// A new epoch began with these members (ascending id order).
    case epochStarted(UInt64, members: [PeerID])
    /// An input was refused: the exact rule and reason (never sent to the peer).
    case rejected(ConnectionID, source: SourceAddress, rule: RuleID, reason: String, patient: PeerID?)
    /// A block was set.
    case blocked(BlockTarget, until: UInt64, rule: RuleID)
    /// A block was lifted by the operator.
    case unblocked(BlockTarget)
    /// A broadcast was sealed once and sent to every member.
    case broadcastSent(epoch: UInt64, seq: UInt64, recipients: Int)
    /// A member acknowledged a broadcast (DEC_MSG). `known` is false for an (epoch, seq) the
    /// doctor never sent (audited, not rejected).
    case receipt(PeerID, epoch: UInt64, seq: UInt64, known: Bool)
    /// An operator alert.
    case alert(SecurityAlert)
    /// The minimum accepted protocol version changed (PROTOCOL.md §8.7: audited whenever it
    /// changes; the host audits the configured one at start).
    case minimumVersionChanged(ProtocolVersion)
}

/// One thing the host must do, in order.
public enum DoctorAction: Sendable, Equatable {
    /// Write this frame body on the connection.
    case send(ConnectionID, [UInt8])
    /// Close the connection after writing what is queued.
    case close(ConnectionID)
    /// Fire `timer` back into the machine after this many monotonic milliseconds.
    case scheduleTimer(DoctorTimer, afterMillis: UInt64)
    /// Forget a scheduled timer.
    case cancelTimer(DoctorTimer)
    /// Write this security change durably before applying any later action.
    case persist(SecurityChange)
    /// Report something to the host (audit log, console, trace).
    case event(DoctorEvent)
    /// Run this handshake job (the stateless crypto of a KEY_VERIFICATION) on any thread and
    /// give its result back with ``DoctorMachine/jobFinished(_:now:using:)``. Emitted only when
    /// ``DoctorMachine/handshakeJobs`` is ``HandshakeJobExecution/byHost``; every job emitted
    /// must come back exactly once to the machine that emitted it (its connection holds a
    /// pending-handshake slot until then).
    case verify(HandshakeJob)
}

/// Operator commands that can fail.
public enum DoctorCommandError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A broadcast was requested with no active patient.
    case nobodyConnected
    /// A broadcast text was empty, too long (over 16,384 bytes) or not UTF-8.
    case invalidBroadcastText(String)
    /// No active patient has this id.
    case unknownPatient(PeerID)
    /// No block matched.
    case noSuchBlock(String)

    public var description: String {
        switch self {
        case .nobodyConnected: return "no patient is connected"
        case let .invalidBroadcastText(why): return "invalid broadcast text: \(why)"
        case let .unknownPatient(id): return "no active patient \(id)"
        case let .noSuchBlock(what): return "no block on \(what)"
        }
    }
}
