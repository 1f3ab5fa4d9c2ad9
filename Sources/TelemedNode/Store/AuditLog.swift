import TelemedProtocol

// MARK: - AuditLog

/// The doctor's audit log: one row per authentication success or failure, block, unblock,
/// join, leave, epoch, rekey, broadcast, receipt and alert, kept by the doctor's
/// ``DoctorStore`` (for ``SecurityStore``, in the same SQLite file as the security state).
/// Rows carry rule ids, patient ids, sources, times and counters; never a key or a plaintext
/// (the events it is built from carry none).
///
/// The running doctor does not write through this type: ``DoctorNode`` puts the rows of each
/// input into that input's ``StoreBatch``, next to its security changes. Audit rows alone are
/// committed ``StoreDurability/relaxed`` (see ``DoctorStore``).
public final class AuditLog: Sendable {
    let store: any DoctorStore

    /// The log kept by `store`.
    public init(store: any DoctorStore) {
        self.store = store
    }

    // MARK: - Writing

    /// Writes the rows one machine event stands for, durably.
    public func record(_ event: DoctorEvent, at wall: UInt64) throws(StoreError) {
        try append(Self.rows(for: event, at: wall))
    }

    /// Writes rows as given, durably, in one transaction.
    public func append(_ rows: [AuditRow]) throws(StoreError) {
        guard let first = rows.first else { return }
        try store.commit([StoreBatch(wall: first.wall, audit: rows)], durability: .durable)
    }

    // MARK: - Reading

    /// Rows in order, optionally only of one kind, at most `limit` of the most recent.
    public func rows(kind: AuditKind? = nil, limit: Int = 10_000) throws(StoreError) -> [AuditRow] {
        try store.auditRows(kind: kind, limit: limit)
    }

    // MARK: - Events to rows

    /// The rows a machine event stands for (pure; the simulator's trace may reuse it).
    public static func rows(for event: DoctorEvent, at wall: UInt64) -> [AuditRow] {
        switch event {
        case let .patientAuthenticated(patient, connection, source, epoch):
            return [AuditRow(wall: wall, kind: .authSuccess, patient: patient.value, source: source.description,
                             connection: connection.rawValue, epoch: epoch, detail: "session key confirmed"),
                    AuditRow(wall: wall, kind: .join, patient: patient.value, source: source.description,
                             connection: connection.rawValue, epoch: epoch, detail: "joined")]
        case let .patientLeft(patient, connection, reason):
            return [AuditRow(wall: wall, kind: .leave, patient: patient.value, connection: connection.rawValue,
                             detail: reason.rawValue)]
        case let .epochStarted(epoch, members):
            return [AuditRow(wall: wall, kind: .epoch, epoch: epoch,
                             detail: "members: " + members.map(\.value).joined(separator: ","))]
        case let .rejected(connection, source, rule, reason, patient):
            return [AuditRow(wall: wall, kind: .authFailure, rule: rule.rawValue, patient: patient?.value,
                             source: source.description, connection: connection.rawValue, detail: reason)]
        case let .blocked(target, until, rule):
            return [AuditRow(wall: wall, kind: .block, rule: rule.rawValue, patient: target.patient,
                             source: target.description, detail: "until \(until)")]
        case let .unblocked(target):
            return [AuditRow(wall: wall, kind: .unblock, rule: RuleID.block.rawValue, patient: target.patient,
                             source: target.description, detail: "lifted by the operator")]
        case let .broadcastSent(epoch, seq, recipients):
            return [AuditRow(wall: wall, kind: .broadcast, epoch: epoch, seq: seq, detail: "recipients: \(recipients)")]
        case let .receipt(patient, epoch, seq, known):
            return [AuditRow(wall: wall, kind: .receipt, patient: patient.value, epoch: epoch, seq: seq,
                             detail: known ? "known broadcast" : "unknown (epoch, seq)")]
        case let .alert(alert):
            return [AuditRow(wall: wall, kind: .alert, rule: alert.rule.rawValue, patient: alert.patient,
                             detail: alert.summary)]
        case let .minimumVersionChanged(version):
            return [AuditRow(wall: wall, kind: .version, rule: RuleID.version.rawValue,
                             detail: "minimum protocol version \(version)")]
        }
    }
}

// MARK: - Descriptions used by the log and the console

extension BlockTarget {
    /// The patient id of a device block.
    var patient: String? {
        if case let .device(device) = self { return device.patient.value }
        return nil
    }
}

extension SecurityAlert {
    /// The rule the alert belongs to.
    var rule: RuleID {
        switch self {
        case .failureTableFull, .sourceBlockTableSaturated: return .limit
        case .repeatedDeviceBlocks: return .skv
        case .clockBehindStart: return .start
        }
    }

    /// The patient id an alert is about, if any.
    var patient: String? {
        if case let .repeatedDeviceBlocks(id, _) = self { return id.value }
        return nil
    }

    /// One line for the log, the console and the audit row.
    public var summary: String {
        switch self {
        case let .failureTableFull(source): return "failure-counter table full: a failure from \(source) went uncounted"
        case .sourceBlockTableSaturated: return "source-block table saturated: refusing unauthenticated requests"
        case let .repeatedDeviceBlocks(id, sources): return "\(id) device-blocked from \(sources) distinct sources within 24 h"
        case let .clockBehindStart(clock, start): return "wall clock \(clock) is behind the recorded start \(start) by more than ΔTS"
        }
    }
}
