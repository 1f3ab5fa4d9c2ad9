import TelemedCrypto
import TelemedNode
import TelemedProtocol

/// The verdict on one expectation.
public struct ExpectationResult: Sendable {
    /// Its JSON path.
    public let path: String
    /// True when it held.
    public let passed: Bool
    /// What was checked, or what was seen instead.
    public let message: String
}

extension Simulation {
    // MARK: - Checking a step's expectations

    func check(_ expectations: [Expectation]) -> [ExpectationResult] {
        expectations.map { expectation in
            let (passed, message) = evaluate(expectation.kind)
            return ExpectationResult(path: expectation.path, passed: passed, message: message)
        }
    }

    private func evaluate(_ kind: Expectation.Kind) -> (Bool, String) {
        let machine = doctor.machine
        switch kind {
        case let .accepted(expected):
            let sessions = window.authenticated.map(\.value)
            let accepted = window.connections.isEmpty ? window.commandError == nil : !sessions.isEmpty
            let seen = accepted ? (sessions.isEmpty ? "accepted" : "accepted: \(Simulation.nameList(sessions)) authenticated")
                : (window.rulesFired.isEmpty ? "not accepted" : "not accepted: \(seenRules())")
            return (accepted == expected, accepted == expected ? seen : "expected \(expected ? "acceptance" : "no session"), but \(seen)")
        case let .rejected(rules):
            let seen = Set(window.stepRejections.map(\.rule))
            let missing = rules.filter { !seen.contains($0) }
            return (missing.isEmpty, missing.isEmpty ? "rejected \(list(rules))"
                    : "expected a rejection under \(list(missing)), saw \(seenRules(rejectionsOnly: true))")
        case let .rejectedCount(rule, count):
            let seen = window.stepRejections.filter { $0.rule == rule }.count
            return (seen == count, "\(count) × \(rule)" + (seen == count ? "" : ", saw \(seen)"))
        case let .dropped(rules):
            let seen = Set(window.patientEvents.compactMap { $0.event.rule })
            let missing = rules.filter { !seen.contains($0) }
            return (missing.isEmpty, missing.isEmpty ? "patient dropped/closed under \(list(rules))"
                    : "expected a patient drop under \(list(missing)), saw \(list(Array(seen).sorted { $0.rawValue < $1.rawValue }))")
        case let .rules(rules):
            let seen = Set(window.rulesFired)
            let missing = rules.filter { !seen.contains($0) }
            return (missing.isEmpty, missing.isEmpty ? "rules \(list(rules)) fired" : "expected \(list(missing)) to fire, saw \(seenRules())")
        case .clean:
            return (window.rulesFired.isEmpty, window.rulesFired.isEmpty ? "no rule fired" : "expected no rule to fire, saw \(seenRules())")
        case let .epoch(expected):
            return (machine.epoch == expected, "epoch \(expected)" + (machine.epoch == expected ? "" : ", doctor is at \(machine.epoch)"))
        case let .epochsStarted(low, high):
            let started = UInt64(window.doctorEvents.filter { if case .epochStarted = $0 { true } else { false } }.count)
            let range = low == high ? "\(low)" : high == UInt64.max ? "at least \(low)" : "\(low)…\(high)"
            let passed = (low...high).contains(started)
            return (passed, "\(started) epoch(s) started" + (passed ? " (expected \(range))" : ", expected \(range)"))
        case let .members(names):
            let actual = machine.activePatients.map(\.value)
            let expected = names.sorted()
            guard actual != expected else { return (true, "members [\(Simulation.nameList(expected))]") }
            let actualSet = Set(actual)
            let expectedSet = Set(expected)
            let missing = expected.filter { !actualSet.contains($0) }
            let extra = actual.filter { !expectedSet.contains($0) }
            return (false, "members [\(Simulation.nameList(expected))], doctor has [\(Simulation.nameList(actual))]"
                    + (missing.isEmpty ? "" : "; missing [\(Simulation.nameList(missing))]")
                    + (extra.isEmpty ? "" : "; extra [\(Simulation.nameList(extra))]"))
        case let .active(names):
            let wrong = names.filter { !isActive($0) }
            return (wrong.isEmpty, wrong.isEmpty ? "active: \(Simulation.nameList(names))" : "not active: \(Simulation.nameList(wrong))")
        case let .inactive(names):
            let wrong = names.filter { isActive($0) }
            return (wrong.isEmpty, wrong.isEmpty ? "inactive: \(Simulation.nameList(names))" : "still active: \(Simulation.nameList(wrong))")
        case let .blocked(blocks):
            return checkBlocks(blocks)
        case let .notBlocked(targets):
            let wrong = targets.filter { blockRemaining($0) != nil }
            return (wrong.isEmpty, wrong.isEmpty ? "not blocked: \(targets.joined(separator: ", "))" : "blocked: \(wrong.joined(separator: ", "))")
        case let .readers(label, can, cannot):
            return checkReaders(label, can: can, cannot: cannot)
        case let .receipts(label, from):
            guard let key = broadcastLabels[label] else { return (false, "broadcast \(label) was never sent") }
            let seen = Set(window.doctorEvents.compactMap { event -> String? in
                // The window's doctor events come from the running doctor (a restart silences the old one first).
                guard case let .receipt(patient, epoch, seq, known) = event, known, key.run == doctorRun,
                      epoch == key.epoch, seq == key.seq else { return nil }
                return patient.value
            })
            let missing = from.filter { !seen.contains($0) }
            return (missing.isEmpty, missing.isEmpty ? "receipts for \(label) from \(Simulation.nameList(from))"
                    : "no receipt for \(label) from \(Simulation.nameList(missing))")
        case let .ended(pairs):
            var wrong: [String] = []
            for (patient, expected) in pairs {
                let actual = latestSession[patient].flatMap { sessions[$0]?.node.end?.scenarioName } ?? "active or never connected"
                if actual != expected { wrong.append("\(patient): \(actual)") }
            }
            let text = Simulation.nameList(pairs.map { "\($0.0) \($0.1)" })
            return (wrong.isEmpty, wrong.isEmpty ? "ended: \(text)" : "expected \(text); saw \(Simulation.nameList(wrong))")
        case let .sessionTokens(count):
            return (window.sessionTokens == count, "\(count) SESSION_TOKEN(s) sent" + (window.sessionTokens == count ? "" : ", saw \(window.sessionTokens)"))
        case let .alerts(names):
            let seen = Set(window.doctorEvents.compactMap { event -> String? in
                guard case let .alert(alert) = event else { return nil }
                return DoctorEventFields.alertName(alert)
            })
            let missing = names.filter { !seen.contains($0) }
            return (missing.isEmpty, missing.isEmpty ? "alerts \(names.joined(separator: ", "))" : "missing alerts \(missing.joined(separator: ", ")); saw \(seen.sorted())")
        case let .commandError(name):
            let actual = window.commandError ?? "none"
            return (actual == name, "command error \(name)" + (actual == name ? "" : ", saw \(actual)"))
        case let .oracle(victim, connection):
            return checkOracle(victim: victim, connection: connection)
        case let .keyTheft(patient, recovers, opensSession):
            return checkKeyTheft(patient: patient, recovers: recovers, opensSession: opensSession)
        case .noLeak:
            let leaks = scanForLeaks()
            if leaks.isEmpty { rulesExercised.insert(.noLeak) }
            return (leaks.isEmpty, leaks.isEmpty ? "no secret among \(secrets.count) in \(trace.lines.count) trace lines" : "leaked: \(leaks.joined(separator: "; "))")
        }
    }

