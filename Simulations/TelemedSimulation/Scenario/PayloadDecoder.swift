import TelemedProtocol

// MARK: - PayloadDecoder

/// Reads attacker steps: sends, injections, floods, crafted messages, mutations, intercepts.
enum PayloadDecoder {
    static func send(_ reader: inout ObjectReader) throws(ScenarioError) -> SendSpec {
        let attacker = try reader.requireString("attacker")
        let connection = try reader.string("connection")
        let from = try StepDecoder.host(&reader, "from")
        let payload = try self.payload(&reader)
        let copies = try reader.uint("copies", max: 64) ?? 1
        guard copies >= 1 else { throw ScenarioError(path: reader.child("copies"), message: "at least 1") }
        if copies > 1, connection != nil {
            throw ScenarioError(path: reader.child("copies"), message: "copies open fresh connections; drop \"connection\"")
        }
        let closeAfter = try reader.bool("close") ?? false
        return SendSpec(attacker: attacker, connection: connection, from: from, payload: payload,
                        copies: Int(copies), closeAfter: closeAfter)
    }

    static func inject(_ reader: inout ObjectReader) throws(ScenarioError) -> InjectSpec {
        let intoPath = reader.child("into")
        var into = try ObjectReader(try reader.require("into"), at: intoPath)
        let target: ConnectionTarget
        if let patient = try into.string("patient") {
            if let session = try into.int("session") {
                target = .patientSession(patient, Int(clamping: session))
            } else {
                target = .patient(patient)
            }
        } else if let label = try into.string("connection") {
            target = .attacker(label)
        } else {
            throw ScenarioError(path: intoPath, message: "name a \"patient\" or an attacker \"connection\"")
        }
        try into.finish()
        let towards = try reader.string("towards") ?? "client"
        guard towards == "client" || towards == "doctor" else {
            throw ScenarioError(path: reader.child("towards"), message: "\"client\" or \"doctor\"")
        }
        return InjectSpec(target: target, towardsDoctor: towards == "doctor", payload: try payload(&reader))
    }

    static func flood(_ reader: inout ObjectReader) throws(ScenarioError) -> FloodSpec {
        let attacker = try reader.requireString("attacker")
        guard let count = try reader.uint("count", max: 100_000), count >= 1 else {
            throw ScenarioError(path: reader.child("count"), message: "a count of 1...100000 is required")
        }
        let from = try StepDecoder.host(&reader, "from")
        var request: CraftSpec?
        if let value = reader.value("request") { request = try craft(value, at: reader.child("request")) }
        let concurrent = try reader.bool("concurrent") ?? (request == nil)
        return FloodSpec(attacker: attacker, count: Int(count), from: from, request: request, concurrent: concurrent)
    }

    // MARK: - Payloads

    /// `frame` (+ `mutate`) or `raw`.
    static func payload(_ reader: inout ObjectReader) throws(ScenarioError) -> Payload {
        if let raw = try reader.string("raw") {
            guard let bytes = Hex.decode(raw) else { throw ScenarioError(path: reader.child("raw"), message: "not hex") }
            guard !reader.has("frame") else { throw ScenarioError(path: reader.child("raw"), message: "give frame or raw, not both") }
            return .raw(bytes)
        }
        let source = try frameSource(try reader.require("frame"), at: reader.child("frame"))
        var mutations: [Mutation] = []
        for (index, item) in (try reader.array("mutate") ?? []).enumerated() {
            mutations.append(try mutation(item, at: "\(reader.child("mutate"))[\(index)]"))
        }
        return .frame(source, mutations)
    }

    static func frameSource(_ value: JSONValue, at path: String) throws(ScenarioError) -> FrameSource {
        var reader = try ObjectReader(value, at: path)
        guard reader.keys.count == 1, let key = reader.keys.first else {
            throw ScenarioError(path: path, message: "exactly one of captured, craft, json, text, hex")
        }
        let source: FrameSource
        switch key {
        case "captured": source = .captured(try capture(try reader.require(key), at: reader.child(key)))
        case "craft": source = .craft(try craft(try reader.require(key), at: reader.child(key)))
        case "json": source = .json(JSONFragment(try reader.require(key)))
        case "text": source = .text(try reader.requireString(key))
        case "hex":
            guard let bytes = Hex.decode(try reader.requireString(key)) else {
                throw ScenarioError(path: reader.child(key), message: "not hex")
            }
            source = .bytes(bytes)
        default:
            throw ScenarioError(path: reader.child(key), message: "unknown frame source (captured, craft, json, text, hex)")
        }
        try reader.finish()
        return source
    }

    static func capture(_ value: JSONValue, at path: String) throws(ScenarioError) -> CaptureRef {
        var reader = try ObjectReader(value, at: path)
        let sender = try reader.requireString("sender")
        let to = try reader.string("to")
        let opcode = try ScenarioDecoder.opcode(try reader.require("opcode"), at: reader.child("opcode"))
        let nth = try reader.int("nth") ?? -1
        try reader.finish()
        return CaptureRef(sender: sender, to: to, opcode: opcode, nth: Int(clamping: nth))
    }

