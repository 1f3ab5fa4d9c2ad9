import TelemedCrypto

extension PatientMachine {
    // MARK: - SESSION_TOKEN

    mutating func tokenReceived(_ token: SessionToken, _ requested: Requested, element: [UInt8], now: Instant) -> [PatientAction] {
        guard token.idGWN == doctorID, token.idI == identity else {
            return close(.protocolViolation(.identity, "SESSION_TOKEN for another pair of ids"))
        }
        guard token.rnI == requested.rnI else {
            return close(.protocolViolation(.echo, "SESSION_TOKEN does not echo our rn_i"))
        }
        guard now.wall.absoluteDifference(from: token.tsGWN) <= configuration.timeWindowMillis else {
            return [.event(.dropped(.time, "ts_gwn \(token.tsGWN) outside ΔTS of \(now.wall)"))]
        }
        guard let signature = try? Signature(group: group, rBytes: token.sigR.bytes, sBytes: token.sigS.bytes),
              doctorKey.isValidSignature(signature, for: SignedBytes.sessionToken(token)) else {
            return close(.protocolViolation(.signature, "SESSION_TOKEN signature does not verify under the pinned key"))
        }
        let doctorElement: BigInt
        do {
            let ciphertext = try ElGamalCiphertext(group: group, c1Bytes: token.c1.bytes, c2Bytes: token.c2.bytes)
            doctorElement = try privateKey.decrypt(ciphertext)
        } catch {
            return close(.protocolViolation(.element, "c1, c2 or K_GWN is not a valid element"))
        }
        let transcript = KeySchedule.HandshakeTranscript(
            patientElement: element, doctorElement: group.encodeElement(doctorElement),
            tsI: requested.tsI, tsGWN: token.tsGWN, rnI: requested.rnI, rnGWN: token.rnGWN,
            idI: identity, idGWN: doctorID)
        return confirm(KeySchedule.sessionKey(transcript), requested, now: now)
    }

    /// SESSION_TOKEN_V2 (PROTOCOL.md §8.5), cheapest check first; every failure closes: ids →
    /// rn_i echoed (R-ECHO) → ts_gwn in ΔTS (dropped, R-TIME) → dh_gwn ≠ our dh_i (R-FS) →
    /// the signature over SignData2_v2 built with our own H_1 (R-TRANSCRIPT: a signature over
    /// any other request's H_1, or over any other field, fails here; the patient cannot tell
    /// which, and names the transcript rule) → c1, c2, K_GWN valid (R-ELEM) → dh_gwn valid
    /// (R-ELEM) → Z = B^a → SK. The stage then drops a, Z, K and K_GWN (R-FS).
    mutating func tokenReceivedV2(_ token: SessionTokenV2, _ requested: Requested, _ pending: RequestedV2,
                                  now: Instant) -> [PatientAction] {
        guard token.idGWN == doctorID, token.idI == identity else {
            return close(.protocolViolation(.identity, "SESSION_TOKEN_V2 for another pair of ids"))
        }
        guard token.rnI == requested.rnI else {
            return close(.protocolViolation(.echo, "SESSION_TOKEN_V2 does not echo our rn_i"))
        }
        guard now.wall.absoluteDifference(from: token.tsGWN) <= configuration.timeWindowMillis else {
            return [.event(.dropped(.time, "ts_gwn \(token.tsGWN) outside ΔTS of \(now.wall)"))]
        }
        guard token.dhGWN.bytes != pending.share else {
            return close(.protocolViolation(.forwardSecrecy, "dh_gwn equals our own dh_i (reflection)"))
        }
        let signed = SignedBytes.sessionTokenV2(token, requestDigest: pending.requestDigest)
        guard let signature = try? Signature(group: group, rBytes: token.sigR.bytes, sBytes: token.sigS.bytes),
              doctorKey.isValidSignature(signature, for: signed) else {
            return close(.protocolViolation(.transcript,
                                            "SESSION_TOKEN_V2 signature does not verify over SignData2_v2 with our H_1"))
        }
        let doctorElement: ElementSecret
        do {
            let ciphertext = try ElGamalCiphertext(group: group, c1Bytes: token.c1.bytes, c2Bytes: token.c2.bytes)
            doctorElement = try privateKey.decryptSecret(ciphertext)
        } catch {
            return close(.protocolViolation(.element, "c1, c2 or K_GWN is not a valid element"))
        }
        let doctorShare: DiffieHellmanShare
        do {
            doctorShare = try DiffieHellmanShare(group: group, bytes: token.dhGWN.bytes)
        } catch {
            return close(.protocolViolation(.element, "dh_gwn is not a valid element"))
        }
        let shared = pending.ephemeral.sharedSecret(with: doctorShare)
        let sessionKey = KeySchedule.sessionKeyV2(patientElement: pending.element, doctorElement: doctorElement,
                                                  shared: shared, requestDigest: pending.requestDigest,
                                                  answerDigest: Hashing.sha256(signed))
        return confirm(sessionKey, requested, now: now)
    }

