import TelemedCrypto
import TelemedNode
import TelemedProtocol

// MARK: - Key recovery from the wire
//
// The harness holds every private key, so from the frames alone it can recompute what each
// side derived: K (the doctor's decryption of a request), K_GWN (the patient's decryption of
// the answer), SK, the traffic keys, and every GK_e sent to a patient. These feed the secret
// scan (R-NOLEAK) and the cryptographic invariant that nobody can open a broadcast of an
// epoch they were not a member of (R-EPOCH).

extension Simulation {
    func recover(_ message: Message, in frame: WireFrame) {
        switch message {
        case let .keyVerification(request) where frame.towardsDoctor:
            recoverRequest(request, on: frame.flow)
        case let .sessionToken(token) where !frame.towardsDoctor:
            window.sessionTokens += 1
            recoverToken(token, on: frame.flow)
        case let .groupKey(groupKey) where !frame.towardsDoctor:
            recoverGroupKey(groupKey, on: frame.flow)
        case let .encMsg(broadcast) where !frame.towardsDoctor:
            recordBroadcast(broadcast, run: frame.flow.run)
        default:
            break
        }
    }

    private func recoverRequest(_ request: KeyVerification, on flow: Flow) {
        let cacheKey = request.c1.bytes + request.c2.bytes
        let bytes: [UInt8]
        if let cached = decryptedRequests[cacheKey] {
            bytes = cached
        } else {
            guard let ciphertext = try? ElGamalCiphertext(group: keys.group, c1Bytes: request.c1.bytes, c2Bytes: request.c2.bytes),
                  let element = try? keys.doctorKey.decrypt(ciphertext) else { return }
            bytes = keys.group.encodeElement(element)
            if decryptedRequests.count < 100_000 { decryptedRequests[cacheKey] = bytes }
        }
        secrets.add(bytes, "K of \(request.idI)")
        if flow.request == nil {
            flow.request = request
            flow.requestElement = bytes
        }
    }

    private func recoverToken(_ token: SessionToken, on flow: Flow) {
        guard let request = flow.request, let requestElement = flow.requestElement, request.rnI == token.rnI,
              let patientKey = doctor.machine.enrolledKey(of: token.idI).flatMap(privateKey(matching:))
                ?? keys.patientKeys[token.idI.value],
              let ciphertext = try? ElGamalCiphertext(group: keys.group, c1Bytes: token.c1.bytes, c2Bytes: token.c2.bytes),
              let element = try? patientKey.decrypt(ciphertext) else { return }
        let doctorElement = keys.group.encodeElement(element)
        secrets.add(doctorElement, "K_GWN for \(token.idI)")
        flow.token = token
        flow.tokenElement = doctorElement
        let transcript = KeySchedule.HandshakeTranscript(
            patientElement: requestElement, doctorElement: doctorElement, tsI: request.tsI, tsGWN: token.tsGWN,
            rnI: request.rnI, rnGWN: token.rnGWN, idI: token.idI, idGWN: token.idGWN)
        let sessionKey = KeySchedule.sessionKey(transcript)
        let traffic = KeySchedule.trafficKeys(sessionKey: sessionKey)
        secrets.add(sessionKey.withUnsafeBytes { Array($0) }, "SK of \(token.idI)")
        secrets.add(traffic.doctorToPatient.withUnsafeBytes { Array($0) }, "k_d2p of \(token.idI)")
        secrets.add(traffic.patientToDoctor.withUnsafeBytes { Array($0) }, "k_p2d of \(token.idI)")
        flow.trafficKeys = traffic
    }

    private func recoverGroupKey(_ message: GroupKeyMessage, on flow: Flow) {
        guard let traffic = flow.trafficKeys, let token = flow.token, let patient = flow.patientID else { return }
        let aad = AssociatedData.groupKey(idGWN: keys.doctorID, idI: token.idI, epoch: message.epoch,
                                          seq: message.seq, members: message.members)
        // A fresh opening key per frame: the wiretap sees frames the patient may refuse as replays.
        var opening = OpeningKey(traffic.doctorToPatient)
        guard let key = try? opening.openGroupKey(message.ct, seq: message.seq, aad: aad) else { return }
        secrets.add(key.withUnsafeBytes { Array($0) }, "GK of epoch \(message.epoch)")
        heldGroupKeys[patient, default: []].append((flow.run, message.epoch, key))
        let epochName = "epoch \(message.epoch)" + (flow.run == 1 ? "" : " of doctor run \(flow.run)")
        // A key learned now must not open any earlier broadcast of an epoch this patient was not in.
        for (broadcastKey, sent) in sentBroadcasts.sorted(by: { $0.key < $1.key }) where !sent.members.contains(patient) {
            if opens(sent.message, with: key) {
                violations.append("R-EPOCH: \(patient)'s GK of \(epochName) opens broadcast \(broadcastKey) sent while it was not a member")
            }
        }
    }

    private func recordBroadcast(_ message: BroadcastMessage, run: Int) {
        let key = BroadcastKey(run: run, epoch: message.epoch, seq: message.seq)
        guard sentBroadcasts[key] == nil else { return }
        let members = Set(doctor.machine.activePatients.map(\.value))
        sentBroadcasts[key] = SentBroadcast(message: message, members: members)
        // No key any non-member ever held may open it.
        for (patient, held) in heldGroupKeys.sorted(by: { $0.key < $1.key }) where !members.contains(patient) {
            for entry in held where opens(message, with: entry.key) {
                violations.append("R-EPOCH: \(patient), not a member, can open broadcast \(key) with its GK of "
                    + "epoch \(entry.epoch)" + (entry.run == 1 ? "" : " of doctor run \(entry.run)"))
            }
        }
    }

    /// True when `key` opens the broadcast's ciphertext.
    func opens(_ message: BroadcastMessage, with key: GroupKey) -> Bool {
        let aad = AssociatedData.broadcast(idGWN: keys.doctorID, epoch: message.epoch, seq: message.seq, ts: message.ts)
        var opening = OpeningKey(key)
        return (try? opening.open(message.ct, seq: message.seq, aad: aad)) != nil
    }
}
