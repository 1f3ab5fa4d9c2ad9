import TelemedProtocol
import TelemedTransport

// MARK: - ScenarioDecoder

/// Turns a scenario file into a ``Scenario``, refusing anything it does not understand with
/// the JSON path of the problem. It checks names across the file too: every patient,
/// attacker and broadcast label a step mentions must exist.
public enum ScenarioDecoder {
    /// The deepest nesting a scenario file may use (the top value is 1). Files are local and
    /// trusted, but the bound keeps the parser's recursion small; frames use the protocol's 16.
    static let maxNesting = 64

    /// Decodes `text` (the file's contents); `name` is the file name without `.json`.
    public static func decode(_ bytes: [UInt8], name: String) throws(ScenarioError) -> Scenario {
        let document: JSONValue
        do {
            document = try StrictJSONParser.parseDocument(bytes, maxDepth: maxNesting)
        } catch {
            let (line, column) = error.position(in: bytes)
            throw ScenarioError(path: "$", message: "not valid JSON (line \(line), column \(column): \(error.reasonText))")
        }
        var root = try ObjectReader(document, at: "$")
        _ = root.value("$schema")
        let title = try root.string("title") ?? name
        let seed = try root.uint("seed") ?? 1
        let anySeed = try root.bool("anySeed") ?? true
        let sweep = try root.bool("sweep") ?? true
        let doctor = try decodeDoctor(root.value("doctor"), at: root.child("doctor"))
        var patients = try decodeList(root.array("patients"), at: root.child("patients"), decodePatient)
        let groups = try decodeList(root.array("patientGroups"), at: root.child("patientGroups"), decodeGroup)
        for group in groups { patients += group.members }
        let attackers = try decodeList(root.array("attackers"), at: root.child("attackers"), decodeAttacker)
        let doctorConfiguration = try ConfigurationDecoder.doctor(root.value("config"), at: root.child("config"))
        let patientConfiguration = try ConfigurationDecoder.patient(root.value("patientConfig"), at: root.child("patientConfig"))
        let network = try ConfigurationDecoder.network(root.value("network"), at: root.child("network"))
        let startWall = try root.uint("startWall") ?? 1_764_000_000_000
        let stepList = try root.array("steps")
        let stepValues = stepList ?? []
        try root.finish()
        let resolver = try GroupResolver(groups.map(\.spec), at: root.child("patientGroups"))
        var steps: [Step] = []
        for (index, value) in stepValues.enumerated() {
            steps.append(try resolver.resolve(try StepDecoder.decode(value, at: "$.steps[\(index)]")))
        }
        let scenario = Scenario(
            name: name, title: title, seed: seed, anySeed: anySeed, sweep: sweep, doctor: doctor, patients: patients,
            patientGroups: groups.map(\.spec), attackers: attackers, doctorConfiguration: doctorConfiguration,
            patientConfiguration: patientConfiguration, network: network, startWall: startWall, steps: steps)
        try NameChecker(scenario: scenario).check()
        // Last, so that a cast-only file still reports its first real mistake by path.
        guard !steps.isEmpty else {
            throw ScenarioError(path: stepList == nil ? "$" : "$.steps",
                                message: stepList == nil ? "no \"steps\": a scenario needs at least one step"
                                                         : "empty: a scenario needs at least one step")
        }
        return scenario
    }

    // MARK: - Cast

    static func decodeDoctor(_ value: JSONValue?, at path: String) throws(ScenarioError) -> DoctorSpec {
        guard let value else { return DoctorSpec(id: "doctor", host: "10.0.0.1", port: 7000) }
        var reader = try ObjectReader(value, at: path)
        let id = try reader.string("id") ?? "doctor"
        let host = try HostText.normalized(try reader.string("host") ?? "10.0.0.1", at: "\(path).host")
        let port = try reader.uint("port", max: 65_535) ?? 7000
        var spec = DoctorSpec(id: id, host: host, port: Int(port))
        if let range = try reader.array("jobLatencyMillis") {
            let rangePath = reader.child("jobLatencyMillis")
            guard range.count == 2, let low = range[0].uintValue, let high = range[1].uintValue, low <= high,
                  high <= 60_000 else {
                throw ScenarioError(path: rangePath, message: "expected [min, max] with 0 ≤ min ≤ max ≤ 60000")
            }
            spec.jobLatencyMin = low
            spec.jobLatencyMax = high
        }
        try reader.finish()
        try checkID(id, at: "\(path).id")
        return spec
    }

    static func decodePatient(_ value: JSONValue, at path: String) throws(ScenarioError) -> PatientSpec {
        var reader = try ObjectReader(value, at: path)
        let id = try reader.requireString("id")
        let host = try HostText.normalized(try reader.requireString("host"), at: "\(path).host")
        let enrolled = try reader.bool("enrolled") ?? true
        let offset = try reader.int("clockOffsetMillis") ?? 0
        var version: ProtocolVersion?
        if let number = try reader.uint("version") {
            guard let value = ProtocolVersion(rawValue: Int(clamping: number)) else {
                throw ScenarioError(path: reader.child("version"), message: "expected 1 or 2")
            }
            version = value
        }
        try reader.finish()
        try checkID(id, at: "\(path).id")
        return PatientSpec(id: id, host: host, enrolled: enrolled, clockOffsetMillis: offset, version: version)
    }

