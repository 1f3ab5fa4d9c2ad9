import enum TelemedTransport.Framing
import TelemedCrypto
import TelemedProtocol

// MARK: - DoctorScriptChecker
//
// The invariants a doctor script checks, against a host-side record of every connection:
//
//   * no action on a connection after it was closed (by a `.close` action or by the peer),
//     except harmless bookkeeping (cancelling its timer, events, persisting);
//   * GROUP_KEY, ENC_MSG and DISCONNECT go only to connections whose handshake completed
//     (a `patientAuthenticated` event came first); SESSION_TOKEN at most once per connection
//     and never after it; every REJECTED is followed by the close of that connection;
//   * every frame the doctor sends is 1…65,536 bytes and decodes under the strict codec; on
//     one connection, k_d2p seqs strictly increase, GROUP_KEY epochs strictly increase, and
//     a broadcast carries the current epoch;
//   * the epoch never decreases and each `epochStarted` is above the last, its members are
//     sorted, distinct and at most `maxActivePatients`;
//   * after every step: active patients ≤ maxActivePatients, pending ≤ pendingTotal, pending
//     equals the host's open, not yet authenticated connections, each active patient's
//     connection is open and authenticated as that patient, a group key exists exactly while
//     someone is active and every member has been sent it unless an epoch is pending
//     (PROTOCOL.md §7.1), and a new epoch means a new group key;
//   * a member is sent no ENC_MSG or DISCONNECT before its first GROUP_KEY, and an ENC_MSG only
//     in the epoch of the last GROUP_KEY it was sent (a broadcast starts a pending epoch first).
//   * whenever the frames in flight are all delivered: every honest patient that is active on
//     the connection the doctor holds for it is in the doctor's epoch with its group key.
//   * versions (PROTOCOL.md §8.6): the doctor answers in kind — SESSION_TOKEN only on a
//     connection whose first frame was opcode 10, SESSION_TOKEN_V2 only after opcode 12 — and
//     never sends a SESSION_TOKEN while its minimum version is 2; while the minimum is 2 no
//     member has a version-1 session; an R-VERSION refusal names a connection whose first
//     frame was opcode 10.
//
// It is the observer of the script's `MachineDriver`, which shows it every action list before
// carrying it out and every open and peer close before the doctor answers it.

/// Host-side record and invariant checks for one doctor script.
struct DoctorScriptChecker: MachineObserver {
    typealias Failure = FuzzViolation
    let configuration: DoctorConfiguration
    let codec: MessageCodec
    var open: Set<ConnectionID> = []
    var closed: Set<ConnectionID> = []
    var authenticated: [ConnectionID: PeerID] = [:]
    var tokens: Set<ConnectionID> = []
    var lastSendSeq: [ConnectionID: UInt64] = [:]
    var lastGroupKeyEpoch: [ConnectionID: UInt64] = [:]
    var lastEpoch: UInt64 = 0
    var lastEpochEvent: UInt64 = 0
    var lastFingerprint: Bytes32?
    /// Frames honest patients sent (the first 64), for replays.
    var patientFrames: [[UInt8]] = []
    /// The opcode of the first frame each connection sent the doctor (10, 12, or another).
    var firstOpcode: [ConnectionID: UInt8] = [:]
    /// How often the version-2 paths were reached (the corpus replay tests check them): answers
    /// of each version, R-VERSION refusals, dh_i refusals (R-ELEM), sessions ended because the
    /// minimum was raised.
    var versionCounts: [String: Int] = [:]

    init(configuration: DoctorConfiguration, group: TelemedGroup) {
        self.configuration = configuration
        codec = MessageCodec(groupName: group.name, elementLength: group.elementLength)
    }

    func isOpen(_ connection: ConnectionID) -> Bool { open.contains(connection) }

    mutating func opened(_ connection: ConnectionID) {
        open.insert(connection)
    }

    mutating func peerClosed(_ connection: ConnectionID) {
        open.remove(connection)
        closed.insert(connection)
    }

    // MARK: - What the driver shows

    mutating func doctorActed(_ actions: [DoctorAction], doctor: DoctorMachine, now: Instant) throws(FuzzViolation) {
        try check(actions, doctor: doctor, now: now)
    }

