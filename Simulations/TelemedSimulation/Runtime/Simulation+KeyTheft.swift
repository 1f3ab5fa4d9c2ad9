import TelemedBigInt
import TelemedCrypto
import TelemedNode
import TelemedProtocol

// MARK: - Key theft after the fact (PROTOCOL.md §8.8 attack 30, §8.10)
//
// The `keyTheft` expectation plays a thief who, after a session, steals the patient's private
// key x_i and the doctor's x_GWN (or the one machine holding both, like today's doctor store)
// and replays the recording of that patient's latest handshake. It uses exactly that: the two
// long-term keys and the frames on the wiretap, never what the harness learned as an insider
// (DrawRecorder.swift). It decrypts K from the request and K_GWN from the answer, derives the
// best session key it can and tries it on the session's first GROUP_KEY, the frame that carries
// GK_e under k_d2p; a key that opens it also opens every broadcast of that epoch.
//
// Version 1: SK hashes K, K_GWN and public fields, so the thief gets SK, and with it the
// session. Version 2: SK also hashes Z = g^(ab); a and b were erased, and no long-term key
// gives Z (computing it from A and B is the Diffie–Hellman problem). The thief can only guess:
// it tries v1's formula over the v2 fields and v2's formula with Z replaced by 1, A, B and
// A·B. None may open the GROUP_KEY.

/// What a thief with both long-term keys got out of one recorded handshake.
struct TheftOutcome {
    /// 1 or 2.
    let version: Int
    /// Of `K`, `K_GWN`, `SK`, in that order.
    let recovered: [String]
    /// The epochs of the GROUP_KEYs the thief's key opened (empty: none opened).
    let openedEpochs: [UInt64]
    /// Broadcasts on the recording the group keys it opened open.
    let broadcastsOpened: Int
    /// Session keys tried.
    let guesses: Int
    /// The control: the traffic keys the harness derived for this session (for v2 as an
    /// insider, from a and b) open the same GROUP_KEY. Nil when the harness has none.
    var controlOpens: Bool?
}

extension Simulation {
    /// The values a `keyTheft` expectation may name.
    static let theftValues = ["K", "K_GWN", "SK"]

    func checkKeyTheft(patient: String, recovers: [String], opensSession: Bool) -> (Bool, String) {
        let outcome: TheftOutcome
        switch stealKeys(patient: patient) {
        case let .success(value): outcome = value
        case let .failure(problem): return (false, problem.message)
        }
        let opened = !outcome.openedEpochs.isEmpty
        // A thief that opens nothing proves something only if the frame can be opened at all:
        // the harness's own key for the session must open it.
        if outcome.controlOpens == false || (!opened && outcome.controlOpens == nil) {
            return (false, "control failed: the harness's own session key does not open \(patient)'s GROUP_KEY either")
        }
        let passed = Set(outcome.recovered) == Set(recovers) && opened == opensSession
        if passed, outcome.version == 2, !opened { rulesExercised.insert(.forwardSecrecy) }
        let thief = "a thief with x_i of \(patient), x_GWN and the recording of its version-\(outcome.version) handshake"
        let got = "recovers " + (outcome.recovered.isEmpty ? "nothing" : outcome.recovered.joined(separator: ", "))
        let verdict: String
        if opened {
            let epochs = outcome.openedEpochs.map(String.init).joined(separator: ", ")
            verdict = "its SK opens \(patient)'s GROUP_KEY frames: GK of epoch(s) \(epochs) and \(outcome.broadcastsOpened) recorded "
                + "broadcast(s) are exposed" + (outcome.version == 1 ? " (version 1 is not forward-secret against both keys)" : "")
        } else {
            verdict = "not SK: it needs Z = g^(ab), whose a and b were erased; none of its \(outcome.guesses) guesses opens "
                + "\(patient)'s GROUP_KEY, which the real SK opens"
        }
        let expected = "expected recovers [\(recovers.joined(separator: ", "))], opensSession \(opensSession)"
        return (passed, "\(thief) \(got); \(verdict)" + (passed ? "" : " — \(expected)"))
    }

    struct TheftProblem: Error { let message: String }

