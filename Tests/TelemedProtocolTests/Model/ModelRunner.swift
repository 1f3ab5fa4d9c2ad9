@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol

/// Feeds one event sequence to a fresh DoctorMachine (through the Harness, the package's one
/// `MachineDriver`, with real PatientMachines for honest patients and the Crafter for hostile frames) and to a fresh
/// DoctorModel, and compares them after every step.
///
/// The runner decides what to send from the *model's* view (which connection a slot names,
/// whether it is opened or verified), never from the machine's, so the machine cannot steer
/// its own test. Every step uses a generator seeded from the event alone.
struct ModelRunner {
    struct Capture {
        var body: [UInt8]
        var request: DoctorModel.Request
    }

    var h: Harness
    var model: DoctorModel
    var captures: [Capture] = []
    var nextCapture = 0
    /// Held KEY_CONFIRMATIONs of slow honest patients, with their ts.
    var held: [ConnectionID: (body: [UInt8], ts: UInt64)] = [:]
    /// Every rule the model predicted during the run (for the coverage check).
    var rulesSeen: Set<RuleID> = []
    var joinsCompleted = 0
    var coverage: [String: Int] { model.coverage }
    let crafter = Crafter()

    /// The rule the machine breaks on purpose (a machine mutant), kept across restarts.
    let fault: DoctorMachine.Fault?

    /// The doctor's configuration (ModelWorld's, with the configured minimum version).
    let configuration: DoctorConfiguration

    init(mutant: ModelMutant = .faithful, fault: DoctorMachine.Fault? = nil, minimumVersion: ProtocolVersion = .v1) throws {
        configuration = ModelWorld.configuration(minimumVersion: minimumVersion)
        h = try Harness(patients: ModelWorld.patients, seed: 1, configuration: configuration)
        self.fault = fault
        h.doctor.fault = fault
        model = DoctorModel(config: configuration, enrolled: Set(ModelWorld.patientIDs),
                            start: h.now, mutant: mutant)
    }

    /// Runs `events` from a fresh start; returns the first divergence, if any.
    static func firstDivergence(_ events: [ModelEvent], mutant: ModelMutant = .faithful,
                                fault: DoctorMachine.Fault? = nil, minimumVersion: ProtocolVersion = .v1) throws -> ModelDivergence? {
        var runner = try ModelRunner(mutant: mutant, fault: fault, minimumVersion: minimumVersion)
        return try runner.run(events)
    }

    mutating func run(_ events: [ModelEvent]) throws -> ModelDivergence? {
        for (index, event) in events.enumerated() {
            let differences = try step(event)
            if !differences.isEmpty { return ModelDivergence(step: index, event: event, differences: differences) }
        }
        return nil
    }

    // MARK: - One step

    mutating func step(_ event: ModelEvent) throws -> [String] {
        let logStart = h.doctorLog.count
        model.rejections = []
        h.rng = SeededRandom(seed: Array("model step \(event) \(event.seed)".utf8))
        let commands = try apply(event)
        h.pump()
        rulesSeen.formUnion(model.rejections.map(\.rule))
        return compare(actions: Array(h.doctorLog[logStart...]), commands: commands)
    }