    mutating func patientActed(_ actions: [PatientAction], on connection: ConnectionID) throws(FuzzViolation) {
        for case let .send(body) in actions {
            frameToDoctor(body, on: connection)
            if patientFrames.count < 64 { patientFrames.append(body) }
        }
    }

    /// A frame for the doctor on `connection` (an honest patient's, or raw from the script):
    /// the first one fixes the handshake's version (§8.6.1).
    mutating func frameToDoctor(_ body: [UInt8], on connection: ConnectionID) {
        guard firstOpcode[connection] == nil else { return }
        firstOpcode[connection] = (try? codec.decode(body)).map { $0.opcode.rawValue } ?? 0
    }

    mutating func settled(doctor: DoctorMachine, patients: [ConnectionID: PatientMachine]) throws(FuzzViolation) {
        for (connection, patient) in patients where patient.isActive && doctor.connection(of: patient.identity) == connection {
            try fuzzCheck(patient.epoch == doctor.epoch,
                          "active \(patient.identity) on \(connection) is in epoch \(patient.epoch), the doctor in \(doctor.epoch)")
            try fuzzCheck(patient.groupKeyFingerprint == doctor.groupKeyFingerprint,
                          "active \(patient.identity) holds another group key than the doctor's")
        }
    }

    func didNotSettle(after deliveries: Int) throws(FuzzViolation) {
        throw FuzzViolation("frames kept flowing for \(deliveries) deliveries")
    }

    // MARK: - One answer

    mutating func check(_ actions: [DoctorAction], doctor: DoctorMachine, now: Instant) throws(FuzzViolation) {
        var rejectedHere: Set<ConnectionID> = []
        for (position, action) in actions.enumerated() {
            func where_() -> String { "action \(position) of \(actions.count)" }
            switch action {
            case let .send(connection, body):
                try fuzzCheck(open.contains(connection), "\(where_()): send on \(closed.contains(connection) ? "closed" : "unknown") \(connection)")
                try checkFrame(body, to: connection, doctor: doctor, rejected: &rejectedHere)
            case let .close(connection):
                try fuzzCheck(open.contains(connection), "\(where_()): close of \(closed.contains(connection) ? "closed" : "unknown") \(connection)")
                open.remove(connection)
                closed.insert(connection)
            case let .scheduleTimer(.handshake(connection), after):
                try fuzzCheck(open.contains(connection), "\(where_()): timer scheduled for closed \(connection)")
                try fuzzCheck(authenticated[connection] == nil, "handshake timer for authenticated \(connection)")
                try fuzzCheck(after == configuration.handshakeTimeoutMillis, "handshake timer of \(after) ms")
            case let .scheduleTimer(.frameCompletion(connection), after):
                try fuzzCheck(open.contains(connection), "\(where_()): frame timer scheduled for closed \(connection)")
                try fuzzCheck(authenticated[connection] != nil, "frame-completion timer for unauthenticated \(connection)")
                try fuzzCheck(after == configuration.handshakeTimeoutMillis, "frame-completion timer of \(after) ms")
            case let .scheduleTimer(.epochWindow, after):
                try fuzzCheck(after == configuration.epochWindowMillis && after > 0, "epoch window timer of \(after) ms")
            case let .verify(job):
                try fuzzCheck(open.contains(job.connection), "\(where_()): handshake job for closed \(job.connection)")
                try fuzzCheck(authenticated[job.connection] == nil && !tokens.contains(job.connection),
                              "\(where_()): handshake job for \(job.connection), which was answered already")
            case .cancelTimer, .persist:
                continue
            case let .event(event):
                try checkEvent(event, doctor: doctor)
            }
        }
        for connection in rejectedHere {
            try fuzzCheck(!open.contains(connection), "REJECTED sent on \(connection) without closing it")
        }
    }