    /// The most patients one `patientGroups` entry may declare.
    static let maxGroupCount = 100_000

    /// One `patientGroups` entry and the patients it declares.
    static func decodeGroup(_ value: JSONValue, at path: String) throws(ScenarioError)
        -> (spec: PatientGroupSpec, members: [PatientSpec]) {
        var reader = try ObjectReader(value, at: path)
        let name = try reader.requireString("name")
        guard let count = try reader.uint("count", max: UInt64(maxGroupCount)), count >= 1 else {
            throw ScenarioError(path: reader.child("count"), message: "a group needs a count of 1 to \(maxGroupCount)")
        }
        let hostText = try reader.requireString("host")
        let hostPath = reader.child("host")
        guard let first = IPAddress(hostText) else {
            throw ScenarioError(path: hostPath, message: "\"\(hostText)\" is not an IPv4 or IPv6 address")
        }
        let step = try reader.uint("hostStep", max: 1 << 32) ?? 1
        guard step >= 1 else { throw ScenarioError(path: reader.child("hostStep"), message: "hostStep is at least 1") }
        let enrolled = try reader.bool("enrolled") ?? true
        let offset = try reader.int("clockOffsetMillis") ?? 0
        try reader.finish()
        try checkID(name, at: "\(path).name")
        let width = String(count).count
        var members: [PatientSpec] = []
        var ids: [String] = []
        members.reserveCapacity(Int(count))
        ids.reserveCapacity(Int(count))
        for number in 1...Int(count) {
            let digits = String(number)
            let id = name + String(repeating: "0", count: width - digits.count) + digits
            try checkID(id, at: "\(path).name")
            guard let host = HostText.address(first, plus: UInt64(number - 1) * step) else {
                throw ScenarioError(path: hostPath, message: "\(count) addresses \(step) apart from \(first) run past the end of the address space")
            }
            members.append(PatientSpec(id: id, host: host.description, enrolled: enrolled, clockOffsetMillis: offset, group: name))
            ids.append(id)
        }
        let spec = PatientGroupSpec(name: name, count: Int(count), host: first.description, hostStep: step,
                                    enrolled: enrolled, clockOffsetMillis: offset, ids: ids)
        return (spec, members)
    }

    static func decodeAttacker(_ value: JSONValue, at path: String) throws(ScenarioError) -> AttackerSpec {
        var reader = try ObjectReader(value, at: path)
        let name = try reader.requireString("name")
        let host = try HostText.normalized(try reader.requireString("host"), at: "\(path).host")
        try reader.finish()
        return AttackerSpec(name: name, host: host)
    }

    static func decodeList<T>(_ values: [JSONValue]?, at path: String,
                              _ decode: (JSONValue, String) throws(ScenarioError) -> T) throws(ScenarioError) -> [T] {
        var out: [T] = []
        for (index, value) in (values ?? []).enumerated() {
            out.append(try decode(value, "\(path)[\(index)]"))
        }
        return out
    }

    // MARK: - Checks

    static func checkID(_ id: String, at path: String) throws(ScenarioError) {
        do {
            _ = try PeerID(id)
        } catch {
            throw ScenarioError(path: path, message: "\"\(id)\" is not a valid id (1–64 of A-Z a-z 0-9 . _ -)")
        }
    }

    /// A rule id such as `R-REPLAY`.
    static func rule(_ text: String, at path: String) throws(ScenarioError) -> RuleID {
        guard let rule = RuleID(rawValue: text) else {
            throw ScenarioError(path: path, message: "unknown rule id \"\(text)\"")
        }
        return rule
    }

    /// An opcode by name (`KEY_VERIFICATION`) or number.
    static func opcode(_ value: JSONValue, at path: String) throws(ScenarioError) -> Opcode {
        if let number = value.uintValue, number <= 255, let opcode = Opcode(rawValue: UInt8(number)) { return opcode }
        if let name = value.stringValue, let opcode = opcodeNames[name] { return opcode }
        throw ScenarioError(path: path, message: "unknown opcode \(ObjectReader.show(value)) (use \(opcodeNames.keys.sorted().joined(separator: ", ")))")
    }

    /// The §4 and §8.2 names of the opcodes.
    public static let opcodeNames: [String: Opcode] = [
        "KEY_VERIFICATION": .keyVerification, "KEY_CONFIRMATION": .keyConfirmation,
        "SESSION_TOKEN": .sessionToken, "GROUP_KEY": .groupKey, "ENC_MSG": .encMsg,
        "DEC_MSG": .decMsg, "DISCONNECT": .disconnect, "REJECTED": .rejected,
        "KEY_VERIFICATION_V2": .keyVerificationV2, "SESSION_TOKEN_V2": .sessionTokenV2,
    ]

    /// The name of an opcode.
    public static func name(of opcode: Opcode) -> String {
        opcodeNames.first { $0.value == opcode }?.key ?? "opcode \(opcode.rawValue)"
    }
}