    // MARK: - Helpers

    /// The most names a message lists before it shortens the list.
    static let namesShown = 12

    /// `a, b, c`, or for a long list (a patient group) its first names and the count:
    /// `p00001, p00002, …, p10000 (10000 in all)`.
    static func nameList(_ names: [String]) -> String {
        guard names.count > namesShown, let last = names.last else { return names.joined(separator: ", ") }
        return names.prefix(namesShown - 1).joined(separator: ", ") + ", …, \(last) (\(names.count) in all)"
    }

    func isActive(_ patient: String) -> Bool {
        latestSession[patient].flatMap { sessions[$0]?.node.machine.isActive } ?? false
    }

    private func list(_ rules: [RuleID]) -> String {
        rules.map(\.rawValue).joined(separator: ", ")
    }

    private func seenRules(rejectionsOnly: Bool = false) -> String {
        let rules = rejectionsOnly ? window.stepRejections.map(\.rule) : window.rulesFired
        guard !rules.isEmpty else { return "none" }
        var counts: [RuleID: Int] = [:]
        for rule in rules { counts[rule, default: 0] += 1 }
        return "[" + counts.sorted { $0.key.rawValue < $1.key.rawValue }
            .map { $0.value == 1 ? $0.key.rawValue : "\($0.key.rawValue) ×\($0.value)" }.joined(separator: ", ") + "]"
    }

