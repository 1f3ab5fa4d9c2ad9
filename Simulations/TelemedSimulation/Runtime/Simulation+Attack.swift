import TelemedCrypto
import TelemedProtocol
import TelemedTransport

extension Simulation {
    // MARK: - Attacker sends

    func attackerSend(_ spec: SendSpec) throws(SimulationFailure) {
        guard let attacker = scenario.attackers.first(where: { $0.name == spec.attacker }) else {
            throw SimulationFailure(message: "unknown attacker \(spec.attacker)")
        }
        let bytes = try wireBytes(spec.payload, attacker: spec.attacker)
        var targets: [Flow] = []
        if let label = spec.connection, let client = attackerLabels[label], let flow = flowsByClient[client] {
            window.connections.insert(flow.server)
            targets = [flow]
        } else {
            for _ in 0..<spec.copies {
                targets.append(try openAttackerFlow(attacker, label: spec.connection, from: spec.from))
            }
        }
        for flow in targets {
            let endpoint = try endpoint(owner: flow.attackerName ?? attacker.name, host: flow.clientAddress.host)
            switch bytes {
            case let .frame(body): endpoint.send(body, on: flow.client)
            case let .raw(raw): endpoint.sendRaw(raw, on: flow.client)
            }
            if spec.closeAfter { endpoint.close(flow.client) }
        }
    }

    func openAttackerFlow(_ attacker: AttackerSpec, label: String?, from: String?) throws(SimulationFailure) -> Flow {
        let name = label ?? "\(attacker.name)#\(nextCount("attacker/\(attacker.name)"))"
        let endpoint = try endpoint(owner: attacker.name, host: from ?? attacker.host)
        let flow = try openFlow(from: endpoint, owner: .attacker(name: attacker.name, label: name))
        attackerLabels[name] = flow.client
        return flow
    }

    // MARK: - Injection on the path

    func inject(_ spec: InjectSpec) throws(SimulationFailure) {
        let flow: Flow?
        switch spec.target {
        case let .patient(id): flow = latestSession[id].flatMap { sessions[$0]?.flow }
        case let .patientSession(id, index):
            let opened = sessions.filter { $0.value.patient == id }.keys.sorted()
            let position = index >= 0 ? index : opened.count + index
            flow = position >= 0 && position < opened.count ? sessions[opened[position]]?.flow : nil
        case let .attacker(label): flow = attackerLabels[label].flatMap { flowsByClient[$0] }
        }
        guard let flow else {
            window.problems.append("inject: the target connection does not exist")
            return
        }
        window.connections.insert(flow.server)
        let bytes = try wireBytes(spec.payload, attacker: flow.attackerName ?? "on-path")
        let payload: InMemoryDelivery.Payload
        switch bytes {
        case let .frame(body): payload = .frame(body)
        case let .raw(raw): payload = .bytes(raw)
        }
        let target = spec.towardsDoctor ? flow.server : flow.client
        guard let id = network.inject(payload, into: target) else {
            window.problems.append("inject: \(flow.name)'s connection is already closed")
            return
        }
        injected.insert(id)
        exempt.insert(id)
    }

    // MARK: - Floods

    func flood(_ spec: FloodSpec) throws(SimulationFailure) {
        guard let attacker = scenario.attackers.first(where: { $0.name == spec.attacker }) else {
            throw SimulationFailure(message: "unknown attacker \(spec.attacker)")
        }
        floodCiphertext = nil
        flooding = true
        defer {
            floodCiphertext = nil
            flooding = false
        }
        for _ in 0..<spec.count {
            let flow = try openAttackerFlow(attacker, label: nil, from: spec.from)
            if let request = spec.request {
                let body = try craft(request, attacker: attacker.name, reuseCiphertext: true)
                try endpoint(owner: attacker.name, host: flow.clientAddress.host).send(body, on: flow.client)
            }
            if !spec.concurrent {
                try pump()
                try settle()
            }
        }
    }

    // MARK: - Payloads

    enum WireBytes {
        case frame([UInt8])
        case raw([UInt8])
    }

    /// The bytes a payload puts on the wire. A body the transport would refuse (empty, over
    /// 64 KiB) is written raw with its own length prefix.
    func wireBytes(_ payload: Payload, attacker: String) throws(SimulationFailure) -> WireBytes {
        switch payload {
        case let .raw(bytes):
            return .raw(bytes)
        case let .frame(source, mutations):
            var body = try frameBody(source, attacker: attacker)
            for mutation in mutations { body = try apply(mutation, to: body) }
            if body.isEmpty || body.count > 65_536 {
                let length = UInt32(clamping: body.count)
                return .raw([UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + body)
            }
            return .frame(body)
        }
    }

    func frameBody(_ source: FrameSource, attacker: String) throws(SimulationFailure) -> [UInt8] {
        switch source {
        case let .captured(ref):
            let frame = try captured(ref)
            window.remarks.append("wire copy of \(frame.sender)'s \(ScenarioDecoder.name(of: ref.opcode)) sent at "
                + "\(DurationText.text(frame.time)): \(frame.body.count) bytes, sha256 \(Simulation.digestPrefix(frame.body))…")
            return frame.body
        case let .craft(spec): return try craft(spec, attacker: attacker)
        case let .json(fragment): return JSONWriter.write(fragment.value)
        case let .text(text): return Array(text.utf8)
        case let .bytes(bytes): return bytes
        }
    }

    func captured(_ ref: CaptureRef) throws(SimulationFailure) -> WireFrame {
        guard let frame = wiretap.find(ref, doctorID: keys.doctorID.value) else {
            throw SimulationFailure(message: "nothing captured matches \(ref.sender) \(ScenarioDecoder.name(of: ref.opcode)) #\(ref.nth)")
        }
        return frame
    }

    // MARK: - Intercepts

    enum InterceptOutcome { case passed, held }

    /// Offers a frame to the step's intercepts; the `nth` match of each is acted on once.
    func applyIntercepts(to frame: WireFrame) throws(SimulationFailure) -> InterceptOutcome {
        for index in intercepts.indices where !intercepts[index].done {
            let rule = intercepts[index].intercept
            let senderMatches = rule.sender == frame.sender || (rule.sender == keys.doctorID.value && !frame.towardsDoctor)
                || (frame.towardsDoctor && frame.flow.attackerName == rule.sender)
            guard senderMatches, frame.opcode == rule.opcode,
                  rule.to.map({ $0 == frame.receiver || $0 == frame.flow.attackerName }) ?? true else { continue }
            intercepts[index].seen += 1
            guard intercepts[index].seen - 1 == rule.nth else { continue }
            intercepts[index].done = true
            switch rule.action {
            case .hold:
                network.drop(frame.delivery)
                emit("intercept", [("action", .string("hold")), ("delivery", .uint(frame.delivery.rawValue))])
                return .held
            case .duplicate:
                if let copy = network.duplicate(frame.delivery) { exempt.insert(copy) }
                emit("intercept", [("action", .string("duplicate")), ("delivery", .uint(frame.delivery.rawValue))])
            case let .tamper(mutations):
                var body = frame.body
                for mutation in mutations { body = try apply(mutation, to: body) }
                network.replacePayload(of: frame.delivery, with: body.isEmpty || body.count > 65_536 ? .bytes(body) : .frame(body))
                emit("intercept", [("action", .string("tamper")), ("delivery", .uint(frame.delivery.rawValue)),
                                   ("bytes", .int(body.count)), ("sha256", .string(Simulation.digestPrefix(body)))])
            }
        }
        return .passed
    }
}
