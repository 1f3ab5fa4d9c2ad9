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
    /// REJECTED, EOF or reset: the connection is gone (REJECTED is unauthenticated).
    case connectionLost
    /// No first GROUP_KEY within the handshake timeout.
    case handshakeTimedOut
    /// A doctor frame failed a check that closes the session (rule and reason).
    case protocolViolation(RuleID, String)
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