    /// Returns (model, machine) success of an operator command, nil for other events.
    mutating func apply(_ event: ModelEvent) throws -> (model: Bool, machine: Bool)? {
        switch event {
        case let .join(p, s, _, version), let .beginJoin(p, s, _, version):
            let id = ModelWorld.patientIDs[p]
            let connection = try h.connect(ModelWorld.patients[p], from: ModelWorld.sources[s], version: version)
            let request = h.framesFromPatient(connection).first
            var holding: [UInt8]?
            if case .beginJoin = event { holding = pumpHolding(connection) }
            let ts = h.now.wall
            if model.open(connection, from: ModelWorld.sourceAddresses[s]) {
                model.firstFrame(connection, .request(capture(request, patient: id, ts: ts, version: version)))
                if case .join = event {
                    model.confirm(connection, .init(ts: ts, correctSKV: true))
                    if model.active[id] == connection { joinsCompleted += 1 }
                } else if let holding {
                    held[connection] = (holding, ts)
                }
            }
        case let .openOnly(s):
            let connection = try h.openRaw(from: ModelWorld.sources[s])
            _ = model.open(connection, from: ModelWorld.sourceAddresses[s])
        case let .slotProceed(slot, p, _, version):
            guard let (connection, state) = pendingSlot(slot) else { return nil }
            switch state {
            case .opened:
                let id = ModelWorld.patientIDs[p]
                guard h.patients[connection] == nil else { return nil }
                var patientConfiguration = PatientConfiguration()
                patientConfiguration.version = version
                h.start(try PatientMachine(configuration: patientConfiguration, identity: id,
                                           privateKey: Harness.keyCache.key(ModelWorld.patients[p]),
                                           doctorID: Harness.doctorID, doctorKey: h.doctorKey.publicKey), on: connection)
                let request = h.framesFromPatient(connection).first
                let holding = pumpHolding(connection)
                let ts = h.now.wall
                model.firstFrame(connection, .request(capture(request, patient: id, ts: ts, version: version)))
                if let holding { held[connection] = (holding, ts) }
            case .verified:
                guard let (body, ts) = held.removeValue(forKey: connection) else { return nil }
                h.deliver(Harness.Flight(connection: connection, direction: .toDoctor, body: body))
                model.confirm(connection, .init(ts: ts, correctSKV: true))
            }
        case let .slotWrongSKV(slot, p, _):
            guard let (connection, state) = pendingSlot(slot) else { return nil }
            let id: PeerID
            switch state {
            case .opened: id = ModelWorld.patientIDs[p]
            case let .verified(_, patient, _, _): id = patient
            }
            let body = crafter.codec.encode(.keyConfirmation(
                KeyConfirmation(idI: id, ts: h.now.wall, skv: Bytes32(random: &h.rng))))
            held[connection] = nil
            h.inject(body, on: connection)
            if state.isOpened { model.firstFrame(connection, .wrongOpcode) }
            else { model.confirm(connection, .init(ts: h.now.wall, correctSKV: false)) }
        case let .slotDrop(slot, how):
            guard let (connection, _) = pendingSlot(slot) else { return nil }
            held[connection] = nil
            h.transportClosed(connection, how)
            model.closed(connection, how)
        case let .slotFrame(slot, report):
            guard let (connection, _) = pendingSlot(slot) else { return nil }
            frameReport(report, on: connection)
        case let .memberFrame(p, report):
            guard let connection = model.active[ModelWorld.patientIDs[p]] else { return nil }
            frameReport(report, on: connection)
        case let .leave(p):
            let id = ModelWorld.patientIDs[p]
            guard let connection = model.active[id] else { return nil }
            h.leave(connection)
            model.leave(id)
        case let .memberDrop(p):
            let id = ModelWorld.patientIDs[p]
            guard let connection = model.active[id] else { return nil }
            h.transportClosed(connection, .closedByPeer)
            model.leave(id)
        case let .memberGarbage(p, kind):
            let id = ModelWorld.patientIDs[p]
            guard let connection = model.active[id] else { return nil }
            let body: [UInt8]
            let rule: RuleID
            switch kind {
            case .malformed:
                body = Array(#"{"opcode":60,"#.utf8)
                rule = .frame
            case .wrongOpcode:
                body = crafter.codec.encode(.keyConfirmation(KeyConfirmation(idI: id, ts: h.now.wall, skv: Bytes32(random: &h.rng))))
                rule = .state
            case .staleReceipt:
                let receipts = h.framesFromPatient(connection).filter {
                    if case .decMsg? = crafter.decode($0) { return true }
                    return false
                }
                body = receipts.last ?? crafter.codec.encode(.decMsg(ReceiptMessage(
                    idI: id, seq: 0, ct: (0..<32).map { _ in UInt8.random(in: 0...255, using: &h.rng) })))
                rule = .aead
            }
            h.inject(body, on: connection)
            model.leave(id, rejectedBy: rule)
        case let .kick(p):
            let id = ModelWorld.patientIDs[p]
            let machine = command { (h: inout Harness) throws(DoctorCommandError) in
                try h.doctor.kick(id, now: h.now, using: &h.rng)
            }
            return (model.kick(id), machine)
        case let .revoke(p):
            let id = ModelWorld.patientIDs[p]
            let machine = command { (h: inout Harness) throws(RegistryError) in
                try h.doctor.revoke(id, now: h.now, using: &h.rng)
            }
            return (model.revoke(id), machine)
        case let .enroll(p):
            let id = ModelWorld.patientIDs[p]
            let key = Harness.keyCache.key(ModelWorld.patients[p]).publicKey
            let machine = command { (h: inout Harness) throws(RegistryError) in
                try h.doctor.enroll(id, publicKey: key, replace: false, now: h.now, using: &h.rng)
            }
            return (model.enroll(id), machine)
        case let .setMinimum(version):
            h.applyDoctor(h.doctor.setMinimumVersion(version, now: h.now, using: &h.rng))
            model.setMinimumVersion(version)
        case .rekey:
            let machine = command { (h: inout Harness) throws(DoctorCommandError) in
                try h.doctor.rekey(now: h.now, using: &h.rng)
            }
            return (model.rekey(), machine)
        case .broadcast:
            let machine = command { (h: inout Harness) throws(DoctorCommandError) in
                try h.doctor.broadcast("model broadcast", now: h.now, using: &h.rng)
            }
            return (model.broadcast(), machine)
        case let .advance(millis):
            h.advance(by: millis)
            model.advance(by: millis)
            h.fireDueTimers()
        case let .stepWall(millis):
            h.now.wall = millis >= 0 ? h.now.wall + UInt64(millis) : h.now.wall - UInt64(-millis)
            model.stepWall(by: millis)
        case let .hostile(attack, s, _):
            let connection = try h.openRaw(from: ModelWorld.sources[s])
            _ = model.open(connection, from: ModelWorld.sourceAddresses[s])
            switch attack {
            case .oversize:
                h.applyDoctor(h.doctor.frameRefused(on: connection, declaredLength: 1 << 31, now: h.now, using: &h.rng))
                model.frameRefused(connection)
            case .cutFrame:
                h.transportClosed(connection, .cutFrame)
                model.closed(connection, .cutFrame)
            default:
                let (body, frame) = try craft(attack)
                h.inject(body, on: connection)
                model.firstFrame(connection, frame)
            }
        case .restart:
            let state = h.doctor.securityState
            h.loseAllConnections()
            held = [:]
            // The registry survives like the security state (the doctor stores it).
            let registry = h.doctor.registry
            h.doctor = try DoctorMachine(configuration: configuration, group: Harness.group,
                                         identity: Harness.doctorID, privateKey: h.doctorKey,
                                         registry: registry, restoring: state)
            h.doctor.fault = fault
            h.applyDoctor(h.doctor.start(now: h.now))
            model.restart()
        case let .replay(index, s):
            guard !captures.isEmpty else { return nil }
            let captured = captures[index % captures.count]
            let connection = try h.openRaw(from: ModelWorld.sources[s])
            h.inject(captured.body, on: connection)
            if model.open(connection, from: ModelWorld.sourceAddresses[s]) {
                model.firstFrame(connection, .request(captured.request))
            }
        }
        return nil
    }

    // MARK: - Helpers

    /// The pending connection a slot names, in the model's view (ascending connection order).
    func pendingSlot(_ slot: Int) -> (ConnectionID, DoctorModel.Pending)? {
        let keys = model.pending.keys.sorted()
        guard !keys.isEmpty, let state = model.pending[keys[slot % keys.count]] else { return nil }
        return (keys[slot % keys.count], state)
    }

    /// Records a request as a capture (replayable later) and returns its model form.
    mutating func capture(_ body: [UInt8]?, patient: PeerID, ts: UInt64,
                          signature: Bool = true, elements: Bool = true, gateway: Bool = true,
                          version: ProtocolVersion = .v1, share: Bool = true,
                          replayable: Bool = true) -> DoctorModel.Request {
        let request = DoctorModel.Request(patient: patient, ts: ts, toThisGateway: gateway,
                                          validSignature: signature, validElements: elements,
                                          version: version, validShare: share, capture: nextCapture)
        nextCapture += 1
        if replayable, let body { captures.append(Capture(body: body, request: request)) }
        return request
    }

    /// Delivers queued frames, holding back the KEY_CONFIRMATION sent on `connection`.
    mutating func pumpHolding(_ connection: ConnectionID) -> [UInt8]? {
        let crafter = crafter
        return h.pump { flight in
            guard flight.direction == .toDoctor, flight.connection == connection,
                  case .keyConfirmation? = crafter.decode(flight.body) else { return false }
            return true
        }.last?.body
    }

    /// What `DoctorNode.handle` feeds for a transport's `.frameStarted` / `.frameRefused`.
    mutating func frameReport(_ report: FrameReport, on connection: ConnectionID) {
        switch report {
        case .begun:
            h.applyDoctor(h.doctor.frameStarted(on: connection, now: h.now))
            model.frameStarted(connection)
        case .refusedPrefix:
            held[connection] = nil
            h.applyDoctor(h.doctor.frameRefused(on: connection, declaredLength: 65_537, now: h.now, using: &h.rng))
            model.frameRefused(connection)
        }
    }

    /// Runs an operator or registry input; false (nothing applied) when the machine refuses it.
    mutating func command<Failure: Error>(_ body: (inout Harness) throws(Failure) -> [DoctorAction]) -> Bool {
        do {
            let actions = try body(&h)
            h.applyDoctor(actions)
            return true
        } catch {
            return false
        }
    }

    /// The bytes of a hostile first frame and what the model makes of it.
    mutating func craft(_ attack: Attack) throws -> ([UInt8], DoctorModel.FirstFrame) {
        let now = h.now.wall
        let window = model.config.timeWindowMillis
        func key(_ i: Int) -> PrivateKey { Harness.keyCache.key(ModelWorld.patients[i]) }
        func id(_ i: Int) -> PeerID { ModelWorld.patientIDs[i] }
        switch attack {
        case .unknownID:
            let m = try crafter.request(claiming: ModelWorld.unknown, signer: Harness.keyCache.key(ModelWorld.unknown),
                                        ts: now, rng: &h.rng)
            return (crafter.encode(m), .request(capture(nil, patient: ModelWorld.unknownID, ts: now)))
        case let .forgedSignature(i):
            let m = try crafter.request(claiming: ModelWorld.patients[i], signer: Harness.keyCache.key(ModelWorld.forger),
                                        ts: now, rng: &h.rng)
            return (crafter.encode(m), .request(capture(nil, patient: id(i), ts: now, signature: false)))
        case let .staleTimestamp(i, extra), let .futureTimestamp(i, extra):
            let stale: Bool
            if case .staleTimestamp = attack { stale = true } else { stale = false }
            let ts = stale ? now - window - 1 - extra : now + window + 1 + extra
            let m = try crafter.request(claiming: ModelWorld.patients[i], signer: key(i), ts: ts, rng: &h.rng)
            let body = crafter.encode(m)
            return (body, .request(capture(body, patient: id(i), ts: ts, replayable: !stale)))
        case let .oldInWindow(i):
            let ts = now - window / 2
            let m = try crafter.request(claiming: ModelWorld.patients[i], signer: key(i), ts: ts, rng: &h.rng)
            let body = crafter.encode(m)
            return (body, .request(capture(body, patient: id(i), ts: ts)))
        case let .badElement(i):
            let m = try crafter.request(claiming: ModelWorld.patients[i], signer: key(i), ts: now,
                                        c1: crafter.element(BigInt(1)), rng: &h.rng)
            // Validly signed, so it enters the replay cache (§7.7) and a replay of it is R-REPLAY.
            let body = crafter.encode(m)
            return (body, .request(capture(body, patient: id(i), ts: now, elements: false)))
        case let .wrongGroup(i):
            let m = try crafter.request(claiming: ModelWorld.patients[i], signer: key(i), ts: now,
                                        groupName: TelemedGroup.telemed3072.name, rng: &h.rng)
            return (crafter.encode(m), .wrongGroup)
        case let .wrongGateway(i):
            let m = try crafter.request(claiming: ModelWorld.patients[i], signer: key(i), ts: now,
                                        idGWN: "other-doctor", rng: &h.rng)
            return (crafter.encode(m), .request(capture(nil, patient: id(i), ts: now, gateway: false)))
        case .malformedJSON:
            return (Array(#"{"opcode":10,"group":"#.utf8), .malformed)
        case let .wrongOpcode(i):
            let body = crafter.codec.encode(.keyConfirmation(KeyConfirmation(idI: id(i), ts: now, skv: Bytes32(random: &h.rng))))
            return (body, .wrongOpcode)
        case let .badShare(i, share):
            let (body, request) = try v2Request(i, share: share)
            return (body, .request(capture(body, patient: id(i), ts: request.tsI, version: .v2, share: share.isValidShare)))
        case let .downgrade(i):
            // The v2 request's shared fields under opcode 10, its v2 signature kept: the v1
            // signed bytes differ (other label, no dh_i), so it cannot verify (attack 21a).
            let (_, request) = try v2Request(i, share: nil)
            let body = crafter.encode(request.commonFields)
            return (body, .request(capture(body, patient: id(i), ts: request.tsI, signature: false)))
        case .oversize, .cutFrame:
            preconditionFailure("transport-level attacks carry no frame")
        }
    }

    /// A KEY_VERIFICATION_V2 of patient `i` as its own PatientMachine (version 2) makes it
    /// now; with `share`, dh_i replaced and the request signed again with the patient's key
    /// over SignData1_v2 (so only the share is wrong).
    mutating func v2Request(_ i: Int, share: ShareAttack?) throws -> ([UInt8], KeyVerificationV2) {
        var configuration = PatientConfiguration()
        configuration.version = .v2
        let key = Harness.keyCache.key(ModelWorld.patients[i])
        var patient = try PatientMachine(configuration: configuration, identity: ModelWorld.patientIDs[i], privateKey: key,
                                         doctorID: Harness.doctorID, doctorKey: h.doctorKey.publicKey)
        let sent = patient.connected(now: h.now, using: &h.rng).compactMap { action -> [UInt8]? in
            if case let .send(body) = action { return body }
            return nil
        }
        guard let body = sent.first, case var .keyVerificationV2(request)? = crafter.decode(body) else {
            throw HarnessError(message: "a version-2 patient did not send KEY_VERIFICATION_V2")
        }
        guard let share else { return (body, request) }
        let group = Harness.group
        switch share {
        case .one: request.dhI = crafter.element(.one)
        case .minusOne: request.dhI = crafter.element(group.p - .one)
        case .outsideSubgroup: request.dhI = crafter.element(Self.nonMember)
        case .reflected:
            // The latest B the doctor sent, else the request's own A (both valid elements).
            let tokens = h.doctorLog.compactMap { action -> ElementBytes? in
                guard case let .send(_, body) = action, case let .sessionTokenV2(token)? = crafter.decode(body) else { return nil }
                return token.dhGWN
            }
            request.dhI = tokens.last ?? request.dhI
        }
        let signature = key.sign(SignedBytes.keyVerificationV2(request), using: &h.rng)
        request.sigR = ElementBytes(bytes: signature.rBytes(in: group))
        request.sigS = .unchecked(signature.sBytes(in: group))
        return (crafter.codec.encode(.keyVerificationV2(request)), request)
    }

    /// The smallest integer above 1 outside the order-q subgroup (2 is, in the test group).
    static let nonMember: BigInt = {
        let group = Harness.group
        var z = BigInt(2)
        while group.isValidElement(z) { z = z + .one }
        return z
    }()

    // MARK: - Comparison

    func compare(actions: [DoctorAction], commands: (model: Bool, machine: Bool)?) -> [String] {
        var differences: [String] = []
        func check<T: Equatable>(_ what: String, model: T, machine: T) {
            if model != machine { differences.append("\(what): model \(model), machine \(machine)") }
        }
        let machineRejections = actions.compactMap { action -> DoctorModel.Rejection? in
            guard case let .event(.rejected(connection, _, rule, _, _)) = action else { return nil }
            return DoctorModel.Rejection(connection: connection, rule: rule)
        }.sorted()
        check("rejections", model: model.rejections.sorted(), machine: machineRejections)
        if let commands { check("command succeeded", model: commands.model, machine: commands.machine) }
        let doctor = h.doctor
        check("active", model: describe(model.active), machine: describe(doctor.members.mapValues(\.connection)))
        // §8.7: each session's version, fixed at its join.
        check("session versions", model: model.versions.sorted { $0.key < $1.key }.map { "\($0.key)=v\($0.value)" },
              machine: doctor.members.keys.sorted().map { "\($0)=v\(doctor.sessionVersion(of: $0).map(String.init(describing:)) ?? "-")" })
        check("minimum version", model: model.minimumVersion, machine: doctor.minimumVersion)
        check("epoch", model: model.epoch, machine: doctor.epoch)
        check("epoch pending", model: model.windowEnd != nil, machine: doctor.hasPendingEpoch)
        check("enrolled", model: model.enrolled.sorted(), machine: doctor.enrolledPatients)
        var machinePending: [ConnectionID: String] = [:]
        for (connection, state) in doctor.connections {
            switch state {
            case .awaitingRequest: machinePending[connection] = "opened"
            case let .verifying(verifying): machinePending[connection] = "verifying(\(verifying.request.idI))"
            case let .awaitingConfirmation(verified):
                machinePending[connection] = "verified(\(verified.patient), v\(verified.version))"
            case .active: continue
            }
        }
        check("pending", model: describe(model.pending.mapValues(\.description)), machine: describe(machinePending))
        // Every member's own machine holds the current epoch's GROUP_KEY; only while an epoch
        // is pending may a member that joined in its window hold none yet.
        for (patient, connection) in model.active {
            guard let machine = h.patients[connection] else {
                differences.append("member \(patient) on \(connection) has no patient machine")
                continue
            }
            if !machine.isActive && model.windowEnd != nil { continue }
            if !machine.isActive || machine.epoch != model.epoch || machine.groupKeyFingerprint != doctor.groupKeyFingerprint {
                differences.append("member \(patient): patient machine on epoch \(machine.epoch) (active \(machine.isActive)), model epoch \(model.epoch)")
            }
        }
        let wall = h.now.wall
        for source in ModelWorld.sourceAddresses {
            check("source block on \(source)", model: model.sourceBlock(source), machine: doctor.sourceBlock(source, at: wall))
            let machineFailures = (doctor.securityState.failures[source] ?? []).filter(model.isLive).count
            check("live failures of \(source)", model: model.liveFailures(source), machine: machineFailures)
            for patient in ModelWorld.patientIDs + [ModelWorld.unknownID] {
                let device = DeviceKey(patient: patient, source: source)
                check("device block on \(device)", model: model.deviceBlock(device), machine: doctor.deviceBlock(device, at: wall))
            }
        }
        return differences
    }

    func describe<V>(_ map: [ConnectionID: V]) -> String {
        map.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    func describe(_ map: [PeerID: ConnectionID]) -> String {
        map.sorted { $0.key < $1.key }.map { "\($0.key)@\($0.value)" }.joined(separator: " ")
    }
}

extension ModelEvent {
    /// The event's own randomness (0 for events that need none).
    var seed: UInt64 {
        switch self {
        case let .join(_, _, seed, _), let .beginJoin(_, _, seed, _), let .slotProceed(_, _, seed, _),
             let .slotWrongSKV(_, _, seed), let .rekey(seed), let .broadcast(seed), let .hostile(_, _, seed):
            return seed
        default:
            return 0
        }
    }
}