    /// Plays the thief on `patient`'s latest recorded handshake that reached a GROUP_KEY.
    func stealKeys(patient: String) -> Result<TheftOutcome, TheftProblem> {
        if !pendingRecoveries.isEmpty { flushRecoveries() }
        // The latest flow of this patient with a GROUP_KEY on the recording.
        var chosen: (flow: Flow, frames: [WireFrame])?
        var byFlow: [ObjectIdentifier: (flow: Flow, frames: [WireFrame])] = [:]
        for frame in wiretap.frames where frame.flow.patientID == patient {
            byFlow[ObjectIdentifier(frame.flow), default: (frame.flow, [])].frames.append(frame)
        }
        for entry in byFlow.values where entry.frames.contains(where: { !$0.towardsDoctor && $0.opcode == .groupKey }) {
            if chosen.map({ entry.flow.client > $0.flow.client }) ?? true { chosen = entry }
        }
        guard let (flow, frames) = chosen else {
            return .failure(TheftProblem(message: "the recording holds no handshake of \(patient) that reached a GROUP_KEY"))
        }
        let messages = frames.map { frame in (frame, try? codec.decode(frame.body)) }
        let groupKeys = messages.compactMap { item -> GroupKeyMessage? in
            if case let .groupKey(message)? = item.1, !item.0.towardsDoctor { return message }
            return nil
        }
        guard let groupKey = groupKeys.first else {
            return .failure(TheftProblem(message: "\(patient)'s GROUP_KEY does not decode"))
        }
        let broadcasts = messages.compactMap { item -> BroadcastMessage? in
            if case let .encMsg(message)? = item.1, !item.0.towardsDoctor { return message }
            return nil
        }
        // The stolen keys: the doctor's, and the patient key the doctor sealed K_GWN to.
        let patientKeys = [doctor.machine.enrolledKey(of: (try? PeerID(patient)) ?? keys.doctorID).flatMap(privateKey(matching:)),
                           flow.deviceKey, keys.patientKeys[patient]].compactMap { $0 }
        var control: Bool?
        if let traffic = flow.trafficKeys, let idI = flow.sessionPatient {
            let aad = AssociatedData.groupKey(idGWN: keys.doctorID, idI: idI, epoch: groupKey.epoch, seq: groupKey.seq,
                                              members: groupKey.members)
            var opening = OpeningKey(traffic.doctorToPatient)
            control = (try? opening.openGroupKey(groupKey.ct, seq: groupKey.seq, aad: aad)) != nil
        }
        for item in messages where item.0.towardsDoctor {
            var outcome: TheftOutcome
            switch item.1 {
            case let .keyVerification(request)?:
                guard let token = answer(to: request.rnI, in: messages, v2: false)?.v1 else { continue }
                outcome = theftV1(request, token, patientKeys: patientKeys, groupKeys: groupKeys, broadcasts: broadcasts)
            case let .keyVerificationV2(request)?:
                guard let token = answer(to: request.rnI, in: messages, v2: true)?.v2 else { continue }
                outcome = theftV2(request, token, patientKeys: patientKeys, groupKeys: groupKeys, broadcasts: broadcasts)
            default:
                continue
            }
            outcome.controlOpens = control
            return .success(outcome)
        }
        return .failure(TheftProblem(message: "the recording of \(patient)'s session holds no answered request"))
    }

    private func answer(to rnI: Bytes32, in messages: [(WireFrame, Message?)], v2: Bool)
        -> (v1: SessionToken?, v2: SessionTokenV2?)? {
        for item in messages where !item.0.towardsDoctor {
            switch item.1 {
            case let .sessionToken(token)? where !v2 && token.rnI == rnI: return (token, nil)
            case let .sessionTokenV2(token)? where v2 && token.rnI == rnI: return (nil, token)
            default: continue
            }
        }
        return nil
    }

    /// ElGamal decryption with a stolen key, as L bytes (nil: that key does not open it).
    private func stolenDecrypt(_ c1: ElementBytes, _ c2: ElementBytes, with key: PrivateKey) -> [UInt8]? {
        guard let ciphertext = try? ElGamalCiphertext(group: keys.group, c1Bytes: c1.bytes, c2Bytes: c2.bytes),
              let element = try? key.decrypt(ciphertext) else { return nil }
        return keys.group.encodeElement(element)
    }

