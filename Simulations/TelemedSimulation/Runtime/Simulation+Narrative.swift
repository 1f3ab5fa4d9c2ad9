import TelemedProtocol

extension Simulation {
    // MARK: - Human-readable step summaries

    /// One line naming what a step does.
    func headline(_ action: StepAction) -> String {
        switch action {
        case let .connect(patient, from, signer):
            return "connect \(patient)" + (from.map { " from \($0)" } ?? "") + (signer.map { " (device signs with \($0)'s key)" } ?? "")
        case let .connectMany(label, patients):
            return "connect \(label): \(patients.count) patient(s) at once, every handshake in flight together"
        case let .leave(patient): return "\(patient) leaves"
        case let .kick(patient): return "operator kicks \(patient)"
        case let .broadcast(label, text): return "operator broadcasts \(label) (\(text.utf8.count) bytes)"
        case .rekey: return "operator rekeys"
        case let .unblock(target): return "operator unblocks \(target)"
        case let .enroll(patient, key, replace):
            let keyText = key.map { $0 == patient ? "its own key" : "key \($0)" } ?? "its own key"
            return "operator \(replace ? "replaces the key of" : "enrolls") \(patient) with \(keyText)"
        case let .revoke(patient): return "operator revokes \(patient)"
        case .restartDoctor: return "doctor restarts (same security store)"
        case let .advance(millis): return "advance \(DurationText.text(millis))"
        case let .skew(actor, millis, relative):
            let sign = millis < 0 ? "−" : "+"
            let amount = DurationText.text(millis.magnitude)
            return relative ? "skew \(actor)'s clock by \(sign)\(amount)" : "set \(actor)'s clock to true time \(sign)\(amount)"
        case let .send(spec):
            let copies = spec.copies > 1 ? " on \(spec.copies) connections at once" : ""
            let place = spec.from.map { " from \($0)" } ?? ""
            return "\(spec.attacker) sends \(describe(spec.payload))\(copies)\(place)" + (spec.closeAfter ? ", then closes" : "")
        case let .inject(spec):
            let target: String
            switch spec.target {
            case let .patient(id): target = "\(id)'s connection"
            case let .attacker(label): target = label
            }
            return "on-path injection into \(target) towards \(spec.towardsDoctor ? "the doctor" : "the client"): \(describe(spec.payload))"
        case let .flood(spec):
            let kind = spec.request.map { "\(ScenarioDecoder.name(of: $0.kind)) claiming \($0.claim)" } ?? "half-open connections"
            return "\(spec.attacker) floods: \(spec.count) × \(kind)" + (spec.concurrent ? " at once" : ", one after another")
        case let .close(attacker, label): return "\(attacker) closes \(label)"
        case .check: return "check"
        }
    }

    func describe(_ payload: Payload) -> String {
        switch payload {
        case let .raw(bytes): return "\(bytes.count) raw bytes"
        case let .frame(source, mutations):
            let base: String
            switch source {
            case let .captured(ref):
                base = "captured \(ref.sender) \(ScenarioDecoder.name(of: ref.opcode))" + (ref.to.map { " to \($0)" } ?? "")
            case let .craft(spec):
                let signer = spec.signer.map { "signed by \($0)" } ?? "random signature"
                base = "crafted \(ScenarioDecoder.name(of: spec.kind)) claiming \(spec.claim), \(signer)"
            case .json: base = "a JSON frame"
            case let .text(text): base = "a \(text.utf8.count)-byte text frame"
            case let .bytes(bytes): base = "a \(bytes.count)-byte frame"
            }
            return mutations.isEmpty ? base : base + " with \(mutations.count) edit(s)"
        }
    }

    /// What happened during the step, folded (`rejected R-SRC … ×995`).
    func happenings() -> [String] {
        var lines: [String] = window.remarks
        for event in window.doctorEvents {
            if let line = describe(event) { lines.append(line) }
        }
        var readers: [BroadcastKey: [String]] = [:]
        for (patient, key) in window.broadcastsRead {
            readers[key, default: []].append(patient)
        }
        for (id, event) in window.patientEvents {
            let patient = narrativeName(id)
            switch event {
            case .broadcastReceived:
                break
            case let .dropped(rule, reason):
                lines.append("\(patient) dropped a doctor frame: \(rule) (\(reason))")
            case let .ended(end):
                switch end {
                case let .protocolViolation(rule, reason): lines.append("\(patient) closed the session: \(rule) (\(reason))")
                case let .disconnectedByDoctor(reason): lines.append("\(patient)'s session ended: \(reason)")
                default: lines.append("\(patient)'s session ended: \(end.scenarioName)")
                }
            case .authenticated, .groupKeyChanged:
                break
            }
        }
        for (key, names) in readers.sorted(by: { $0.key < $1.key }) {
            let label = broadcastLabels.first { $0.value == key }?.key ?? key.description
            lines.append("\(label) opened by \(names.count): \(Simulation.nameList(names.sorted()))")
        }
        if window.sessionTokens > 0 { lines.append("doctor answered \(window.sessionTokens) KEY_VERIFICATION(s) with a SESSION_TOKEN") }
        if let error = window.commandError { lines.append("operator command failed: \(error)") }
        return fold(lines)
    }

    private func describe(_ event: DoctorEvent) -> String? {
        switch event {
        case let .patientAuthenticated(patient, _, source, epoch):
            if let group = patientSpecs[patient.value]?.group {
                return "a member of group:\(group) authenticated (epoch \(epoch))"
            }
            return "\(patient) authenticated from \(source) (epoch \(epoch))"
        case let .patientLeft(patient, _, reason):
            return "\(narrativeName(patient.value)) left (\(reason.rawValue))"
        case let .epochStarted(epoch, members):
            return "epoch \(epoch) begins with \(members.count) member(s)"
        case let .rejected(_, source, rule, reason, _):
            return "REJECTED \(rule) from \(source): \(reason)"
        case let .blocked(target, until, rule):
            let wall = doctorClock.wall
            return "blocked \(target) for \(DurationText.text(until >= wall ? until - wall : 0)) (\(rule))"
        case let .unblocked(target):
            return "operator lifted the block on \(target)"
        case let .broadcastSent(epoch, seq, recipients):
            return "broadcast \(BroadcastKey(run: doctorRun, epoch: epoch, seq: seq)) sealed once, sent to \(recipients)"
        case let .receipt(patient, epoch, seq, known):
            return known ? "receipt \(epoch)/\(seq) from \(patient)" : "receipt for an unknown broadcast from \(patient)"
        case let .alert(alert):
            return "ALERT \(DoctorEventFields.alertName(alert))"
        case let .minimumVersionChanged(version):
            return "minimum protocol version now \(version)"
        }
    }

    /// A patient's name in the narrative: its id, or for a member of a patient group
    /// `a member of group:p`, so that a storm's ten thousand alike lines fold into one.
    func narrativeName(_ id: String) -> String {
        patientSpecs[id]?.group.map { "a member of group:\($0)" } ?? id
    }

    /// Folds repeated lines (keeping first-seen order) into `line ×N`.
    private func fold(_ lines: [String]) -> [String] {
        var order: [String] = []
        var counts: [String: Int] = [:]
        for line in lines {
            let key = line.hasPrefix("receipt ") ? String(line.prefix(while: { $0 != "f" })) + "from members" : line
            if counts[key] == nil { order.append(key) }
            counts[key, default: 0] += 1
        }
        return order.map { key in
            let count = counts[key] ?? 1
            return count > 1 ? "\(key) ×\(count)" : key
        }
    }
}
