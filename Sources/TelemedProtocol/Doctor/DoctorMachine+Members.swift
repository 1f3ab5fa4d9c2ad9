import TelemedCrypto

extension DoctorMachine {
    // MARK: - Frames from active patients

    mutating func memberFrameReceived(_ body: [UInt8], on connection: ConnectionID, from patient: PeerID,
                                      now: Instant, using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        guard let member = members[patient] else { return [] }
        do {
            switch try checkMemberFrame(body, from: member) {
            case let .receipt(receiving, epochAcked, seqAcked):
                table.updateMember(patient) { member in
                    member.receiving = receiving
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
        /// A receipt that opened; `receiving` is the member's k_p2d advanced past its seq, to commit.
        case receipt(receiving: OpeningKey, epoch: UInt64, broadcastSeq: UInt64)
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
            var receiving = member.receiving
            let aad = AssociatedData.receipt(idI: patient, idGWN: identity, seq: receipt.seq)
            let plaintext: [UInt8]
            do {
                plaintext = try receiving.open(receipt.ct, seq: receipt.seq, aad: aad)
            } catch .sequenceNotAbove {
                throw Refusal(.aead, "DEC_MSG seq \(receipt.seq) not above the last accepted", patient, counts: false)
            } catch {
                throw Refusal(.aead, "DEC_MSG does not open under k_p2d", patient, counts: false)
            }
            guard plaintext.count == 16 else {
                throw Refusal(.aead, "DEC_MSG does not open under k_p2d", patient, counts: false)
            }
            return .receipt(receiving: receiving, epoch: UInt64(bigEndianBytes: plaintext[0..<8]),
                            broadcastSeq: UInt64(bigEndianBytes: plaintext[8..<16]))
        case let .disconnect(disconnect):
            // The member leaves on a valid DISCONNECT, so the advanced copy is not kept.
            var receiving = member.receiving
            let aad = AssociatedData.disconnect(sender: patient, receiver: identity, seq: disconnect.seq)
            let plaintext: [UInt8]
            do {
                plaintext = try receiving.open(disconnect.ct, seq: disconnect.seq, aad: aad)
            } catch .sequenceNotAbove {
                throw Refusal(.aead, "DISCONNECT seq \(disconnect.seq) not above the last accepted", patient, counts: false)
            } catch {
                throw Refusal(.aead, "DISCONNECT does not open under k_p2d", patient, counts: false)
            }
            guard UTF8Validation.decode(plaintext) != nil else {
                throw Refusal(.aead, "DISCONNECT does not open under k_p2d", patient, counts: false)
            }
            return .disconnect
        default:
            throw Refusal(.state, "opcode \(message.opcode.rawValue) from an active patient", patient, counts: false)
        }
    }

    // MARK: - Leaving and epochs

    /// Removes a member, optionally telling it why (sealed DISCONNECT; never to a member that
    /// has not been sent its first GROUP_KEY, PROTOCOL.md §7.1), closes its connection (unless
    /// the transport already reported it closed: `connectionGone`) and records the membership
    /// change (a new epoch for the rest, at once or at the end of the epoch window).
    mutating func leave(_ patient: PeerID, reason: LeaveReason, notify: String?, connectionGone: Bool = false,
                        now: Instant, using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        guard var (member, actions) = removeMember(patient) else { return [] }
        if let notify { actions += sealedDisconnect(to: &member, reason: notify) }
        if !connectionGone { actions.append(.close(member.connection)) }
        actions.append(.event(.patientLeft(patient, member.connection, reason: reason)))
        return actions + membershipChanged(joiner: nil, using: &rng)
    }

    /// Removes a member from the connection table (and from the joiners of the pending epoch);
    /// the cancel of its `frameCompletion` timer, if one runs, comes with it.
    mutating func removeMember(_ patient: PeerID) -> (member: Member, actions: [DoctorAction])? {
        guard let (member, hadFrame) = table.removeMember(patient) else { return nil }
        pendingEpoch?.joiners.removeAll { $0 == patient }
        return (member, hadFrame ? [.cancelTimer(.frameCompletion(member.connection))] : [])
    }

    /// A DISCONNECT sealed under the member's k_d2p with its next seq; nothing for a member
    /// that has not been sent a GROUP_KEY (its first frame must be one; it is closed silently).
    func sealedDisconnect(to member: inout Member, reason: String) -> [DoctorAction] {
        guard member.keyed else { return [] }
        let (identity, patient) = (identity, member.patient)
        let (seq, ct) = member.sending.seal(reason.utf8Prefix(maxBytes: 256)) { seq in
            AssociatedData.disconnect(sender: identity, receiver: patient, seq: seq)
        }
        return [.send(member.connection, codec.encode(.disconnect(DisconnectMessage(seq: seq, ct: ct))))]
    }

    // Batched epochs (PROTOCOL.md §7.1)
    // -------------------------------
    // A membership change (join, leave, kick, replacement, revocation, timeout) with a window
    // W of 0 starts the next epoch at once (v1). With W > 0 the first change after an epoch
    // began opens a pending epoch and schedules the `epochWindow` timer W later (a fixed
    // window: later changes neither extend nor restart it); every change until then joins it.
    // The pending epoch starts when the timer fires, or earlier when a broadcast is about to
    // be sealed or the operator rekeys (both absorb it). It starts even if its changes cancel
    // out. Joiners of the window are sent their GROUP_KEY first, in the order they joined; a
    // joiner is sent nothing before it. Shutdown (disconnect all) drops a pending epoch.

    /// Records a membership change: starts the next epoch at once when the window is 0,
    /// otherwise adds the change to the pending epoch (opening it and its timer if needed).
    mutating func membershipChanged(joiner: PeerID?,
                                    using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        let window = configuration.epochWindowMillis
        guard window > 0 else { return startEpoch(joiners: joiner.map { [$0] } ?? [], using: &rng) }
        var actions: [DoctorAction] = []
        if pendingEpoch == nil {
            pendingEpoch = PendingEpoch()
            actions.append(.scheduleTimer(.epochWindow, afterMillis: window))
        }
        if let joiner { pendingEpoch?.joiners.append(joiner) }
        return actions
    }

    /// Starts the pending epoch now, if there is one (a broadcast or a rekey absorbs it before
    /// its window ends, so its timer is cancelled).
    mutating func startPendingEpochEarly(using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        guard let pending = pendingEpoch else { return [] }
        return [.cancelTimer(.epochWindow)] + startEpoch(joiners: pending.joiners, using: &rng)
    }

    /// Starts epoch e+1 over the current members and sends each its GROUP_KEY: `joiners` first
    /// in their order, the rest in ascending id order. Clears the pending epoch. With no
    /// member left, GK is dropped and the epoch number stays (the next join starts the next one).
    mutating func startEpoch(joiners: [PeerID], using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        pendingEpoch = nil
        guard !members.isEmpty else {
            groupKey = nil
            return []
        }
        epoch += 1
        let nonce = Bytes32(random: &rng)
        let roster = members.values.map { (id: $0.patient, sessionKey: $0.sessionKey) }
        let key = KeySchedule.groupKey(epoch: epoch, nonce: nonce, members: roster, secret: groupKeySecret)
        groupKey = EpochKey(key: key, broadcasts: SealingKey(key))
        broadcastCounts[epoch] = 0
        if broadcastCounts.count > 1_024, let oldest = broadcastCounts.keys.min() { broadcastCounts[oldest] = nil }
        let ordered = activePatients
        var actions: [DoctorAction] = [.event(.epochStarted(epoch, members: ordered))]
        let firsts = joiners.filter { members[$0] != nil }
        let served = Set(firsts)
        let sendOrder = firsts + ordered.filter { !served.contains($0) }
        for id in sendOrder {
            guard let connection = members[id]?.connection else { continue }
            let (identity, epoch, count) = (identity, epoch, UInt64(members.count))
            var sealed: (seq: UInt64, ciphertext: [UInt8])?
            table.updateMember(id) { member in
                member.keyed = true
                sealed = member.sending.seal(key) { seq in
                    AssociatedData.groupKey(idGWN: identity, idI: id, epoch: epoch, seq: seq, members: count)
                }
            }
            guard let (seq, ct) = sealed else { continue }
            let message = GroupKeyMessage(epoch: epoch, seq: seq, members: count, ct: ct)
            actions.append(.send(connection, codec.encode(.groupKey(message))))
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
        guard !members.isEmpty else { throw .nobodyConnected }
        // §7.1: never seal under a key a departed member knows or a joined one lacks.
        let epochActions = startPendingEpochEarly(using: &rng)
        guard var current = groupKey else { throw .nobodyConnected }
        let (identity, epoch, ts) = (identity, epoch, now.wall)
        let (seq, ct) = current.broadcasts.seal(plaintext) { seq in
            AssociatedData.broadcast(idGWN: identity, epoch: epoch, seq: seq, ts: ts)
        }
        let signed = SignedBytes.broadcast(group: group.name, idGWN: identity, epoch: epoch, seq: seq, ts: ts, ct: ct)
        let signature = privateKey.sign(signed, using: &rng)
        let message = BroadcastMessage(epoch: epoch, seq: seq, ts: ts, ct: ct,
                                       sigR: ElementBytes(bytes: signature.rBytes(in: group)),
                                       sigS: Bytes32.unchecked(signature.sBytes(in: group)))
        groupKey = current
        broadcastCounts[epoch] = current.broadcasts.nextSeq
        let frame = codec.encode(.encMsg(message))
        var actions: [DoctorAction] = epochActions + activePatients.compactMap { id in
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

    /// Starts a new epoch with the same members (a fresh GK); it absorbs a pending epoch.
    public mutating func rekey(now: Instant, using rng: inout some CryptographicRandomNumberGenerator) throws(DoctorCommandError) -> [DoctorAction] {
        guard !members.isEmpty else { throw .nobodyConnected }
        if pendingEpoch != nil { return startPendingEpochEarly(using: &rng) }
        return startEpoch(joiners: [], using: &rng)
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

    /// Shutdown or "disconnect all": DISCONNECT with the reason `kind` names (`restarting` or
    /// `shutdown`) to every keyed member in ascending id order (a member not yet sent its
    /// GROUP_KEY is closed without a frame), no new epoch (a pending one is dropped), close
    /// everything (pending handshakes get REJECTED).
    public mutating func disconnectAll(now: Instant, kind: ShutdownKind) -> [DoctorAction] {
        var actions: [DoctorAction] = []
        if pendingEpoch != nil {
            pendingEpoch = nil
            actions.append(.cancelTimer(.epochWindow))
        }
        for id in activePatients {
            guard case (var member, let cancel)? = removeMember(id) else { continue }
            actions += cancel
            actions += sealedDisconnect(to: &member, reason: kind.reason)
            actions += [.close(member.connection), .event(.patientLeft(id, member.connection, reason: .shutdown))]
        }
        for connection in table.handshakes.keys.sorted() {
            table.removeHandshake(connection)
            actions += [.cancelTimer(.handshake(connection)), .send(connection, codec.encode(.rejected)), .close(connection)]
        }
        groupKey = nil
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
}
