/// The patient's one timer.
public enum PatientTimer: Sendable, Hashable {
    /// The first GROUP_KEY must have opened when it fires.
    case handshake
}

/// Why a patient session ended.
public enum PatientEnd: Sendable, Equatable {
    /// The patient left on request (it sent DISCONNECT when it had a session key).
    case left
    /// The doctor sent a valid DISCONNECT with this reason ("kicked", "replaced", "shutdown", …).
    case disconnectedByDoctor(String)
    /// The connection is gone. For the protocol a REJECTED frame is no different from EOF or a
    /// reset (REJECTED is unauthenticated, PROTOCOL.md §5); the machine still says which one it
    /// saw, so a host can retry a refused login with its own budget.
    case connectionLost(ConnectionLoss)
    /// No first GROUP_KEY within the handshake timeout.
    case handshakeTimedOut
    /// A doctor frame failed a check that closes the session (rule and reason).
    case protocolViolation(RuleID, String)
}

/// How a patient's connection was lost.
public enum ConnectionLoss: Sendable, Equatable {
    /// EOF, a reset or a transport close, with no REJECTED before it.
    case dropped
    /// The doctor sent REJECTED: it refused the login (or a later frame) and closes. Nothing
    /// authenticates a REJECTED frame, so it only tells the host that retrying is worth a
    /// budget of its own; the session ends exactly as on EOF.
    case refusedByDoctor
}

/// What the patient tells its host. Broadcast text is delivered to the host (it is the
/// point of the system) and must not be written to logs or traces (R-NOLEAK).
public enum PatientEvent: Sendable, Equatable {
    /// The session is active: the first GROUP_KEY opened.
    case authenticated(epoch: UInt64, members: UInt64)
    /// A later GROUP_KEY opened: a new epoch.
    case groupKeyChanged(epoch: UInt64, members: UInt64)
    /// A broadcast verified and opened; a receipt was sent.
    case broadcastReceived(epoch: UInt64, seq: UInt64, ts: UInt64, text: String)
    /// A doctor frame was dropped and the session stays (rule and reason).
    case dropped(RuleID, String)
    /// The session ended.
    case ended(PatientEnd)
}

/// One thing the patient's host must do, in order.
public enum PatientAction: Sendable, Equatable {
    /// Write this frame body to the doctor.
    case send([UInt8])
    /// Close the connection after writing what is queued.
    case close
    /// Fire the timer back after this many monotonic milliseconds.
    case scheduleTimer(PatientTimer, afterMillis: UInt64)
    /// Forget the timer.
    case cancelTimer(PatientTimer)
    /// Report to the host.
    case event(PatientEvent)
}
