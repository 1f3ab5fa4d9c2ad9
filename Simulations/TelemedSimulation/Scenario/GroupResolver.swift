import TelemedProtocol

// MARK: - GroupResolver

/// Replaces `group:NAME` in a step's patient lists by the ids of that `patientGroups` entry, in
/// number order, so that the runtime and the name checks only ever see patient ids. A patient
/// id cannot contain `:`, so the reference never shadows an id.
struct GroupResolver {
    static let prefix = "group:"

    private let members: [String: [String]]

    init(_ groups: [PatientGroupSpec], at path: String) throws(ScenarioError) {
        var members: [String: [String]] = [:]
        for (index, group) in groups.enumerated() {
            guard members[group.name] == nil else {
                throw ScenarioError(path: "\(path)[\(index)].name", message: "group \"\(group.name)\" is declared twice")
            }
            members[group.name] = group.ids
        }
        self.members = members
    }

    /// `names` with every `group:NAME` replaced by the group's ids.
    func expand(_ names: [String], at path: String) throws(ScenarioError) -> [String] {
        guard names.contains(where: { $0.hasPrefix(Self.prefix) }) else { return names }
        var out: [String] = []
        for name in names {
            guard name.hasPrefix(Self.prefix) else {
                out.append(name)
                continue
            }
            let group = String(name.dropFirst(Self.prefix.count))
            guard let ids = members[group] else {
                throw ScenarioError(path: path, message: "no patient group is called \"\(group)\" (patientGroups)")
            }
            out += ids
        }
        return out
    }

    func resolve(_ step: Step) throws(ScenarioError) -> Step {
        var step = step
        if case let .connectMany(label, names) = step.action {
            step.action = .connectMany(label: label, patients: try expand(names, at: "\(step.path).patients"))
        }
        step.expectations = try step.expectations.map { (expectation) throws(ScenarioError) -> Expectation in
            var expectation = expectation
            expectation.kind = try resolve(expectation.kind, at: expectation.path)
            return expectation
        }
        return step
    }

    private func resolve(_ kind: Expectation.Kind, at path: String) throws(ScenarioError) -> Expectation.Kind {
        switch kind {
        case let .members(names): return .members(try expand(names, at: path))
        case let .active(names): return .active(try expand(names, at: path))
        case let .inactive(names): return .inactive(try expand(names, at: path))
        case let .readers(label, can, cannot):
            return .readers(label: label, can: try expand(can, at: path), cannot: try expand(cannot, at: path))
        case let .receipts(label, from): return .receipts(label: label, from: try expand(from, at: path))
        case let .ended(pairs):
            var out: [(String, String)] = []
            for (name, end) in pairs {
                for id in try expand([name], at: path) { out.append((id, end)) }
            }
            return .ended(out)
        default:
            return kind
        }
    }
}
