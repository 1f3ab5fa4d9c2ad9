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
        case .enroll, .revoke: registryChanged = true
        default: break
        }
        switch action {
        case let .connect(patient, from, signer):
            try connect(patient, from: from, signer: signer)
        case let .connectMany(_, patients):
            // Every connect is put in flight before anything is delivered: the handshakes run together.
            for patient in patients { try connect(patient, from: nil, signer: nil) }
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
        case let .enroll(patient, keyName, replace):
            let key = try signingKey(named: keyName ?? patient)
            registryCommand { () throws(StoreError) in
                try doctor.enroll(try registryID(patient), publicKey: key.publicKey, replace: replace)
                deviceKeys[patient] = key
            }
        case let .revoke(patient):
            registryCommand { () throws(StoreError) in try doctor.revoke(try registryID(patient)) }
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

    private func registryID(_ text: String) throws(StoreError) -> PeerID {
        guard let id = try? PeerID(text) else { throw .registry(.notEnrolled(keys.doctorID)) }
        return id
    }

    /// Runs an enroll or revoke; a refusal is recorded as the step's command error, named after
    /// the ``RegistryError`` case (`alreadyEnrolled`, `keyRetired`, …).
    private func registryCommand(_ command: () throws(StoreError) -> Void) {
        do {
            try command()
        } catch {
            window.commandError = Simulation.registryErrorName(error)
            emit("commandError", [("error", .string(window.commandError ?? "")), ("detail", .string(error.description))])
        }
    }

    static func registryErrorName(_ error: StoreError) -> String {
        guard case let .registry(refusal) = error else { return "storeFailure" }
        switch refusal {
        case .alreadyEnrolled: return "alreadyEnrolled"
        case .notEnrolled: return "notEnrolled"
        case .alreadyRevoked: return "alreadyRevoked"
        case .keyUnchanged: return "keyUnchanged"
        case .keyRetired: return "keyRetired"
        case .keyInUse: return "keyInUse"
        case .wrongGroup: return "wrongGroup"
        }
    }

    /// The private key called `name`: a patient's cast key (by its id), or a named key, generated
    /// from the seed on first use and added to the secrets the trace is scanned for.
    func signingKey(named name: String) throws(SimulationFailure) -> PrivateKey {
        if let key = keys.patientKeys[name] ?? namedKeys[name] { return key }
        guard patientSpecs[name] == nil else {
            throw SimulationFailure(message: "no key for \(name)")
        }
        var random = root.fork("key/named/\(name)")
        let key = PrivateKey(generatingIn: keys.group, using: &random)
        namedKeys[name] = key
        namedKeysByPublic[key.publicKey.bytes] = namedKeysByPublic[key.publicKey.bytes] ?? key
        secrets.add(key.scalarBytes, "key \(name)'s private key")
        return key
    }

    /// The private key matching `publicKey` among the cast and named keys.
    func privateKey(matching publicKey: PublicKey) -> PrivateKey? {
        keys.privateKey(matching: publicKey) ?? namedKeysByPublic[publicKey.bytes]
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
        guard let spec = patientSpecs[patient], let clock = clocks[patient] else {
            throw SimulationFailure(message: "unknown patient \(patient)")
        }
        // The device signs with the key an `enroll` step gave it, else its cast key; `signer`
        // overrides both (a patient id: that patient's cast key; or a named key).
        let signingKey: PrivateKey
        if let signer {
            signingKey = try self.signingKey(named: signer)
        } else if let device = deviceKeys[patient] {
            signingKey = device
        } else {
            signingKey = try self.signingKey(named: patient)
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
        // The device's randomness is recorded (unchanged) so that the harness can rebuild a
        // version-2 ephemeral a as an insider (DrawRecorder.swift).
        let draws = DrawLog()
        flow.patientDraws = draws
        flow.deviceKey = signingKey
        var configuration = scenario.patientConfiguration
        if let version = spec.version { configuration.version = version }
        let node: PatientNode
        do {
            node = try PatientNode(configuration: configuration, credential: credential, transport: endpoint,
                                   connection: flow.client, clock: clock, timers: timers,
                                   rng: NodeRandom(RecordingRandom(base: root.fork("patient/\(patient)/\(number)"), log: draws)),
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
        case let .connectMany(label, patients):
            return [("patients", .string(label)), ("count", .int(patients.count))]
        case let .leave(patient), let .kick(patient):
            return [("patient", .string(patient))]
        case let .broadcast(label, text):
            let bytes = Array(text.utf8)
            return [("label", .string(label)), ("length", .int(bytes.count)), ("sha256", .string(Simulation.digestPrefix(bytes)))]
        case let .unblock(target):
            return [("target", .string(target))]
        case let .enroll(patient, key, replace):
            return [("patient", .string(patient)), ("key", .string(key ?? patient)), ("replace", .bool(replace))]
        case let .revoke(patient):
            return [("patient", .string(patient))]
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