    static func craft(_ value: JSONValue, at path: String) throws(ScenarioError) -> CraftSpec {
        var reader = try ObjectReader(value, at: path)
        let kind = try ScenarioDecoder.opcode(try reader.require("kind"), at: reader.child("kind"))
        guard [.keyVerification, .keyConfirmation, .sessionToken].contains(kind) else {
            throw ScenarioError(path: reader.child("kind"), message: "only KEY_VERIFICATION, KEY_CONFIRMATION and SESSION_TOKEN are crafted; edit captured frames for the rest")
        }
        var spec = CraftSpec(kind: kind, claim: try reader.requireString("claim"), signer: try reader.string("signer"),
                             tsOffsetMillis: try reader.int("tsOffsetMillis") ?? 0, r: nil, s: nil, signOther: false,
                             c1: nil, c2: nil, ciphertextFrom: nil, answering: nil, idGWN: try reader.string("idGWN"))
        spec.r = try special(&reader, "r")
        spec.s = try special(&reader, "s")
        spec.c1 = try special(&reader, "c1")
        spec.c2 = try special(&reader, "c2")
        spec.signOther = try reader.bool("signOther") ?? false
        if let ref = reader.value("ciphertextFrom") { spec.ciphertextFrom = try capture(ref, at: reader.child("ciphertextFrom")) }
        if let ref = reader.value("answering") { spec.answering = try capture(ref, at: reader.child("answering")) }
        if kind == .sessionToken, spec.answering == nil {
            throw ScenarioError(path: reader.child("answering"), message: "a crafted SESSION_TOKEN answers a captured KEY_VERIFICATION")
        }
        try ScenarioDecoder.checkID(spec.claim, at: reader.child("claim"))
        try reader.finish()
        return spec
    }

    static func special(_ reader: inout ObjectReader, _ key: String) throws(ScenarioError) -> SpecialValue? {
        guard let text = try reader.string(key) else { return nil }
        guard let value = SpecialValue(rawValue: text) else {
            throw ScenarioError(path: reader.child(key), message: "unknown value \"\(text)\" (\(SpecialValue.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return value
    }

    // MARK: - Mutations

    static func mutation(_ value: JSONValue, at path: String) throws(ScenarioError) -> Mutation {
        var reader = try ObjectReader(value, at: path)
        guard reader.keys.count == 1, let key = reader.keys.first else {
            throw ScenarioError(path: path, message: "one edit per item (set, remove, copy, flipBit, truncate, duplicateKey, resign, flipBodyBit)")
        }
        let mutation: Mutation
        switch key {
        case "set":
            var fields = try ObjectReader(try reader.require(key), at: reader.child(key))
            guard fields.keys.count == 1, let field = fields.keys.first else {
                throw ScenarioError(path: reader.child(key), message: "set one field per edit")
            }
            mutation = .set(field, JSONFragment(try fields.require(field)))
        case "remove": mutation = .remove(try reader.requireString(key))
        case "copy":
            var fields = try ObjectReader(try reader.require(key), at: reader.child(key))
            let field = try fields.requireString("field")
            let source = try capture(try fields.require("from"), at: fields.child("from"))
            let sourceField = try fields.requireString("fromField")
            try fields.finish()
            mutation = .copy(field: field, from: source, sourceField: sourceField)
        case "duplicateKey": mutation = .duplicateKey(try reader.requireString(key))
        case "resign":
            let item = try reader.require(key)
            if let signer = item.stringValue {
                mutation = .resign(signer)
            } else {
                var fields = try ObjectReader(item, at: reader.child(key))
                let signer = try fields.requireString("signer")
                let answering = try capture(try fields.require("answering"), at: fields.child("answering"))
                try fields.finish()
                mutation = .resignAnswer(signer: signer, answering: answering)
            }
        case "flipBodyBit":
            guard let bit = try reader.int(key) else { throw ScenarioError(path: reader.child(key), message: "missing") }
            mutation = .flipBodyBit(Int(clamping: bit))
        case "flipBit", "truncate":
            var fields = try ObjectReader(try reader.require(key), at: reader.child(key))
            let field = try fields.requireString("field")
            let amountKey = key == "flipBit" ? "bit" : "bytes"
            guard let amount = try fields.int(amountKey) else {
                throw ScenarioError(path: fields.child(amountKey), message: "missing")
            }
            try fields.finish()
            mutation = key == "flipBit" ? .flipBit(field, Int(clamping: amount)) : .truncate(field, Int(clamping: amount))
        default:
            throw ScenarioError(path: reader.child(key), message: "unknown edit (set, remove, flipBit, truncate, duplicateKey, resign, flipBodyBit)")
        }
        try reader.finish()
        return mutation
    }

    // MARK: - Intercepts

    static func intercept(_ value: JSONValue, at path: String) throws(ScenarioError) -> Intercept {
        var reader = try ObjectReader(value, at: path)
        let sender = try reader.requireString("sender")
        let to = try reader.string("to")
        let opcode = try ScenarioDecoder.opcode(try reader.require("opcode"), at: reader.child("opcode"))
        let nth = try reader.uint("nth", max: 10_000) ?? 0
        var actions: [InterceptAction] = []
        if let edits = try reader.array("tamper") {
            var mutations: [Mutation] = []
            for (index, item) in edits.enumerated() {
                mutations.append(try mutation(item, at: "\(reader.child("tamper"))[\(index)]"))
            }
            actions.append(.tamper(mutations))
        }
        if try reader.bool("hold") == true { actions.append(.hold) }
        if try reader.bool("duplicate") == true { actions.append(.duplicate) }
        guard actions.count == 1, let action = actions.first else {
            throw ScenarioError(path: path, message: "exactly one of tamper, hold: true, duplicate: true")
        }
        try reader.finish()
        return Intercept(sender: sender, to: to, opcode: opcode, nth: Int(nth), action: action)
    }
}