    mutating func checkFrame(_ body: [UInt8], to connection: ConnectionID, doctor: DoctorMachine,
                             rejected: inout Set<ConnectionID>) throws(FuzzViolation) {
        try fuzzCheck((1...Framing.maxBodyLength).contains(body.count), "a \(body.count)-byte frame to \(connection)")
        let message: Message
        do {
            message = try codec.decode(body)
        } catch {
            throw FuzzViolation("the doctor sent a frame its own codec refuses: \(error)")
        }
        switch message {
        case .rejected:
            rejected.insert(connection)
        case .sessionToken, .sessionTokenV2:
            try fuzzCheck(authenticated[connection] == nil, "SESSION_TOKEN to authenticated \(connection)")
            try fuzzCheck(tokens.insert(connection).inserted, "a second SESSION_TOKEN to \(connection)")
            let v2 = message.opcode == .sessionTokenV2
            let asked = firstOpcode[connection]
            try fuzzCheck(asked == (v2 ? 12 : 10), "opcode \(message.opcode.rawValue) answering a first frame of opcode \(asked.map(String.init) ?? "none") on \(connection)")
            try fuzzCheck(v2 || doctor.minimumVersion == .v1, "a version-1 SESSION_TOKEN to \(connection) while the minimum version is 2")
            versionCounts[v2 ? "SESSION_TOKEN_V2" : "SESSION_TOKEN", default: 0] += 1
        case let .groupKey(groupKey):
            try fuzzCheck(authenticated[connection] != nil, "GROUP_KEY to \(connection), which never completed a handshake")
            try nextSeq(groupKey.seq, on: connection)
            if let last = lastGroupKeyEpoch[connection] {
                try fuzzCheck(groupKey.epoch > last, "GROUP_KEY epoch \(groupKey.epoch) after \(last) on \(connection)")
            }
            lastGroupKeyEpoch[connection] = groupKey.epoch
            try fuzzCheck(groupKey.epoch == doctor.epoch, "GROUP_KEY of epoch \(groupKey.epoch) while the doctor is in \(doctor.epoch)")
            try fuzzCheck(groupKey.members >= 1 && groupKey.members <= UInt64(configuration.maxActivePatients),
                          "GROUP_KEY for \(groupKey.members) members")
        case let .encMsg(broadcast):
            try fuzzCheck(authenticated[connection] != nil, "ENC_MSG to \(connection), which never completed a handshake")
            try fuzzCheck(broadcast.epoch == doctor.epoch, "ENC_MSG of epoch \(broadcast.epoch) while the doctor is in \(doctor.epoch)")
            try fuzzCheck(lastGroupKeyEpoch[connection] == broadcast.epoch,
                          "ENC_MSG of epoch \(broadcast.epoch) to \(connection), whose last GROUP_KEY is of \(String(describing: lastGroupKeyEpoch[connection]))")
        case let .disconnect(disconnect):
            try fuzzCheck(authenticated[connection] != nil, "DISCONNECT to \(connection), which never completed a handshake")
            try fuzzCheck(lastGroupKeyEpoch[connection] != nil, "DISCONNECT to \(connection) before its first GROUP_KEY (PROTOCOL.md §7.1)")
            try nextSeq(disconnect.seq, on: connection)
        case .keyVerification, .keyVerificationV2, .keyConfirmation, .decMsg:
            throw FuzzViolation("the doctor sent a patient's opcode \(message.opcode.rawValue)")
        }
    }

    mutating func nextSeq(_ seq: UInt64, on connection: ConnectionID) throws(FuzzViolation) {
        if let last = lastSendSeq[connection] {
            try fuzzCheck(seq > last, "k_d2p seq \(seq) after \(last) on \(connection)")
        }
        lastSendSeq[connection] = seq
    }

