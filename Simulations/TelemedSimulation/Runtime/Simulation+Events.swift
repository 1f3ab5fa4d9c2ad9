import Logging
import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport

extension Simulation {
    // MARK: - Writing the trace

    /// Appends a trace line and scans it for secrets.
    func emit(_ type: String, _ fields: [(String, JSONValue)]) {
        guard let line = trace.append(time: time.now, type: type, fields: fields) else {
            if !violations.contains(where: { $0.hasPrefix("bound hit: trace") }) {
                violations.append("bound hit: trace holds \(trace.capacity) lines")
            }
            return
        }
        for leak in secrets.leaks(in: line) {
            violations.append("R-NOLEAK: \(leak) appears in the trace (\(type) line)")
        }
    }

    func traceFrame(_ frame: WireFrame, injected: Bool) {
        var fields: [(String, JSONValue)] = [
            ("delivery", .uint(frame.delivery.rawValue)), ("from", .string(frame.sender)), ("to", .string(frame.receiver)),
            ("opcode", frame.opcode.map { .string(ScenarioDecoder.name(of: $0)) } ?? .null),
            ("bytes", .int(frame.body.count)), ("sha256", .string(Simulation.digestPrefix(frame.body))),
        ]
        if injected { fields.append(("injected", .bool(true))) }
        emit("frame", fields)
    }

    func traceTransport(_ event: InMemoryEvent) {
        switch event.event {
        case let .opened(connection, peer):
            emit("opened", [("endpoint", .string(event.endpoint)), ("conn", .uint(connection.rawValue)),
                            ("peer", .string(peer.description))])
        case let .closed(connection, reason):
            emit("closed", [("endpoint", .string(event.endpoint)), ("conn", .uint(connection.rawValue)),
                            ("reason", .string(reason.description))])
        case let .refused(peer, reason):
            emit("refused", [("endpoint", .string(event.endpoint)), ("peer", .string(peer.description)),
                             ("reason", .string(reason.description))])
        case let .frameStarted(connection):
            emit("frame-started", [("endpoint", .string(event.endpoint)), ("conn", .uint(connection.rawValue))])
        case let .frameRefused(connection, error):
            emit("frame-refused", [("endpoint", .string(event.endpoint)), ("conn", .uint(connection.rawValue)),
                                   ("declared", .uint(UInt64(error.declaredLength)))])
        case .frame:
            break  // the frame was traced when it was put in flight
        }
    }

    func drainLogs() {
        for line in logs.take() {
            emit("log", [("actor", .string(line.actor)), ("level", .string(line.level.rawValue)),
                         ("message", .string(line.message)),
                         ("metadata", .object(line.metadata.map { ($0.0, .string($0.1)) }))])
        }
    }

    /// The first 16 hex digits of SHA-256.
    static func digestPrefix(_ bytes: [UInt8]) -> String {
        String(Hashing.sha256(bytes).hex.prefix(16))
    }

    // MARK: - Doctor events

    func doctorEvent(_ event: DoctorEvent) {
        window.doctorEvents.append(event)
        switch event {
        case let .rejected(_, _, rule, _, _), let .blocked(_, _, rule):
            rulesExercised.insert(rule)
        case let .broadcastSent(epoch, seq, _):
            if let label = window.pendingBroadcastLabel {
                broadcastLabels[label] = BroadcastKey(run: doctorRun, epoch: epoch, seq: seq)
                window.pendingBroadcastLabel = nil
            }
        default:
            break
        }
        emit("doctor", DoctorEventFields.fields(event, wall: doctorClock.wall))
    }

    // MARK: - Patient events