    /// The remaining block time of a target on the doctor's clock (nil: not blocked).
    func blockRemaining(_ target: String) -> UInt64? {
        let machine = doctor.machine
        let wall = doctorClock.wall
        let until: UInt64?
        if let at = target.lastIndex(of: "@") {
            guard let id = try? PeerID(String(target[..<at])),
                  let source = SourceAddress(ipText: String(target[target.index(after: at)...])) else { return nil }
            until = machine.deviceBlock(DeviceKey(patient: id, source: source), at: wall)
        } else if let slash = target.firstIndex(of: "/") {
            guard let source = SourceAddress(ipText: String(target[..<slash])) else { return nil }
            until = machine.securityState.prefixBlocks[source.prefix].flatMap { $0 > wall ? $0 : nil }
        } else {
            guard let source = SourceAddress(ipText: target) else { return nil }
            until = machine.sourceBlock(source, at: wall)
        }
        return until.map { $0 - min($0, wall) }
    }

    private func checkBlocks(_ blocks: [BlockExpectation]) -> (Bool, String) {
        var problems: [String] = []
        var seen: [String] = []
        for block in blocks {
            guard let remaining = blockRemaining(block.target) else {
                problems.append("\(block.target) is not blocked")
                continue
            }
            seen.append("\(block.target) for \(DurationText.text(remaining))")
            if let minimum = block.minRemainingMillis, remaining < minimum {
                problems.append("\(block.target) has \(DurationText.text(remaining)) left, expected at least \(DurationText.text(minimum))")
            }
            if let maximum = block.maxRemainingMillis, remaining > maximum {
                problems.append("\(block.target) has \(DurationText.text(remaining)) left, expected at most \(DurationText.text(maximum))")
            }
        }
        return (problems.isEmpty, problems.isEmpty ? "blocked: \(seen.joined(separator: ", "))" : problems.joined(separator: "; "))
    }

    private func checkReaders(_ label: String, can: [String], cannot: [String]) -> (Bool, String) {
        guard let key = broadcastLabels[label], let sent = sentBroadcasts[key] else {
            return (false, "broadcast \(label) was never sent")
        }
        var problems: [String] = []
        let unread = can.filter { !(readBy[$0]?.contains(key) ?? false) }
        if !unread.isEmpty { problems.append("\(Simulation.nameList(unread)) did not read \(label)") }
        for patient in cannot {
            if readBy[patient]?.contains(key) ?? false { problems.append("\(patient) read \(label)") }
            for held in heldGroupKeys[patient] ?? [] where opens(sent.message, with: held.key) {
                problems.append("\(patient)'s GK of epoch \(held.epoch)" + (held.run == 1 ? "" : " of doctor run \(held.run)")
                    + " opens \(label)")
            }
        }
        if problems.isEmpty, !cannot.isEmpty { rulesExercised.insert(.epoch) }
        let keysTried = cannot.reduce(0) { $0 + (heldGroupKeys[$1]?.count ?? 0) }
        return (problems.isEmpty, problems.isEmpty
                ? "\(label) read by [\(Simulation.nameList(can))]; not by [\(Simulation.nameList(cannot))] (\(keysTried) group keys they ever held tried)"
                : problems.joined(separator: "; "))
    }

