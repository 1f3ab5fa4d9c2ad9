import TelemedCrypto

extension DoctorMachine {
    // MARK: - Frames from active patients

    mutating func memberFrameReceived(_ body: [UInt8], on connection: ConnectionID, from patient: PeerID,
                                      now: Instant, using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        guard let member = members[patient] else { return [] }
        do {
            switch try checkMemberFrame(body, from: member) {
            case let .receipt(seq, epochAcked, seqAcked):
                table.updateMember(patient) { member in
                    member.lastReceivedSeq = Int64(clamping: seq)
                    member.lastReceipt = MemberReceipt(epoch: epochAcked, seq: seqAcked, wall: now.wall)
                }
                let known = (broadcastCounts[epochAcked] ?? 0) > seqAcked
                return [.event(.receipt(patient, epoch: epochAcked, seq: seqAcked, known: known))]
            case .disconnect:
                // `leave` closes the connection (once) and starts the new epoch.
                return leave(patient, reason: .disconnected, notify: nil, now: now, using: &rng)
            }
        } catch {
            return reject(connection, .active(patient), error.rule, error.reason, patient: patient,
                          counts: false, now: now, using: &rng)
        }
    }

    enum MemberFrame {
        case receipt(seq: UInt64, epoch: UInt64, broadcastSeq: UInt64)
        case disconnect
    }

    /// Checks a frame from an active patient without changing anything.
    private func checkMemberFrame(_ body: [UInt8], from member: Member) throws(Refusal) -> MemberFrame {
        let patient = member.patient
        let message: Message
        do {
            message = try codec.decode(body)
        } catch {
            throw Refusal(.frame, "malformed frame: \(error)", patient, counts: false)
        }
        switch message {
        case let .decMsg(receipt):
            guard receipt.idI == patient else { throw Refusal(.state, "DEC_MSG carries another id", patient, counts: false) }
            guard Int64(clamping: receipt.seq) > member.lastReceivedSeq else {
                throw Refusal(.aead, "DEC_MSG seq \(receipt.seq) not above the last accepted", patient, counts: false)
            }
            let aad = AssociatedData.receipt(idI: patient, idGWN: identity, seq: receipt.seq)
            guard let plaintext = try? SealedChannel.open(receipt.ct, key: member.keys.patientToDoctor,
                                                          seq: receipt.seq, aad: aad),
                  plaintext.count == 16 else {
                throw Refusal(.aead, "DEC_MSG does not open under k_p2d", patient, counts: false)
            }
            return .receipt(seq: receipt.seq, epoch: UInt64(bigEndianBytes: plaintext[0..<8]),
                            broadcastSeq: UInt64(bigEndianBytes: plaintext[8..<16]))
        case let .disconnect(disconnect):
            guard Int64(clamping: disconnect.seq) > member.lastReceivedSeq else {
                throw Refusal(.aead, "DISCONNECT seq \(disconnect.seq) not above the last accepted", patient, counts: false)
            }
            let aad = AssociatedData.disconnect(sender: patient, receiver: identity, seq: disconnect.seq)
            guard let plaintext = try? SealedChannel.open(disconnect.ct, key: member.keys.patientToDoctor,
                                                          seq: disconnect.seq, aad: aad),
                  String(validatingUTF8Bytes: plaintext) != nil else {
                throw Refusal(.aead, "DISCONNECT does not open under k_p2d", patient, counts: false)
            }
            return .disconnect
        default:
            throw Refusal(.state, "opcode \(message.opcode.rawValue) from an active patient", patient, counts: false)
        }
    }

    // MARK: - Leaving and epochs

    /// Removes a member, optionally telling it why (sealed DISCONNECT), closes its connection
    /// (unless the transport already reported it closed: `connectionGone`) and starts a new
    /// epoch for the rest.
    mutating func leave(_ patient: PeerID, reason: LeaveReason, notify: String?, connectionGone: Bool = false,
                        now: Instant, using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        guard var member = table.removeMember(patient) else { return [] }
        var actions = forgetFrame(on: member.connection)
        if let notify { actions += sealedDisconnect(to: &member, reason: notify) }
        if !connectionGone { actions.append(.close(member.connection)) }
        actions.append(.event(.patientLeft(patient, member.connection, reason: reason)))
        return actions + startEpoch(first: nil, using: &rng)
    }

