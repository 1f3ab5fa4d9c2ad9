// MARK: - NameChecker

/// Checks every name a scenario's steps use against its cast, in script order, so that a typo
/// is reported with its path before anything runs.
struct NameChecker {
    let scenario: Scenario

    func check() throws(ScenarioError) {
        var ids: Set<String> = []
        for (index, patient) in scenario.patients.enumerated() {
            guard ids.insert(patient.id).inserted, patient.id != scenario.doctor.id else {
                throw ScenarioError(path: "$.patients[\(index)].id", message: "\"\(patient.id)\" is used twice")
            }
        }
        var attackers: Set<String> = []
        for (index, attacker) in scenario.attackers.enumerated() {
            guard attackers.insert(attacker.name).inserted, !ids.contains(attacker.name), attacker.name != scenario.doctor.id else {
                throw ScenarioError(path: "$.attackers[\(index)].name", message: "\"\(attacker.name)\" is used twice")
            }
        }
        var labels: Set<String> = []
        var owners: [String: String] = [:]   // connection label → the attacker that opened it
        var keyNames: Set<String> = []        // keys named by earlier `enroll` steps
        for step in scenario.steps {
            try checkAction(step, ids: ids, attackers: attackers, owners: &owners, labels: &labels, keyNames: &keyNames)
            let connections = Set(owners.keys)
            let senders = ids.union(connections).union([scenario.doctor.id, "doctor"])
            for (index, intercept) in step.intercepts.enumerated() where !senders.contains(intercept.sender) {
                throw ScenarioError(path: "\(step.path).intercept[\(index)].sender", message: "unknown sender \"\(intercept.sender)\"")
            }
            for expectation in step.expectations {
                try checkExpectation(expectation, ids: ids, labels: labels, connections: connections)
            }
        }
    }

    private func checkAction(_ step: Step, ids: Set<String>, attackers: Set<String>,
                             owners: inout [String: String], labels: inout Set<String>,
                             keyNames: inout Set<String>) throws(ScenarioError) {
        func patient(_ id: String, _ key: String = "patient") throws(ScenarioError) {
            guard ids.contains(id) else { throw ScenarioError(path: "\(step.path).\(key)", message: "unknown patient \"\(id)\"") }
        }
        func attacker(_ name: String) throws(ScenarioError) {
            guard attackers.contains(name) else {
                throw ScenarioError(path: "\(step.path).attacker", message: "unknown attacker \"\(name)\"")
            }
        }
        switch step.action {
        case let .connect(id, _, signer):
            try patient(id)
            if let signer, !keyNames.contains(signer) { try patient(signer, "signer") }
        case let .connectMany(_, list):
            for id in list where !ids.contains(id) {
                throw ScenarioError(path: "\(step.path).patients", message: "unknown patient \"\(id)\"")
            }
        case let .leave(id), let .kick(id), let .revoke(id):
            try patient(id)
        case let .enroll(id, key, _):
            try patient(id)
            if let key, !ids.contains(key) {
                guard !attackers.contains(key), key != "doctor", key != scenario.doctor.id else {
                    throw ScenarioError(path: "\(step.path).key", message: "\"\(key)\" names an attacker or the doctor, not a patient key")
                }
                keyNames.insert(key)
            }
        case let .broadcast(label, _):
            guard labels.insert(label).inserted else {
                throw ScenarioError(path: "\(step.path).label", message: "broadcast label \"\(label)\" is used twice")
            }
        case let .skew(actor, _, _):
            guard ids.contains(actor) || actor == "doctor" || actor == scenario.doctor.id || attackers.contains(actor) else {
                throw ScenarioError(path: "\(step.path).actor", message: "unknown actor \"\(actor)\"")
            }
        case let .send(spec):
            try attacker(spec.attacker)
            if let label = spec.connection {
                if let owner = owners[label], owner != spec.attacker {
                    throw ScenarioError(path: "\(step.path).connection", message: "connection \"\(label)\" belongs to \(owner)")
                }
                owners[label] = spec.attacker
            }
        case let .flood(spec):
            try attacker(spec.attacker)
        case let .close(name, label):
            try attacker(name)
            guard let owner = owners[label] else {
                throw ScenarioError(path: "\(step.path).connection", message: "unknown connection \"\(label)\"")
            }
            guard owner == name else {
                throw ScenarioError(path: "\(step.path).connection", message: "connection \"\(label)\" belongs to \(owner)")
            }
        case let .inject(spec):
            switch spec.target {
            case let .patient(id), let .patientSession(id, _):
                guard ids.contains(id) else { throw ScenarioError(path: "\(step.path).into.patient", message: "unknown patient \"\(id)\"") }
            case let .attacker(label):
                guard owners[label] != nil else {
                    throw ScenarioError(path: "\(step.path).into.connection", message: "unknown connection \"\(label)\"")
                }
            }
        case .rekey, .unblock, .restartDoctor, .advance, .check:
            break
        }
    }

    private func checkExpectation(_ expectation: Expectation, ids: Set<String>, labels: Set<String>,
                                  connections: Set<String>) throws(ScenarioError) {
        func known(_ names: [String]) throws(ScenarioError) {
            for name in names where !ids.contains(name) {
                throw ScenarioError(path: expectation.path, message: "unknown patient \"\(name)\"")
            }
        }
        func label(_ name: String) throws(ScenarioError) {
            guard labels.contains(name) else {
                throw ScenarioError(path: expectation.path, message: "no earlier broadcast is labelled \"\(name)\"")
            }
        }
        switch expectation.kind {
        case let .members(names), let .active(names), let .inactive(names): try known(names)
        case let .readers(name, can, cannot): try label(name); try known(can + cannot)
        case let .receipts(name, from): try label(name); try known(from)
        case let .ended(pairs): try known(pairs.map(\.0))
        case let .keyTheft(patient, _, _): try known([patient])
        case let .oracle(victim, connection):
            try known([victim])
            guard connections.contains(connection) else {
                throw ScenarioError(path: expectation.path, message: "unknown connection \"\(connection)\"")
            }
        default: break
        }
    }
}
