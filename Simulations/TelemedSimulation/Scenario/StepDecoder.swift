import TelemedProtocol

// MARK: - StepDecoder

/// Reads one step of `$.steps`.
enum StepDecoder {
    static func decode(_ value: JSONValue, at path: String) throws(ScenarioError) -> Step {
        var reader = try ObjectReader(value, at: path)
        let verb = try reader.requireString("do")
        let action = try decodeAction(verb, &reader)
        var intercepts: [Intercept] = []
        for (index, item) in (try reader.array("intercept") ?? []).enumerated() {
            intercepts.append(try PayloadDecoder.intercept(item, at: "\(reader.child("intercept"))[\(index)]"))
        }
        let expectations = try ExpectationDecoder.decode(reader.value("expect"), at: reader.child("expect"))
        let wait = try reader.bool("wait") ?? true
        let note = try reader.string("note")
        try reader.finish()
        return Step(path: path, action: action, intercepts: intercepts, expectations: expectations, wait: wait, note: note)
    }

    static func decodeAction(_ verb: String, _ reader: inout ObjectReader) throws(ScenarioError) -> StepAction {
        switch verb {
        case "connect" where reader.has("patients"):
            let names = try reader.strings("patients") ?? []
            let path = reader.child("patients")
            guard !names.isEmpty else { throw ScenarioError(path: path, message: "name at least one patient or group:NAME") }
            for key in ["patient", "from", "signer"] where reader.has(key) {
                throw ScenarioError(path: reader.child(key), message: "\(key) goes with a single patient, not with patients")
            }
            return .connectMany(label: names.joined(separator: ", "), patients: names)
        case "connect":
            return .connect(patient: try reader.requireString("patient"), from: try host(&reader, "from"),
                            signer: try reader.string("signer"))
        case "leave": return .leave(patient: try reader.requireString("patient"))
        case "kick": return .kick(patient: try reader.requireString("patient"))
        case "broadcast":
            let label = try reader.requireString("label")
            let text = try reader.requireString("text")
            guard (1...16_384).contains(text.utf8.count) else {
                throw ScenarioError(path: reader.child("text"), message: "a broadcast is 1 to 16384 bytes of UTF-8")
            }
            return .broadcast(label: label, text: text)
        case "rekey": return .rekey
        case "unblock": return .unblock(target: try reader.requireString("target"))
        case "enroll":
            let patient = try reader.requireString("patient")
            let key = try reader.string("key")
            if let key, key.isEmpty || key.utf8.count > 64 {
                throw ScenarioError(path: reader.child("key"), message: "a key name is 1 to 64 characters")
            }
            return .enroll(patient: patient, key: key, replace: try reader.bool("replace") ?? false)
        case "revoke": return .revoke(patient: try reader.requireString("patient"))
        case "restart": return .restartDoctor
        case "advance":
            guard let millis = try duration(&reader), millis >= 0 else {
                throw ScenarioError(path: reader.path, message: "advance needs a positive millis, seconds, minutes or hours")
            }
            return .advance(millis: UInt64(millis))
        case "skew":
            let actor = try reader.requireString("actor")
            guard let millis = try duration(&reader) else {
                throw ScenarioError(path: reader.path, message: "skew needs millis, seconds, minutes or hours")
            }
            return .skew(actor: actor, millis: millis, relative: try reader.bool("relative") ?? false)
        case "send": return .send(try PayloadDecoder.send(&reader))
        case "inject": return .inject(try PayloadDecoder.inject(&reader))
        case "flood": return .flood(try PayloadDecoder.flood(&reader))
        case "close":
            return .close(attacker: try reader.requireString("attacker"), connection: try reader.requireString("connection"))
        case "check": return .check
        default:
            throw ScenarioError(path: reader.child("do"), message: "unknown step \"\(verb)\" (connect, leave, kick, "
                + "broadcast, rekey, unblock, enroll, revoke, restart, advance, skew, send, inject, flood, close, check)")
        }
    }

    /// An optional address field, normalised (see ``HostText``).
    static func host(_ reader: inout ObjectReader, _ key: String) throws(ScenarioError) -> String? {
        guard let text = try reader.string(key) else { return nil }
        return try HostText.normalized(text, at: reader.child(key))
    }

    /// Exactly one of millis, seconds, minutes, hours (signed).
    static func duration(_ reader: inout ObjectReader) throws(ScenarioError) -> Int64? {
        let units: [(String, Int64)] = [("millis", 1), ("seconds", 1_000), ("minutes", 60_000), ("hours", 3_600_000)]
        var total: Int64?
        for (key, factor) in units {
            guard let value = try reader.int(key) else { continue }
            guard total == nil else { throw ScenarioError(path: reader.child(key), message: "give one duration unit only") }
            let (product, overflow) = value.multipliedReportingOverflow(by: factor)
            guard !overflow, abs(product) <= 3_650 * 86_400_000 else {
                throw ScenarioError(path: reader.child(key), message: "duration out of range (at most 10 years)")
            }
            total = product
        }
        return total
    }
}
