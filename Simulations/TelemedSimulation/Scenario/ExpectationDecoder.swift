import TelemedProtocol

// MARK: - ExpectationDecoder

/// Reads a step's `expect` object; each key is one expectation.
enum ExpectationDecoder {
    static func decode(_ value: JSONValue?, at path: String) throws(ScenarioError) -> [Expectation] {
        guard let value else { return [] }
        var reader = try ObjectReader(value, at: path)
        var out: [Expectation] = []
        for key in reader.keys {
            let keyPath = reader.child(key)
            guard let item = reader.value(key) else { continue }
            out.append(Expectation(path: keyPath, kind: try kind(key, item, at: keyPath)))
        }
        try reader.finish()
        return out
    }

    static func kind(_ key: String, _ value: JSONValue, at path: String) throws(ScenarioError) -> Expectation.Kind {
        switch key {
        case "accepted": return .accepted(try bool(value, at: path))
        case "rejected": return .rejected(try rules(value, at: path))
        case "dropped": return .dropped(try rules(value, at: path))
        case "rules": return .rules(try rules(value, at: path))
        case "rejectedCount":
            var reader = try ObjectReader(value, at: path)
            guard reader.keys.count == 1, let ruleText = reader.keys.first,
                  let count = try reader.uint(ruleText, max: 1_000_000) else {
                throw ScenarioError(path: path, message: "expected {\"R-…\": count}")
            }
            return .rejectedCount(try ScenarioDecoder.rule(ruleText, at: "\(path).\(ruleText)"), Int(count))
        case "clean":
            guard try bool(value, at: path) else { throw ScenarioError(path: path, message: "only clean: true is meaningful") }
            return .clean
        case "epoch":
            guard let epoch = value.uintValue else { throw ScenarioError(path: path, message: "expected a whole number") }
            return .epoch(epoch)
        case "epochsStarted":
            if let exact = value.uintValue { return .epochsStarted(atLeast: exact, atMost: exact) }
            var reader = try ObjectReader(value, at: path)
            let low = try reader.uint("atLeast") ?? 0
            let high = try reader.uint("atMost") ?? UInt64.max
            try reader.finish()
            guard reader.has("atLeast") || reader.has("atMost"), low <= high else {
                throw ScenarioError(path: path, message: "expected a count or {\"atLeast\": n, \"atMost\": m} with n ≤ m")
            }
            return .epochsStarted(atLeast: low, atMost: high)
        case "members": return .members(try strings(value, at: path))
        case "active": return .active(try strings(value, at: path))
        case "inactive": return .inactive(try strings(value, at: path))
        case "blocked": return .blocked(try blocks(value, at: path))
        case "notBlocked":
            var targets: [String] = []
            for (index, text) in try strings(value, at: path).enumerated() {
                targets.append(try HostText.blockTarget(text, at: value.stringValue == nil ? "\(path)[\(index)]" : path))
            }
            return .notBlocked(targets)
        case "readers":
            var reader = try ObjectReader(value, at: path)
            let label = try reader.requireString("broadcast")
            let can = try reader.strings("can") ?? []
            let cannot = try reader.strings("cannot") ?? []
            try reader.finish()
            return .readers(label: label, can: can, cannot: cannot)
        case "receipts":
            var reader = try ObjectReader(value, at: path)
            let label = try reader.requireString("broadcast")
            let from = try reader.strings("from") ?? []
            try reader.finish()
            return .receipts(label: label, from: from)
        case "ended":
            var reader = try ObjectReader(value, at: path)
            var pairs: [(String, String)] = []
            for patient in reader.keys { pairs.append((patient, try reader.requireString(patient))) }
            try reader.finish()
            return .ended(pairs)
        case "sessionTokens":
            guard let count = value.uintValue, count <= 1_000_000 else {
                throw ScenarioError(path: path, message: "expected a whole number")
            }
            return .sessionTokens(Int(count))
        case "alerts": return .alerts(try strings(value, at: path))
        case "commandError": return .commandError(try strings(value, at: path).joined())
        case "oracle":
            var reader = try ObjectReader(value, at: path)
            let victim = try reader.requireString("victim")
            let connection = try reader.requireString("connection")
            try reader.finish()
            return .oracle(victim: victim, connection: connection)
        case "noLeak":
            guard try bool(value, at: path) else { throw ScenarioError(path: path, message: "only noLeak: true is meaningful") }
            return .noLeak
        case "keyTheft":
            var reader = try ObjectReader(value, at: path)
            let patient = try reader.requireString("patient")
            let recoversPath = reader.child("recovers")
            guard let recoversValue = reader.value("recovers") else {
                throw ScenarioError(path: recoversPath, message: "missing; expected the values the thief recovers, of K, K_GWN and SK")
            }
            let recovers = try strings(recoversValue, at: recoversPath)
            for (index, name) in recovers.enumerated() where !Simulation.theftValues.contains(name) {
                throw ScenarioError(path: recoversValue.stringValue == nil ? "\(recoversPath)[\(index)]" : recoversPath,
                                    message: "\"\(name)\" is none of K, K_GWN, SK")
            }
            guard Set(recovers).count == recovers.count else {
                throw ScenarioError(path: recoversPath, message: "names a value twice")
            }
            let opensPath = reader.child("opensSession")
            guard let opensValue = reader.value("opensSession") else {
                throw ScenarioError(path: opensPath, message: "missing; expected true or false")
            }
            let opens = try bool(opensValue, at: opensPath)
            try reader.finish()
            return .keyTheft(patient: patient, recovers: recovers, opensSession: opens)
        default:
            throw ScenarioError(path: path, message: "unknown expectation (accepted, rejected, rejectedCount, dropped, "
                + "rules, clean, epoch, epochsStarted, members, active, inactive, blocked, notBlocked, readers, receipts, ended, "
                + "sessionTokens, alerts, commandError, oracle, noLeak, keyTheft)")
        }
    }