    /// The epochs of the GROUP_KEYs `sessionKey`'s k_d2p opens, and how many recorded
    /// broadcasts the group keys in them open (nil: it opens none).
    private func tryOpen(_ sessionKey: SessionKey, idI: PeerID, groupKeys: [GroupKeyMessage],
                         broadcasts: [BroadcastMessage]) -> (epochs: [UInt64], broadcasts: Int)? {
        let traffic = KeySchedule.trafficKeys(sessionKey: sessionKey)
        var epochs: [UInt64] = []
        var held: [GroupKey] = []
        for message in groupKeys {
            let aad = AssociatedData.groupKey(idGWN: keys.doctorID, idI: idI, epoch: message.epoch, seq: message.seq,
                                              members: message.members)
            // A fresh opening key per frame (the nonce check is per key).
            var opening = OpeningKey(traffic.doctorToPatient)
            guard let key = try? opening.openGroupKey(message.ct, seq: message.seq, aad: aad) else { continue }
            epochs.append(message.epoch)
            held.append(key)
        }
        guard !epochs.isEmpty else { return nil }
        return (epochs, broadcasts.filter { broadcast in held.contains { opens(broadcast, with: $0) } }.count)
    }

    private func theftV1(_ request: KeyVerification, _ token: SessionToken, patientKeys: [PrivateKey],
                         groupKeys: [GroupKeyMessage], broadcasts: [BroadcastMessage]) -> TheftOutcome {
        let k = stolenDecrypt(request.c1, request.c2, with: keys.doctorKey)
        let kGWN = patientKeys.lazy.compactMap { self.stolenDecrypt(token.c1, token.c2, with: $0) }.first
        var recovered: [String] = (k == nil ? [] : ["K"]) + (kGWN == nil ? [] : ["K_GWN"])
        var opened: (epochs: [UInt64], broadcasts: Int)?
        if let k, let kGWN {
            let sessionKey = KeySchedule.sessionKey(KeySchedule.HandshakeTranscript(
                patientElement: k, doctorElement: kGWN, tsI: request.tsI, tsGWN: token.tsGWN, rnI: request.rnI,
                rnGWN: token.rnGWN, idI: token.idI, idGWN: token.idGWN))
            opened = tryOpen(sessionKey, idI: token.idI, groupKeys: groupKeys, broadcasts: broadcasts)
            if opened != nil { recovered.append("SK") }
        }
        return TheftOutcome(version: 1, recovered: recovered, openedEpochs: opened?.epochs ?? [],
                            broadcastsOpened: opened?.broadcasts ?? 0, guesses: k != nil && kGWN != nil ? 1 : 0)
    }

    private func theftV2(_ request: KeyVerificationV2, _ token: SessionTokenV2, patientKeys: [PrivateKey],
                         groupKeys: [GroupKeyMessage], broadcasts: [BroadcastMessage]) -> TheftOutcome {
        let group = keys.group
        let k = stolenDecrypt(request.c1, request.c2, with: keys.doctorKey)
        let kGWN = patientKeys.lazy.compactMap { self.stolenDecrypt(token.c1, token.c2, with: $0) }.first
        var recovered: [String] = (k == nil ? [] : ["K"]) + (kGWN == nil ? [] : ["K_GWN"])
        guard let k, let kGWN else {
            return TheftOutcome(version: 2, recovered: recovered, openedEpochs: [], broadcastsOpened: 0, guesses: 0)
        }
        // Everything public the thief has: both digests, both shares.
        let requestDigest = Hashing.sha256(SignedBytes.keyVerificationV2(request))
        let answerDigest = Hashing.sha256(SignedBytes.sessionTokenV2(token, requestDigest: requestDigest))
        let a = BigInt(bigEndian: request.dhI.bytes)
        let b = BigInt(bigEndian: token.dhGWN.bytes)
        var guesses: [SessionKey] = [KeySchedule.sessionKey(KeySchedule.HandshakeTranscript(
            patientElement: k, doctorElement: kGWN, tsI: request.tsI, tsGWN: token.tsGWN, rnI: request.rnI,
            rnGWN: token.rnGWN, idI: token.idI, idGWN: token.idGWN))]
        for z in [BigInt.one, a, b, a.multipliedMod(b, group.p)] {
            guesses.append(KeySchedule.sessionKeyV2(
                patientElement: ElementSecret(BigInt(bigEndian: k), in: group),
                doctorElement: ElementSecret(BigInt(bigEndian: kGWN), in: group),
                shared: ElementSecret(z, in: group), requestDigest: requestDigest, answerDigest: answerDigest))
        }
        for guess in guesses {
            if let opened = tryOpen(guess, idI: token.idI, groupKeys: groupKeys, broadcasts: broadcasts) {
                recovered.append("SK")
                return TheftOutcome(version: 2, recovered: recovered, openedEpochs: opened.epochs, broadcastsOpened: opened.broadcasts,
                                    guesses: guesses.count)
            }
        }
        return TheftOutcome(version: 2, recovered: recovered, openedEpochs: [], broadcastsOpened: 0, guesses: guesses.count)
    }
}