    /// Forgets a member's begun frame, cancelling its completion timer if one runs.
    mutating func forgetFrame(on connection: ConnectionID) -> [DoctorAction] {
        framesInProgress.remove(connection) != nil ? [.cancelTimer(.frameCompletion(connection))] : []
    }

    /// A DISCONNECT sealed under the member's k_d2p with its next seq.
    func sealedDisconnect(to member: inout Member, reason: String) -> [DoctorAction] {
        let seq = member.nextSendSeq
        member.nextSendSeq += 1
        let aad = AssociatedData.disconnect(sender: identity, receiver: member.patient, seq: seq)
        let ct = SealedChannel.seal(reason.utf8Prefix(maxBytes: 256), key: member.keys.doctorToPatient, seq: seq, aad: aad)
        return [.send(member.connection, codec.encode(.disconnect(DisconnectMessage(seq: seq, ct: ct))))]
    }

    /// Starts epoch e+1 over the current members and sends each its GROUP_KEY, `first` before
    /// the others, the rest in ascending id order. With no member left, GK is dropped and the
    /// epoch number stays (the next join starts the next one).
    mutating func startEpoch(first: PeerID?, using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        guard !members.isEmpty else {
            groupKey = nil
            nextBroadcastSeq = 0
            return []
        }
        epoch += 1
        let nonce = Bytes32(random: &rng)
        let roster = members.values.map { (id: $0.patient, sessionKey: $0.sessionKey) }
        let key = SymmetricKey32(KeySchedule.groupKey(epoch: epoch, nonce: nonce, members: roster, secret: groupKeySecret))
        groupKey = key
        nextBroadcastSeq = 0
        broadcastCounts[epoch] = 0
        if broadcastCounts.count > 1_024, let oldest = broadcastCounts.keys.min() { broadcastCounts[oldest] = nil }
        let ordered = activePatients
        var actions: [DoctorAction] = [.event(.epochStarted(epoch, members: ordered))]
        let sendOrder = (first.map { [$0] } ?? []) + ordered.filter { $0 != first }
        for id in sendOrder {
            guard let member = members[id] else { continue }
            let seq = member.nextSendSeq
            table.updateMember(id) { $0.nextSendSeq += 1 }
            let count = UInt64(members.count)
            let aad = AssociatedData.groupKey(idGWN: identity, idI: id, epoch: epoch, seq: seq, members: count)
            let ct = SealedChannel.seal(key.keyBytes.bytes, key: member.keys.doctorToPatient, seq: seq, aad: aad)
            let message = GroupKeyMessage(epoch: epoch, seq: seq, members: count, ct: ct)
            actions.append(.send(member.connection, codec.encode(.groupKey(message))))
        }
        return actions
    }

    // MARK: - Operator commands

    /// Seals `text` once under GK_e, signs it once, and sends it to every member.
    public mutating func broadcast(_ text: String, now: Instant,
                                   using rng: inout some CryptographicRandomNumberGenerator) throws(DoctorCommandError) -> [DoctorAction] {
        let plaintext = Array(text.utf8)
        guard (1...16_384).contains(plaintext.count) else {
            throw .invalidBroadcastText("must be 1 to 16384 bytes of UTF-8, got \(plaintext.count)")
        }
        guard let key = groupKey, !members.isEmpty else { throw .nobodyConnected }
        let seq = nextBroadcastSeq
        let ts = now.wall
        let aad = AssociatedData.broadcast(idGWN: identity, epoch: epoch, seq: seq, ts: ts)
        let ct = SealedChannel.seal(plaintext, key: key, seq: seq, aad: aad)
        let signed = SignedBytes.broadcast(group: group.name, idGWN: identity, epoch: epoch, seq: seq, ts: ts, ct: ct)
        let signature = privateKey.sign(signed, using: &rng)
        let message = BroadcastMessage(epoch: epoch, seq: seq, ts: ts, ct: ct,
                                       sigR: ElementBytes(bytes: signature.rBytes(in: group)),
                                       sigS: Bytes32.unchecked(signature.sBytes(in: group)))
        nextBroadcastSeq += 1
        broadcastCounts[epoch] = nextBroadcastSeq
        let frame = codec.encode(.encMsg(message))
        var actions: [DoctorAction] = activePatients.compactMap { id in
            members[id].map { .send($0.connection, frame) }
        }
        actions.append(.event(.broadcastSent(epoch: epoch, seq: seq, recipients: members.count)))
        return actions
    }