    /// R-ORACLE: the doctor's answer on the attacker's connection carries a fresh K_GWN of its
    /// own, not the victim's K it decrypted, and not the transplanted ciphertext.
    private func checkOracle(victim: String, connection: String) -> (Bool, String) {
        guard let client = attackerLabels[connection], let flow = flowsByClient[client] else {
            return (false, "no attacker connection \(connection)")
        }
        // Either version's answer: (id_i, c1, c2, dh_gwn for v2).
        var answer: (idI: PeerID, c1: ElementBytes, c2: ElementBytes, share: [UInt8]?)?
        for frame in wiretap.frames where frame.flow === flow && !frame.towardsDoctor {
            switch try? codec.decode(frame.body) {
            case let .sessionToken(token)?: answer = (token.idI, token.c1, token.c2, nil)
            case let .sessionTokenV2(token)?: answer = (token.idI, token.c1, token.c2, token.dhGWN.bytes)
            default: continue
            }
            break
        }
        guard let answer, let attackerKey = keys.patientKeys[answer.idI.value],
              let ciphertext = try? ElGamalCiphertext(group: keys.group, c1Bytes: answer.c1.bytes, c2Bytes: answer.c2.bytes),
              let answered = try? attackerKey.decrypt(ciphertext) else {
            return (false, "the doctor sent no SESSION_TOKEN(_V2) the attacker can open on \(connection)")
        }
        var victimElements: [[UInt8]] = []
        var transplanted: [[UInt8]] = []
        var victimShares: [[UInt8]] = []
        for frame in wiretap.frames where frame.flow.patientID == victim {
            let pair: (ElementBytes, ElementBytes)
            switch try? codec.decode(frame.body) {
            case let .keyVerification(request)? where frame.towardsDoctor: pair = (request.c1, request.c2)
            case let .keyVerificationV2(request)? where frame.towardsDoctor:
                pair = (request.c1, request.c2)
                victimShares.append(request.dhI.bytes)
            case let .sessionTokenV2(token)? where !frame.towardsDoctor:
                victimShares.append(token.dhGWN.bytes)
                continue
            default: continue
            }
            guard let ct = try? ElGamalCiphertext(group: keys.group, c1Bytes: pair.0.bytes, c2Bytes: pair.1.bytes),
                  let element = try? keys.doctorKey.decrypt(ct) else { continue }
            victimElements.append(keys.group.encodeElement(element))
            transplanted += [pair.0.bytes, pair.1.bytes]
        }
        guard !victimElements.isEmpty else { return (false, "no request of \(victim) was captured") }
        let answeredBytes = keys.group.encodeElement(answered)
        let echoesElement = victimElements.contains(answeredBytes)
        let echoesCiphertext = transplanted.contains(answer.c1.bytes) || transplanted.contains(answer.c2.bytes)
        // Version 2: the answer's B is the doctor's fresh one, none of the victim's shares.
        let echoesShare = answer.share.map { victimShares.contains($0) } ?? false
        let passed = !echoesElement && !echoesCiphertext && !echoesShare
        if passed { rulesExercised.insert(.oracle) }
        let fresh = answer.share == nil ? "a fresh K_GWN" : "a fresh K_GWN and a fresh B"
        return (passed, passed ? "the answer to \(connection) carries \(fresh): it is neither \(victim)'s K"
                + (answer.share == nil ? " nor its ciphertext" : ", its ciphertext nor a share of its handshakes")
                : "the answer on \(connection) reveals \(victim)'s "
                + (echoesElement ? "K" : echoesCiphertext ? "ciphertext" : "share"))
    }
}

// MARK: - DurationText

/// Human durations for messages and the summary (`1 h 0 min`, `2.350 s`).
enum DurationText {
    /// `24 h`, `24 h 59 min 59.612 s`, `2 min 15.357 s`, `0.250 s`.
    static func text(_ millis: UInt64) -> String {
        let hours = millis / 3_600_000
        let minutes = (millis / 60_000) % 60
        let seconds = (millis / 1_000) % 60
        let ms = millis % 1_000
        var parts: [String] = []
        if hours > 0 { parts.append("\(hours) h") }
        if minutes > 0 { parts.append("\(minutes) min") }
        if seconds > 0 || ms > 0 || parts.isEmpty {
            let fraction = ms == 0 ? "" : "." + String(repeating: "0", count: 3 - String(ms).count) + String(ms)
            parts.append("\(seconds)\(fraction) s")
        }
        return parts.joined(separator: " ")
    }
}