    static func bool(_ value: JSONValue, at path: String) throws(ScenarioError) -> Bool {
        guard case let .bool(flag) = value else { throw ScenarioError(path: path, message: "expected true or false") }
        return flag
    }

    static func strings(_ value: JSONValue, at path: String) throws(ScenarioError) -> [String] {
        if let text = value.stringValue { return [text] }
        guard case let .array(items) = value else {
            throw ScenarioError(path: path, message: "expected a string or an array of strings, found \(value.kindName)")
        }
        var out: [String] = []
        for (index, item) in items.enumerated() {
            guard let text = item.stringValue else {
                throw ScenarioError(path: "\(path)[\(index)]", message: "expected a string, found \(item.kindName)")
            }
            out.append(text)
        }
        return out
    }

    static func rules(_ value: JSONValue, at path: String) throws(ScenarioError) -> [RuleID] {
        let texts = try strings(value, at: path)
        var out: [RuleID] = []
        for (index, text) in texts.enumerated() {
            let itemPath = value.stringValue == nil ? "\(path)[\(index)]" : path
            out.append(try ScenarioDecoder.rule(text, at: itemPath))
        }
        return out
    }

    static func blocks(_ value: JSONValue, at path: String) throws(ScenarioError) -> [BlockExpectation] {
        let items: [JSONValue]
        if case let .array(list) = value { items = list } else { items = [value] }
        var out: [BlockExpectation] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            if let text = item.stringValue {
                out.append(BlockExpectation(target: try HostText.blockTarget(text, at: itemPath)))
                continue
            }
            var reader = try ObjectReader(item, at: itemPath)
            var block = BlockExpectation(target: try HostText.blockTarget(try reader.requireString("target"),
                                                                          at: reader.child("target")))
            block.minRemainingMillis = try reader.uint("minRemainingMillis")
            block.maxRemainingMillis = try reader.uint("maxRemainingMillis")
            try reader.finish()
            out.append(block)
        }
        return out
    }
}

extension BlockExpectation {
    init(target: String) {
        self.init(target: target, minRemainingMillis: nil, maxRemainingMillis: nil)
    }
}
