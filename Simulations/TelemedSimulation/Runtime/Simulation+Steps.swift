@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport

extension Simulation {
    // MARK: - Performing a step

    /// Performs a step's action, pumps, and settles unless the step says `wait: false`.
    func perform(_ step: Step) throws(SimulationFailure) {
        window = StepWindow()
        intercepts = step.intercepts.map { ($0, 0, false) }
        emit("step", [("path", .string(step.path)), ("do", .string(step.action.verb))] + describeAction(step.action))
        try act(step.action)
        try pump()
        if step.wait { try settle() }
        for (index, entry) in intercepts.enumerated() where !entry.done {
            window.problems.append("\(step.path).intercept[\(index)]: no frame matched (\(entry.intercept.sender) \(ScenarioDecoder.name(of: entry.intercept.opcode)))")
        }
        intercepts = []
    }

    private func act(_ action: StepAction) throws(SimulationFailure) {
        switch action {
        case let .connect(patient, from, signer):
            try connect(patient, from: from, signer: signer)
        case let .leave(patient):
            guard let connection = latestSession[patient], let session = sessions[connection] else {
                window.problems.append("\(patient) has no connection to leave")
                return
            }
            window.connections.insert(session.flow.server)
            session.node.leave()
        case let .kick(patient):
            operatorCommand { () throws(DoctorCommandError) in try doctor.kick(try peerID(patient)) }
        case let .broadcast(label, text):
            secrets.addText(text, "broadcast \(label)")
            window.pendingBroadcastLabel = label
            operatorCommand { () throws(DoctorCommandError) in try doctor.broadcast(text) }
        case .rekey:
            operatorCommand { () throws(DoctorCommandError) in try doctor.rekey() }
        case let .unblock(target):
            operatorCommand { () throws(DoctorCommandError) in try doctor.unblock(target) }
        case .restartDoctor:
            try restartDoctor()
        case let .advance(millis):
            try advance(by: millis)
        case let .skew(actor, millis, relative):
            guard let clock = clock(of: actor) else { return }
            clock.offset = relative ? clock.offset &+ millis : millis
        case let .send(spec):
            try attackerSend(spec)
        case let .inject(spec):
            try inject(spec)
        case let .flood(spec):
            try flood(spec)
        case let .close(attacker, label):
            guard let client = attackerLabels[label], let flow = flowsByClient[client] else { return }
            window.connections.insert(flow.server)
            try endpoint(owner: flow.attackerName ?? attacker, host: flow.clientAddress.host).close(client)
        case .check:
            break
        }
    }

    private func peerID(_ text: String) throws(DoctorCommandError) -> PeerID {
        guard let id = try? PeerID(text) else { throw .unknownPatient(keys.doctorID) }
        return id
    }

    private func operatorCommand(_ command: () throws(DoctorCommandError) -> Void) {
        do {
            try command()
        } catch {
            window.commandError = Simulation.commandErrorName(error)
            emit("commandError", [("error", .string(window.commandError ?? "")), ("detail", .string(error.description))])
        }
    }

    static func commandErrorName(_ error: DoctorCommandError) -> String {
        switch error {
        case .nobodyConnected: return "nobodyConnected"
        case .invalidBroadcastText: return "invalidBroadcastText"
        case .unknownPatient: return "unknownPatient"
        case .noSuchBlock: return "noSuchBlock"
        }
    }

    // MARK: - Patients

    /// A real patient device opens a connection and runs the handshake through `PatientNode`.
    func connect(_ patient: String, from: String?, signer: String?) throws(SimulationFailure) {
        guard let spec = scenario.patients.first(where: { $0.id == patient }),
              let signingKey = keys.patientKeys[signer ?? patient], let clock = clocks[patient] else {
            throw SimulationFailure(message: "unknown patient \(patient)")
        }
        let endpoint = try endpoint(owner: patient, host: from ?? spec.host)
        let flow = try openFlow(from: endpoint, owner: .patient(patient))
        let credential: PatientCredential
        do {
            credential = PatientCredential(identity: try PeerID(patient), privateKey: signingKey, doctorID: keys.doctorID,
                                           doctorKey: keys.doctorKey.publicKey, host: scenario.doctor.host,
                                           port: max(1, scenario.doctor.port))
        } catch {
            throw SimulationFailure(message: "\(patient) is not a valid id")
        }
        let number = nextCount("session/\(patient)")
        let timers = SimulatedTimers(owner: .patient(flow.client), queue: queue, time: time)
        let relay = Relay<PatientEvent>()
        let node: PatientNode
        do {
            node = try PatientNode(configuration: scenario.patientConfiguration, credential: credential, transport: endpoint,
                                   connection: flow.client, clock: clock, timers: timers,
                                   rng: NodeRandom(root.fork("patient/\(patient)/\(number)")),
                                   logger: CapturingLogHandler.logger(patient, sink: logs),
                                   observer: { event in relay.send(event) })
        } catch {
            throw SimulationFailure(message: "\(patient)'s node could not be built: \(error)")
        }
        let run = flow.run
        relay.handler = { [unowned self] event in self.patientEvent(patient, event, run: run) }
        sessions[flow.client] = PatientSession(patient: patient, node: node, flow: flow, timers: timers)
        latestSession[patient] = flow.client
    }

    // MARK: - Narrative fields

    func describeAction(_ action: StepAction) -> [(String, JSONValue)] {
        switch action {
        case let .connect(patient, from, signer):
            return [("patient", .string(patient))] + (from.map { [("from", .string($0))] } ?? [])
                + (signer.map { [("signer", .string($0))] } ?? [])
        case let .leave(patient), let .kick(patient):
            return [("patient", .string(patient))]
        case let .broadcast(label, text):
            let bytes = Array(text.utf8)
            return [("label", .string(label)), ("length", .int(bytes.count)), ("sha256", .string(Simulation.digestPrefix(bytes)))]
        case let .unblock(target):
            return [("target", .string(target))]
        case let .advance(millis):
            return [("millis", .uint(millis))]
        case let .skew(actor, millis, relative):
            return [("actor", .string(actor)), ("millis", .int64(millis)), ("relative", .bool(relative))]
        case let .send(spec):
            return [("attacker", .string(spec.attacker)), ("copies", .int(spec.copies))]
        case let .flood(spec):
            return [("attacker", .string(spec.attacker)), ("count", .int(spec.count))]
        case let .close(attacker, label):
            return [("attacker", .string(attacker)), ("connection", .string(label))]
        case .inject, .rekey, .restartDoctor, .check:
            return []
        }
    }
}