    /// Kicks a member: DISCONNECT("kicked"), close, new epoch for the rest.
    public mutating func kick(_ patient: PeerID, now: Instant,
                              using rng: inout some CryptographicRandomNumberGenerator) throws(DoctorCommandError) -> [DoctorAction] {
        guard members[patient] != nil else { throw .unknownPatient(patient) }
        return leave(patient, reason: .kicked, notify: "kicked", now: now, using: &rng)
    }

    /// Starts a new epoch with the same members (a fresh GK).
    public mutating func rekey(now: Instant, using rng: inout some CryptographicRandomNumberGenerator) throws(DoctorCommandError) -> [DoctorAction] {
        guard !members.isEmpty else { throw .nobodyConnected }
        return startEpoch(first: nil, using: &rng)
    }

    /// Lifts a block by hand (audited through the returned event). The event names the block
    /// actually lifted: a source covered only by a prefix block lifts that prefix as a whole,
    /// and the event says so (`prefix a.b.c.0/24`, not the address the operator typed).
    public mutating func unblock(_ target: BlockTarget) throws(DoctorCommandError) -> [DoctorAction] {
        guard let changes = policy.unblock(target) else { throw .noSuchBlock(target.description) }
        let lifted = changes.compactMap { change -> BlockTarget? in
            if case let .unblocked(liftedTarget, .operatorUnblock) = change { return liftedTarget }
            return nil
        }
        return changes.map(DoctorAction.persist) + lifted.map { .event(.unblocked($0)) }
    }

    /// Lifts every device block of one patient id.
    public mutating func unblockDevices(of patient: PeerID) throws(DoctorCommandError) -> [DoctorAction] {
        let changes = policy.unblockDevices(of: patient)
        guard !changes.isEmpty else { throw .noSuchBlock("devices of \(patient)") }
        return changes.flatMap { change -> [DoctorAction] in
            guard case let .unblocked(target, _) = change else { return [.persist(change)] }
            return [.persist(change), .event(.unblocked(target))]
        }
    }

    /// Shutdown or "disconnect all": DISCONNECT to every member in ascending id order, no new
    /// epoch, close everything (pending handshakes get REJECTED).
    public mutating func disconnectAll(now: Instant) -> [DoctorAction] {
        var actions: [DoctorAction] = []
        for id in activePatients {
            guard var member = table.removeMember(id) else { continue }
            actions += forgetFrame(on: member.connection)
            actions += sealedDisconnect(to: &member, reason: "shutdown")
            actions += [.close(member.connection), .event(.patientLeft(id, member.connection, reason: .shutdown))]
        }
        for connection in table.handshakes.keys.sorted() {
            table.removeHandshake(connection)
            actions += [.cancelTimer(.handshake(connection)), .send(connection, codec.encode(.rejected)), .close(connection)]
        }
        framesInProgress = []
        groupKey = nil
        nextBroadcastSeq = 0
        return actions
    }
}

extension UInt64 {
    /// Reads 8 big-endian bytes.
    init(bigEndianBytes bytes: ArraySlice<UInt8>) {
        self = bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}

extension String {
    /// The UTF-8 bytes of the longest prefix of whole characters that fits `maxBytes`.
    func utf8Prefix(maxBytes: Int) -> [UInt8] {
        var out: [UInt8] = []
        for character in self {
            let bytes = Array(character.utf8)
            guard out.count + bytes.count <= maxBytes else { break }
            out += bytes
        }
        return out
    }

    /// Decodes UTF-8, returning nil for invalid input (never repairs).
    init?(validatingUTF8Bytes bytes: [UInt8]) {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var scalars = String.UnicodeScalarView()
        loop: while true {
            switch decoder.decode(&iterator) {
            case let .scalarValue(scalar): scalars.append(scalar)
            case .emptyInput: break loop
            case .error: return nil
            }
        }
        self = String(scalars)
    }
}
