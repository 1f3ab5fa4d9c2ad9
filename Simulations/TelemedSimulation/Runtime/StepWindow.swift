import TelemedNode
import TelemedProtocol

// MARK: - PatientSession

/// One patient connection: the real `PatientNode`, its flow, its timers.
final class PatientSession {
    let patient: String
    let node: PatientNode
    let flow: Flow
    let timers: SimulatedTimers

    init(patient: String, node: PatientNode, flow: Flow, timers: SimulatedTimers) {
        self.patient = patient
        self.node = node
        self.flow = flow
        self.timers = timers
    }
}

// MARK: - StepWindow

/// What happened while one step ran and settled: the events each side reported, the
/// connections the step opened or targeted, and the SESSION_TOKENs the doctor sent.
struct StepWindow {
    var doctorEvents: [DoctorEvent] = []
    var patientEvents: [(patient: String, event: PatientEvent)] = []
    /// The broadcasts patients opened, each named with its doctor run.
    var broadcastsRead: [(patient: String, key: BroadcastKey)] = []
    /// Server ends of the connections this step opened or wrote into.
    var connections: Set<WireConnection> = []
    var sessionTokens = 0
    var commandError: String?
    var pendingBroadcastLabel: String?
    /// Narrative remarks from the harness (what a replayed frame is).
    var remarks: [String] = []
    /// Script problems found while performing the step (a capture that names nothing, …).
    var problems: [String] = []

    /// Rules named by every rejection, block, drop and patient-side close in the window.
    var rulesFired: [RuleID] {
        var rules: [RuleID] = []
        for event in doctorEvents {
            switch event {
            case let .rejected(_, _, rule, _, _), let .blocked(_, _, rule): rules.append(rule)
            default: break
            }
        }
        for (_, event) in patientEvents {
            if let rule = event.rule { rules.append(rule) }
        }
        return rules
    }

    /// The doctor's rejections, restricted to this step's connections when it has any.
    var stepRejections: [(rule: RuleID, reason: String)] {
        doctorEvents.compactMap { event in
            guard case let .rejected(connection, _, rule, reason, _) = event else { return nil }
            if !connections.isEmpty, !connections.contains(connection.wire) { return nil }
            return (rule, reason)
        }
    }

    /// Patients authenticated on this step's connections (or anywhere, for a step without any).
    var authenticated: [PeerID] {
        doctorEvents.compactMap { event in
            guard case let .patientAuthenticated(patient, connection, _, _) = event else { return nil }
            if !connections.isEmpty, !connections.contains(connection.wire) { return nil }
            return patient
        }
    }
}

extension PatientEvent {
    /// The rule a drop or a protocol-violation close names.
    var rule: RuleID? {
        switch self {
        case let .dropped(rule, _): return rule
        case let .ended(.protocolViolation(rule, _)): return rule
        default: return nil
        }
    }
}

extension PatientEnd {
    /// The short name scenario files use (`left`, `kicked`, `connectionLost`, `R-AEAD`, …).
    var scenarioName: String {
        switch self {
        case .left: return "left"
        case let .disconnectedByDoctor(reason): return reason
        case .connectionLost: return "connectionLost"
        case .handshakeTimedOut: return "handshakeTimedOut"
        case let .protocolViolation(rule, _): return rule.rawValue
        }
    }
}
