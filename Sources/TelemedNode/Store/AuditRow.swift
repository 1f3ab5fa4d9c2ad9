// MARK: - AuditKind

/// What an audit row records.
public enum AuditKind: String, Sendable, CaseIterable, Codable {
    /// A patient confirmed its session key (KEY_CONFIRMATION matched).
    case authSuccess = "auth_success"
    /// A request or frame was rejected (the exact rule and reason).
    case authFailure = "auth_failure"
    /// A source, prefix or device block was set.
    case block
    /// A block was lifted by the operator.
    case unblock
    /// A patient became a member (one row per join, with the epoch it joined).
    case join
    /// A member left (DISCONNECT, close, kick, replacement, rejection, shutdown).
    case leave
    /// A new epoch began (join, leave or rekey).
    case epoch
    /// The operator asked for a new group key.
    case rekey
    /// A broadcast went out (epoch, seq, recipients; never the text).
    case broadcast
    /// A member acknowledged a broadcast.
    case receipt
    /// An operator alert (saturated tables, repeated device blocks, clock behind T0).
    case alert
    /// The transport turned a peer away before the protocol saw it (connection cap).
    case refused
    /// The doctor started (T0 recorded).
    case start
    /// The doctor shut down.
    case stop
    /// A patient's public key was enrolled (a new id, an id enrolled again after its
    /// revocation, or the one-time import of the legacy `registry/` files). The detail names
    /// the key's fingerprint.
    case enroll
    /// An enrolled patient's key was replaced by another (the old key is retired).
    case replace
    /// A patient was revoked (its key is retired; the id is refused like an unknown id).
    case revoke
    /// The minimum accepted protocol version, at start and whenever it changes (PROTOCOL.md §8.7).
    case version
}

// MARK: - AuditRow

/// One row of the audit log. It never holds a secret or a plaintext.
public struct AuditRow: Sendable, Equatable, CustomStringConvertible {
    /// Row number (increasing).
    public let id: Int64
    /// The doctor's wall clock (UTC ms).
    public let wall: UInt64
    /// What happened.
    public let kind: AuditKind
    /// The rule id (`R-SIG`, …) for failures, blocks and alerts.
    public let rule: String?
    /// The patient id involved, if any (as claimed, for failures).
    public let patient: String?
    /// The source address (or the block target) involved, if any.
    public let source: String?
    /// The connection number, if any.
    public let connection: UInt64?
    /// The epoch, if any.
    public let epoch: UInt64?
    /// A sequence number, if any.
    public let seq: UInt64?
    /// Free text: the reason, members, recipients, expiry.
    public let detail: String

    /// Builds a row (the log fills ``id`` when it reads rows back).
    public init(id: Int64 = 0, wall: UInt64, kind: AuditKind, rule: String? = nil, patient: String? = nil,
                source: String? = nil, connection: UInt64? = nil, epoch: UInt64? = nil, seq: UInt64? = nil,
                detail: String = "") {
        self.id = id
        self.wall = wall
        self.kind = kind
        self.rule = rule
        self.patient = patient
        self.source = source
        self.connection = connection
        self.epoch = epoch
        self.seq = seq
        self.detail = detail
    }

    /// `#12 2025-11-24T16:00:00Z auth_failure R-SIG patient=alice source=10.0.0.9 conn=3: …`.
    public var description: String {
        var parts = ["#\(id)", ConsoleText.time(wall), kind.rawValue]
        if let rule { parts.append(rule) }
        if let patient { parts.append("patient=\(patient)") }
        if let source { parts.append("source=\(source)") }
        if let connection { parts.append("conn=\(connection)") }
        if let epoch { parts.append("epoch=\(epoch)") }
        if let seq { parts.append("seq=\(seq)") }
        return parts.joined(separator: " ") + (detail.isEmpty ? "" : ": \(detail)")
    }
}