    /// SK is known: SKV, the traffic keys, KEY_CONFIRMATION; the stage moves on, which drops
    /// the request's secrets, and SK itself is dropped once SKV and the traffic keys exist.
    private mutating func confirm(_ sessionKey: SessionKey, _ requested: Requested, now: Instant) -> [PatientAction] {
        let ts = now.wall
        let skv = KeySchedule.sessionKeyVerifier(sessionKey: sessionKey, ts: ts)
        stage = .awaitingGroupKey(Keyed(keys: KeySchedule.trafficKeys(sessionKey: sessionKey)))
        var actions: [PatientAction] = [.send(codec.encode(.keyConfirmation(KeyConfirmation(idI: identity, ts: ts, skv: skv))))]
        // PROTOCOL.md §7.1: the first GROUP_KEY may wait for the doctor's epoch window, so the
        // wait ends at the handshake timeout or W after this confirmation, whichever is later.
        let elapsed = now.monotonic >= requested.sentAt ? now.monotonic - requested.sentAt : 0
        let remaining = configuration.handshakeTimeoutMillis > elapsed ? configuration.handshakeTimeoutMillis - elapsed : 0
        if configuration.epochWindowMillis > remaining {
            actions.append(.scheduleTimer(.handshake, afterMillis: configuration.epochWindowMillis))
        }
        return actions
    }

    // MARK: - GROUP_KEY

    mutating func groupKeyReceived(_ message: GroupKeyMessage, keyed: Keyed, current: Session?) -> [PatientAction] {
        guard keyed.receiving.admits(message.seq) else {
            return [.event(.dropped(.aead, "GROUP_KEY seq \(message.seq) not above the last"))]
        }
        guard message.epoch > (current?.epoch ?? 0) else {
            return [.event(.dropped(.epoch, "GROUP_KEY epoch \(message.epoch) not above the current"))]
        }
        let aad = AssociatedData.groupKey(idGWN: doctorID, idI: identity, epoch: message.epoch,
                                          seq: message.seq, members: message.members)
        var updated = keyed
        guard let key = try? updated.receiving.openGroupKey(message.ct, seq: message.seq, aad: aad) else {
            return close(.protocolViolation(.aead, "GROUP_KEY does not open under k_d2p"))
        }
        stage = .active(Session(keyed: updated, epoch: message.epoch, members: message.members,
                                groupKey: key, broadcasts: OpeningKey(key)))
        if current == nil {
            return [.cancelTimer(.handshake), .event(.authenticated(epoch: message.epoch, members: message.members))]
        }
        return [.event(.groupKeyChanged(epoch: message.epoch, members: message.members))]
    }

    // MARK: - ENC_MSG

    mutating func broadcastReceived(_ message: BroadcastMessage, _ session: Session, now: Instant) -> [PatientAction] {
        guard message.epoch == session.epoch else {
            return [.event(.dropped(.epoch, "broadcast of epoch \(message.epoch), current \(session.epoch)"))]
        }
        guard session.broadcasts.admits(message.seq) else {
            return [.event(.dropped(.broadcast, "broadcast seq \(message.seq) not above the last"))]
        }
        guard now.wall.absoluteDifference(from: message.ts) <= configuration.timeWindowMillis else {
            return [.event(.dropped(.time, "broadcast ts \(message.ts) outside ΔTS of \(now.wall)"))]
        }
        let signed = SignedBytes.broadcast(group: group.name, idGWN: doctorID, epoch: message.epoch,
                                           seq: message.seq, ts: message.ts, ct: message.ct)
        guard let signature = try? Signature(group: group, rBytes: message.sigR.bytes, sBytes: message.sigS.bytes),
              doctorKey.isValidSignature(signature, for: signed) else {
            return close(.protocolViolation(.broadcast, "broadcast signature does not verify under the pinned key"))
        }
        let aad = AssociatedData.broadcast(idGWN: doctorID, epoch: message.epoch, seq: message.seq, ts: message.ts)
        var updated = session
        guard let plaintext = try? updated.broadcasts.open(message.ct, seq: message.seq, aad: aad) else {
            return close(.protocolViolation(.aead, "broadcast does not open under GK"))
        }
        guard let text = UTF8Validation.decode(plaintext) else {
            return close(.protocolViolation(.aead, "broadcast plaintext is not UTF-8"))
        }
        let receipt = LPWriter.u64(message.epoch) + LPWriter.u64(message.seq)
        let (identity, doctorID) = (identity, doctorID)
        let (seq, ct) = updated.keyed.sending.seal(receipt) { seq in
            AssociatedData.receipt(idI: identity, idGWN: doctorID, seq: seq)
        }
        stage = .active(updated)
        return [.event(.broadcastReceived(epoch: message.epoch, seq: message.seq, ts: message.ts, text: text)),
                .send(codec.encode(.decMsg(ReceiptMessage(idI: identity, seq: seq, ct: ct))))]
    }

    // MARK: - DISCONNECT

    mutating func disconnectReceived(_ message: DisconnectMessage, _ keyed: Keyed) -> [PatientAction] {
        // The session ends on a valid DISCONNECT, so the advanced key is not kept.
        var receiving = keyed.receiving
        let aad = AssociatedData.disconnect(sender: doctorID, receiver: identity, seq: message.seq)
        let plaintext: [UInt8]
        do {
            plaintext = try receiving.open(message.ct, seq: message.seq, aad: aad)
        } catch .sequenceNotAbove {
            return [.event(.dropped(.aead, "DISCONNECT seq \(message.seq) not above the last"))]
        } catch {
            return close(.protocolViolation(.aead, "DISCONNECT does not open under k_d2p"))
        }
        guard let reason = UTF8Validation.decode(plaintext) else {
            return close(.protocolViolation(.aead, "DISCONNECT reason is not UTF-8"))
        }
        return close(.disconnectedByDoctor(reason))
    }
}