    /// An event of `patient`'s session opened to doctor run `run`.
    func patientEvent(_ patient: String, _ event: PatientEvent, run: Int) {
        window.patientEvents.append((patient, event))
        if let rule = event.rule { rulesExercised.insert(rule) }
        var fields: [(String, JSONValue)] = [("patient", .string(patient))]
        switch event {
        case let .authenticated(epoch, members):
            fields += [("event", .string("authenticated")), ("epoch", .uint(epoch)), ("members", .uint(members))]
        case let .groupKeyChanged(epoch, members):
            fields += [("event", .string("groupKeyChanged")), ("epoch", .uint(epoch)), ("members", .uint(members))]
        case let .broadcastReceived(epoch, seq, ts, text):
            let key = BroadcastKey(run: run, epoch: epoch, seq: seq)
            readBy[patient, default: []].insert(key)
            window.broadcastsRead.append((patient, key))
            if let sent = sentBroadcasts[key], !sent.members.contains(patient) {
                violations.append("R-EPOCH: \(patient) read broadcast \(key) although it was not a member")
            }
            let bytes = Array(text.utf8)
            fields += [("event", .string("broadcastReceived")), ("epoch", .uint(epoch)), ("seq", .uint(seq)),
                       ("ts", .uint(ts)), ("length", .int(bytes.count)), ("sha256", .string(Simulation.digestPrefix(bytes)))]
        case let .dropped(rule, reason):
            fields += [("event", .string("dropped")), ("rule", .string(rule.rawValue)), ("reason", .string(reason))]
        case let .ended(end):
            fields += [("event", .string("ended")), ("end", .string(end.scenarioName))]
            if case let .protocolViolation(rule, reason) = end {
                fields += [("rule", .string(rule.rawValue)), ("reason", .string(reason))]
            }
        }
        emit("patient", fields)
    }
}

// MARK: - DoctorEventFields

/// The trace fields of a doctor event (no secrets: the machine's events carry none).
enum DoctorEventFields {
    static func fields(_ event: DoctorEvent, wall: UInt64) -> [(String, JSONValue)] {
        switch event {
        case let .patientAuthenticated(patient, connection, source, epoch):
            return [("event", .string("authenticated")), ("patient", .string(patient.value)),
                    ("conn", .uint(connection.rawValue)), ("source", .string(source.description)), ("epoch", .uint(epoch))]
        case let .patientLeft(patient, connection, reason):
            return [("event", .string("left")), ("patient", .string(patient.value)), ("conn", .uint(connection.rawValue)),
                    ("reason", .string(reason.rawValue))]
        case let .epochStarted(epoch, members):
            return [("event", .string("epoch")), ("epoch", .uint(epoch)), ("members", .array(members.map { .string($0.value) }))]
        case let .rejected(connection, source, rule, reason, patient):
            return [("event", .string("rejected")), ("conn", .uint(connection.rawValue)), ("source", .string(source.description)),
                    ("rule", .string(rule.rawValue)), ("reason", .string(reason)),
                    ("patient", patient.map { .string($0.value) } ?? .null)]
        case let .blocked(target, until, rule):
            return [("event", .string("blocked")), ("target", .string(target.description)), ("until", .uint(until)),
                    ("forMillis", .uint(until >= wall ? until - wall : 0)), ("rule", .string(rule.rawValue))]
        case let .unblocked(target):
            return [("event", .string("unblocked")), ("target", .string(target.description))]
        case let .broadcastSent(epoch, seq, recipients):
            return [("event", .string("broadcast")), ("epoch", .uint(epoch)), ("seq", .uint(seq)), ("recipients", .int(recipients))]
        case let .receipt(patient, epoch, seq, known):
            return [("event", .string("receipt")), ("patient", .string(patient.value)), ("epoch", .uint(epoch)),
                    ("seq", .uint(seq)), ("known", .bool(known))]
        case let .alert(alert):
            return [("event", .string("alert")), ("alert", .string(alertName(alert))), ("detail", .string("\(alert)"))]
        case let .minimumVersionChanged(version):
            return [("event", .string("minimumVersion")), ("version", .int(version.rawValue))]
        }
    }

    /// `clockBehindStart`, `repeatedDeviceBlocks`, …
    static func alertName(_ alert: SecurityAlert) -> String {
        switch alert {
        case .failureTableFull: return "failureTableFull"
        case .sourceBlockTableSaturated: return "sourceBlockTableSaturated"
        case .repeatedDeviceBlocks: return "repeatedDeviceBlocks"
        case .clockBehindStart: return "clockBehindStart"
        }
    }
}
