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
            case let .patientSession(id, index):
                target = index >= 0 ? "\(id)'s connection #\(index) (by opening order)" : "\(id)'s connection #\(index) from the latest"
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
            case let .craft(spec): base = Simulation.describe(spec)
            case .json: base = "a JSON frame"
            case let .text(text): base = "a \(text.utf8.count)-byte text frame"
            case let .bytes(bytes): base = "a \(bytes.count)-byte frame"
            }
            return mutations.isEmpty ? base : base + ", edited: " + mutations.map(Simulation.describe).joined(separator: "; ")
        }
    }

    /// A crafted message and everything special about it: who signs (and over what), which
    /// of r, s, c1, c2 is replaced by which special value, whose ciphertext it carries, how far
    /// its timestamp is off. Two crafted frames that differ in any of these read differently.
    static func describe(_ spec: CraftSpec) -> String {
        var parts = ["crafted \(ScenarioDecoder.name(of: spec.kind)) claiming \(spec.claim)"]
        if spec.kind == .keyConfirmation {
            // No signature: a KEY_CONFIRMATION carries only ts and SKV, and a crafted one guesses SKV.
            parts.append("with a guessed (random) SKV")
            if spec.tsOffsetMillis != 0 { parts.append(timestampOffset(spec.tsOffsetMillis)) }
            return parts.joined(separator: ", ")
        }
        switch (spec.signer, spec.signOther) {
        case let (signer?, true): parts.append("with \(signer)'s valid signature over other bytes")
        case let (signer?, false): parts.append("signed by \(signer)")
        case (nil, _): parts.append(spec.r == nil && spec.s == nil ? "with a random (r, s)" : "with a random signature")
        }
        var replaced: [String] = []
        if let r = spec.r { replaced.append("r = \(describe(r, as: .element))") }
        if let s = spec.s { replaced.append("s = \(describe(s, as: .scalar))") }
        if let c1 = spec.c1 { replaced.append("c1 = \(describe(c1, as: .element))") }
        if let c2 = spec.c2 { replaced.append("c2 = \(describe(c2, as: .element))") }
        if !replaced.isEmpty { parts.append("then " + replaced.joined(separator: ", ")) }
        if let ref = spec.ciphertextFrom {
            parts.append("carrying the c1, c2 of \(ref.sender)'s captured \(ScenarioDecoder.name(of: ref.opcode))")
        }
        if let ref = spec.answering {
            parts.append("answering \(ref.sender)'s captured \(ScenarioDecoder.name(of: ref.opcode))")
        }
        if let gateway = spec.idGWN { parts.append("addressed to gateway \(gateway)") }
        if spec.tsOffsetMillis != 0 { parts.append(timestampOffset(spec.tsOffsetMillis)) }
        return parts.joined(separator: ", ")
    }

    /// `timestamp 2 min ahead of the sender's clock`.
    private static func timestampOffset(_ millis: Int64) -> String {
        "timestamp \(DurationText.text(millis.magnitude)) \(millis > 0 ? "ahead of" : "behind") the sender's clock"
    }

    /// Where a special value goes: a group element (r, c1, c2) or a 32-byte scalar (s).
    enum ValueSlot { case element, scalar }

    /// `0 (out of range)`, `p−1 (the element of order 2)`, `q (one past the largest scalar)`.
    static func describe(_ value: SpecialValue, as slot: ValueSlot) -> String {
        switch (value, slot) {
        case (.zero, _): return "0 (out of range)"
        case (.one, .element): return "1 (the identity element)"
        case (.one, .scalar): return "1"
        case (.pMinusOne, _): return "p−1 (the element of order 2)"
        case (.p, _): return "p (the modulus itself, out of range)"
        case (.q, .element): return "q (the subgroup order, not an element of the subgroup)"
        case (.q, .scalar): return "q (the subgroup order, one past the largest scalar)"
        case (.random, _): return "random bytes"
        case (.nonSubgroup, _): return "an element outside the order-q subgroup"
        }
    }

    /// One edit of a frame, for a headline.
    static func describe(_ mutation: Mutation) -> String {
        switch mutation {
        case let .set(field, fragment):
            let text = fragment.value.compactText
            return "\(field) set to " + (text.count > 40 ? String(text.prefix(37)) + "…" : text)
        case let .remove(field): return "\(field) removed"
        case let .flipBit(field, bit): return "\(bitName(bit)) of \(field) flipped"
        case let .truncate(field, bytes): return "last \(bytes) byte(s) of \(field) cut off"
        case let .duplicateKey(field): return "\(field) written twice"
        case let .resign(signer): return "signature recomputed with \(signer)'s key"
        case let .resignAnswer(signer, answering):
            let which = answering.nth >= 0 ? "#\(answering.nth)" : "#\(answering.nth) from the latest"
            return "signature recomputed with \(signer)'s key over the transcript (H_1) of \(answering.sender)'s "
                + "\(ScenarioDecoder.name(of: answering.opcode)) \(which)"
        case let .flipBodyBit(bit): return "\(bitName(bit)) of the frame body flipped"
        case let .copy(field, from, sourceField): return "\(field) set to \(sourceField) of \(from)"
        }
    }

    /// `the first bit` (the top bit of the first byte), `bit 7`, `the last bit`, `bit 8 from the end`.
    private static func bitName(_ bit: Int) -> String {
        switch bit {
        case 0: return "the first bit"
        case -1: return "the last bit"
        case ..<0: return "bit \(bit.magnitude) from the end"
        default: return "bit \(bit)"
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