    mutating func checkEvent(_ event: DoctorEvent, doctor: DoctorMachine) throws(FuzzViolation) {
        switch event {
        case let .patientAuthenticated(id, connection, _, _):
            try fuzzCheck(open.contains(connection), "\(id) authenticated on closed \(connection)")
            try fuzzCheck(authenticated[connection] == nil, "\(connection) authenticated twice")
            try fuzzCheck(tokens.contains(connection), "\(id) authenticated on \(connection) without a SESSION_TOKEN")
            authenticated[connection] = id
        case let .epochStarted(epoch, members):
            try fuzzCheck(epoch > lastEpochEvent, "epoch \(epoch) started after \(lastEpochEvent)")
            lastEpochEvent = epoch
            try fuzzCheck(!members.isEmpty && members.count <= configuration.maxActivePatients,
                          "epoch \(epoch) with \(members.count) members")
            try fuzzCheck(zip(members, members.dropFirst()).allSatisfy { $0 < $1 }, "epoch members not sorted and distinct")
        case let .patientLeft(_, connection, reason):
            try fuzzCheck(authenticated[connection] != nil, "a leave of \(connection), which never was a member")
            if reason == .versionRaised {
                try fuzzCheck(firstOpcode[connection] == 10, "a version-2 session on \(connection) ended by the minimum version")
                versionCounts["session ended: minimum raised", default: 0] += 1
            }
        case let .rejected(connection, _, rule, reason, _):
            if rule == .version {
                try fuzzCheck(firstOpcode[connection] == 10, "R-VERSION for \(connection), whose first frame was not opcode 10")
                versionCounts["R-VERSION", default: 0] += 1
            } else if rule == .element, reason.hasPrefix("dh_i") {
                versionCounts["R-ELEM dh_i", default: 0] += 1
            }
        case .blocked, .unblocked, .broadcastSent, .receipt, .alert, .minimumVersionChanged:
            return
        }
    }

    // MARK: - After each step

    mutating func checkState(_ doctor: DoctorMachine) throws(FuzzViolation) {
        try fuzzCheck(doctor.epoch >= lastEpoch, "epoch went from \(lastEpoch) back to \(doctor.epoch)")
        try fuzzCheck(doctor.epoch == lastEpochEvent, "epoch \(doctor.epoch) but the last epochStarted was \(lastEpochEvent)")
        let active = doctor.activePatients
        try fuzzCheck(active.count <= configuration.maxActivePatients, "\(active.count) active patients")
        try fuzzCheck(doctor.pendingHandshakes >= 0
                      && doctor.pendingHandshakes + doctor.retiredHandshakes <= configuration.pendingTotal,
                      "\(doctor.pendingHandshakes) pending handshakes and \(doctor.retiredHandshakes) retired ones")
        let pendingHere = open.filter { authenticated[$0] == nil }.count
        try fuzzCheck(doctor.pendingHandshakes == pendingHere,
                      "the doctor counts \(doctor.pendingHandshakes) pending handshakes, the host has \(pendingHere) open unauthenticated connections")
        let activeHere = open.filter { authenticated[$0] != nil }.count
        try fuzzCheck(active.count == activeHere,
                      "\(active.count) active patients but \(activeHere) open authenticated connections")
        for id in active {
            guard let connection = doctor.connection(of: id) else { throw FuzzViolation("active \(id) without a connection") }
            try fuzzCheck(open.contains(connection), "active \(id) on closed \(connection)")
            try fuzzCheck(authenticated[connection] == id, "active \(id) on \(connection), authenticated as \(String(describing: authenticated[connection]))")
        }
        if doctor.minimumVersion == .v2 {
            for id in active {
                try fuzzCheck(doctor.sessionVersion(of: id) == .v2, "\(id) has a version-1 session while the minimum version is 2")
            }
        }
        let fingerprint = doctor.groupKeyFingerprint
        if !doctor.hasPendingEpoch {
            // Batched epochs (§7.1): only a pending epoch may leave members without the current
            // key, or keep a key after the last member left.
            try fuzzCheck((fingerprint == nil) == active.isEmpty, "group key \(fingerprint == nil ? "missing" : "kept") with \(active.count) active")
            try fuzzCheck(doctor.membersAwaitingGroupKey == 0, "\(doctor.membersAwaitingGroupKey) members without a GROUP_KEY and no pending epoch")
        }
        if doctor.epoch != lastEpoch, let fingerprint, let lastFingerprint {
            try fuzzCheck(fingerprint != lastFingerprint, "epoch \(doctor.epoch) kept the group key of \(lastEpoch)")
        }
        if fingerprint != nil { lastFingerprint = fingerprint }
        lastEpoch = doctor.epoch
    }
}
