import TelemedBigInt
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport

// MARK: - Key recovery from the wire
//
// The harness holds every private key, so from the frames alone it can recompute what each
// side derived: K (the doctor's decryption of a request), K_GWN (the patient's decryption of
// the answer), SK, the traffic keys, and every GK_e sent to a patient. These feed the secret
// scan (R-NOLEAK) and the cryptographic invariant that nobody can open a broadcast of an
// epoch they were not a member of (R-EPOCH).
//
// Version 2 (PROTOCOL.md §8): the long-term keys give K and K_GWN, never Z, so from the wire
// alone the harness could not derive a v2 SK (which is attack 30, Simulation+KeyTheft.swift).
// It derives it anyway as an insider: it rebuilds the ephemerals a and b from the randomness
// it supplied the machines (DrawRecorder.swift), hence Z = A^b, SK, the traffic keys and every
// GK_e. Everything learned that way is labelled "insider" in the SecretBook, and scanned for
// like every other secret (R-NOLEAK, R-FS).

// The two decryptions per handshake (the request's K with the doctor's key, the answer's K_GWN
// with the patient's) are the harness's main cost in a login storm. They are queued as the
// frames are noticed and run in batches on every core (``ParallelMap``); the results are then
// applied one by one in the order the frames were noticed, exactly as if each had been
// decrypted on the spot. A batch is flushed before anything reads what it recovers: before a
// GROUP_KEY of a flow with recoveries queued is opened, before a step's expectations and
// invariants, before the final scan, and whenever 4,096 are queued. The trace lines written
// while a batch was queued are scanned again against the secrets the batch taught, so the
// per-line R-NOLEAK check misses nothing (the whole-trace scan at the end runs as before).

/// A decryption the harness still owes: the request of a KEY_VERIFICATION or the answer of a
/// SESSION_TOKEN, noticed on `flow`.
struct PendingRecovery {
    enum Kind {
        case request(KeyVerification, cacheKey: [UInt8])
        /// `key` is the patient's private key as the doctor's registry named it when the token
        /// was noticed (nil: the harness holds none).
        case token(SessionToken, key: PrivateKey?)
        /// A v2 request, and the search for its a when a device of the harness drew it.
        case requestV2(KeyVerificationV2, cacheKey: [UInt8], search: EphemeralSearch?)
        /// A v2 answer, and the search for its b (with Z = A^b) in the doctor job's draws.
        case tokenV2(SessionTokenV2, key: PrivateKey?, search: EphemeralSearch?)
    }

    let flow: Flow
    let kind: Kind
}

/// One piece of the harness's own crypto for ``ParallelMap``.
private enum HarnessJob: Sendable {
    case decrypt(DecryptionJob)
    case ephemeral(EphemeralSearch)
}

private enum HarnessResult: Sendable {
    case element([UInt8]?)
    case ephemeral(FoundEphemeral?)

    var element: [UInt8]? {
        if case let .element(bytes) = self { return bytes }
        return nil
    }

    var ephemeral: FoundEphemeral? {
        if case let .ephemeral(found) = self { return found }
        return nil
    }
}

/// One decryption for ``ParallelMap``.
private struct DecryptionJob: Sendable {
    let key: PrivateKey
    let c1: [UInt8]
    let c2: [UInt8]
    /// False for a ciphertext one of the harness's honest nodes built (a patient session's
    /// request, the doctor's answer): its receiver's node checks c1 and c2 (R-ELEM), so the
    /// harness only computes M = c2 · c1^(q − x) for its own recovery, with a public-exponent
    /// power (the harness has no timing to hide). That skips two subgroup checks and the
    /// constant-time power: two thirds of the work, and M is the same whenever the elements are
    /// valid. True for anything an attacker sent: `PrivateKey.decrypt`, checks included, so that
    /// a bad element yields nothing, as before.
    let checked: Bool

    func run(in group: TelemedGroup) -> [UInt8]? {
        guard let ciphertext = try? ElGamalCiphertext(group: group, c1Bytes: c1, c2Bytes: c2) else { return nil }
        if checked {
            guard let element = try? key.decrypt(ciphertext) else { return nil }
            return group.encodeElement(element)
        }
        let x = BigInt(bigEndian: key.scalarBytes)
        let (c1, c2, p) = (ciphertext.c1, ciphertext.c2, group.p)
        guard (c1 > .one) && (c1 < p) && (c2 > .one) && (c2 < p) else { return nil }
        let element = c2.multipliedMod(c1.powMod(group.q - x, p), p)
        guard (element > .one) && (element < p - .one) else { return nil }
        return group.encodeElement(element)
    }
}

extension Simulation {
    /// The most decryptions queued before a batch is flushed.
    static let recoveryBatchLimit = 4_096

    func recover(_ message: Message, in frame: WireFrame) {
        switch message {
        case let .sessionToken(token) where !frame.towardsDoctor:
            window.sessionTokens += 1
            let key = doctor.machine.enrolledKey(of: token.idI).flatMap(privateKey(matching:)) ?? keys.patientKeys[token.idI.value]
            queueRecovery(PendingRecovery(flow: frame.flow, kind: .token(token, key: key)))
        case let .keyVerification(request) where frame.towardsDoctor:
            frame.flow.patientDraws?.close()
            queueRecovery(PendingRecovery(flow: frame.flow, kind: .request(request, cacheKey: request.c1.bytes + request.c2.bytes)))
        case let .keyVerificationV2(request) where frame.towardsDoctor:
            queueRecovery(PendingRecovery(flow: frame.flow, kind: .requestV2(request, cacheKey: request.c1.bytes + request.c2.bytes,
                                                                             search: patientSearch(request, on: frame.flow))))
        case let .sessionTokenV2(token) where !frame.towardsDoctor:
            // Version 2: K_GWN with the patient's key as for v1; Z and SK only as an insider.
            window.sessionTokens += 1
            checkShareIsFresh(token, in: frame)
            let key = doctor.machine.enrolledKey(of: token.idI).flatMap(privateKey(matching:)) ?? keys.patientKeys[token.idI.value]
            queueRecovery(PendingRecovery(flow: frame.flow, kind: .tokenV2(token, key: key, search: doctorSearch(token, on: frame.flow))))
        case let .groupKey(groupKey) where !frame.towardsDoctor:
            if frame.flow.recoveriesQueued > 0 { flushRecoveries() }
            recoverGroupKey(groupKey, on: frame.flow)
        case let .encMsg(broadcast) where !frame.towardsDoctor:
            recordBroadcast(broadcast, run: frame.flow.run)
        default:
            break
        }
    }

    private func queueRecovery(_ item: PendingRecovery) {
        if pendingRecoveries.isEmpty { recoveryTraceMark = trace.lines.count }
        item.flow.recoveriesQueued += 1
        pendingRecoveries.append(item)
        if pendingRecoveries.count >= Simulation.recoveryBatchLimit { flushRecoveries() }
    }

    /// Runs every queued decryption (on every core), applies the results in the order the
    /// frames were noticed, and scans the trace lines written meanwhile for the new secrets.
    func flushRecoveries() {
        guard !pendingRecoveries.isEmpty else { return }
        let items = pendingRecoveries
        pendingRecoveries = []
        // Each distinct request ciphertext is decrypted once (a replayed or flooded one is cached).
        var jobs: [HarnessJob] = []
        var requestJob: [[UInt8]: Int] = [:]
        var tokenJob: [Int: Int] = [:]
        var searchJob: [Int: Int] = [:]
        func queueRequest(_ c1: ElementBytes, _ c2: ElementBytes, cacheKey: [UInt8], flow: Flow) {
            guard decryptedRequests[cacheKey] == nil, requestJob[cacheKey] == nil else { return }
            requestJob[cacheKey] = jobs.count
            jobs.append(.decrypt(DecryptionJob(key: keys.doctorKey, c1: c1.bytes, c2: c2.bytes, checked: flow.patientID == nil)))
        }
        func queueToken(_ c1: ElementBytes, _ c2: ElementBytes, key: PrivateKey?, position: Int) {
            guard let key else { return }
            tokenJob[position] = jobs.count
            jobs.append(.decrypt(DecryptionJob(key: key, c1: c1.bytes, c2: c2.bytes, checked: false)))
        }
        func queueSearch(_ search: EphemeralSearch?, position: Int) {
            guard let search else { return }
            searchJob[position] = jobs.count
            jobs.append(.ephemeral(search))
        }
        for (position, item) in items.enumerated() {
            switch item.kind {
            case let .request(request, cacheKey):
                queueRequest(request.c1, request.c2, cacheKey: cacheKey, flow: item.flow)
            case let .token(token, key):
                queueToken(token.c1, token.c2, key: key, position: position)
            case let .requestV2(request, cacheKey, search):
                queueRequest(request.c1, request.c2, cacheKey: cacheKey, flow: item.flow)
                queueSearch(search, position: position)
            case let .tokenV2(token, key, search):
                queueToken(token.c1, token.c2, key: key, position: position)
                queueSearch(search, position: position)
            }
        }
        let group = keys.group
        let results = parallel.map(jobs) { job -> HarnessResult in
            switch job {
            case let .decrypt(decryption): return .element(decryption.run(in: group))
            case let .ephemeral(search): return .ephemeral(search.run())
            }
        }
        func requestElement(_ cacheKey: [UInt8]) -> [UInt8]? {
            if let cached = decryptedRequests[cacheKey] { return cached }
            guard let job = requestJob[cacheKey], let element = results[job].element else { return nil }
            if decryptedRequests.count < 100_000 { decryptedRequests[cacheKey] = element }
            return element
        }
        var learned = SecretBook()
        for (position, item) in items.enumerated() {
            item.flow.recoveriesQueued -= 1
            let found = searchJob[position].flatMap { results[$0].ephemeral }
            switch item.kind {
            case let .request(request, cacheKey):
                guard let bytes = requestElement(cacheKey) else { continue }
                applyRequest(request, element: bytes, on: item.flow, learned: &learned)
            case let .token(token, _):
                applyToken(token, element: tokenJob[position].flatMap { results[$0].element }, on: item.flow, learned: &learned)
            case let .requestV2(request, cacheKey, _):
                guard let bytes = requestElement(cacheKey) else { continue }
                applyRequestV2(request, element: bytes, ephemeral: found, on: item.flow, learned: &learned)
            case let .tokenV2(token, _, _):
                applyTokenV2(token, element: tokenJob[position].flatMap { results[$0].element }, ephemeral: found,
                             on: item.flow, learned: &learned)
            }
        }
        rescanTrace(from: recoveryTraceMark, learned: learned)
    }

    // MARK: - Version 2

    /// The search for a patient device's a: its recorded draws, its key and h_a. Nil for an
    /// attacker's request (the harness did not draw its a) or a request the device did not make.
    private func patientSearch(_ request: KeyVerificationV2, on flow: Flow) -> EphemeralSearch? {
        guard let draws = flow.patientDraws, let key = flow.deviceKey, flow.patientID == request.idI.value else { return nil }
        let words = draws.words
        draws.close()
        let context = KeySchedule.patientEphemeralContext(group: request.group, idI: request.idI, idGWN: request.idGWN,
                                                          tsI: request.tsI, rnI: request.rnI)
        return EphemeralSearch(key: key, context: context, words: words, precededBy: request.rnI.bytes,
                               share: request.dhI.bytes, peerShare: nil)
    }

    /// The search for the doctor's b in the draws of the job that answered on this flow; Z with
    /// the flow's request's A.
    private func doctorSearch(_ token: SessionTokenV2, on flow: Flow) -> EphemeralSearch? {
        guard let words = doctorDraws.removeValue(forKey: flow.server.rawValue),
              let request = flow.requestV2 ?? pendingRequestV2(on: flow), request.rnI == token.rnI else { return nil }
        let context = KeySchedule.doctorEphemeralContext(group: token.group, idGWN: token.idGWN, idI: token.idI,
                                                         tsGWN: token.tsGWN, rnGWN: token.rnGWN,
                                                         requestDigest: Hashing.sha256(SignedBytes.keyVerificationV2(request)))
        return EphemeralSearch(key: keys.doctorKey, context: context, words: words, precededBy: token.rnGWN.bytes,
                               share: token.dhGWN.bytes, peerShare: request.dhI.bytes)
    }

    /// The v2 request of this flow still waiting in the batch (its K not applied yet).
    private func pendingRequestV2(on flow: Flow) -> KeyVerificationV2? {
        for item in pendingRecoveries where item.flow === flow {
            if case let .requestV2(request, _, _) = item.kind { return request }
        }
        return nil
    }

    /// R-FS: the doctor never sends one dh_gwn in two answers. A copy of one answer (a network
    /// duplicate) is the same answer; bounded at a million answers.
    private func checkShareIsFresh(_ token: SessionTokenV2, in frame: WireFrame) {
        let body = Hashing.sha256(frame.body)
        if let earlier = sentShares[token.dhGWN.bytes] {
            if earlier != body {
                violations.append("R-FS: the doctor sent one dh_gwn in two different answers (the second on conn \(frame.flow.server.rawValue))")
            }
        } else if sentShares.count < 1_000_000 {
            sentShares[token.dhGWN.bytes] = body
        }
    }

    /// Keeps the draws of a doctor job that ran for `connection` (the latest that drew, until a
    /// SESSION_TOKEN(_V2) on that connection takes them). Bounded by the connections in flight.
    func recordJobDraws(_ log: DrawLog, on connection: TelemedProtocol.ConnectionID) {
        guard !log.words.isEmpty else { return }
        if doctorDraws.count >= Simulation.recoveryBatchLimit * 16 { doctorDraws.removeAll() }
        doctorDraws[connection.rawValue] = log.words
    }

    private func applyRequestV2(_ request: KeyVerificationV2, element bytes: [UInt8], ephemeral: FoundEphemeral?,
                                on flow: Flow, learned: inout SecretBook) {
        learn(bytes, "K of \(request.idI)", &learned)
        if let ephemeral { learn(ephemeral.scalar, "a of \(request.idI) (insider: rebuilt from the randomness the harness supplied)", &learned) }
        if flow.requestV2 == nil {
            flow.requestV2 = request
            flow.requestElement = bytes
        }
    }

    private func applyTokenV2(_ token: SessionTokenV2, element: [UInt8]?, ephemeral: FoundEphemeral?, on flow: Flow,
                              learned: inout SecretBook) {
        guard let request = flow.requestV2, let requestElement = flow.requestElement, request.rnI == token.rnI,
              let doctorElement = element else { return }
        learn(doctorElement, "K_GWN for \(token.idI)", &learned)
        flow.tokenV2 = token
        flow.tokenElement = doctorElement
        flow.sessionPatient = token.idI
        guard let ephemeral, let shared = ephemeral.shared else { return }
        learn(ephemeral.scalar, "b for \(token.idI) (insider: rebuilt from the randomness the harness supplied)", &learned)
        learn(shared, "Z of \(token.idI) (insider)", &learned)
        let group = keys.group
        let requestDigest = Hashing.sha256(SignedBytes.keyVerificationV2(request))
        let answerDigest = Hashing.sha256(SignedBytes.sessionTokenV2(token, requestDigest: requestDigest))
        let sessionKey = KeySchedule.sessionKeyV2(
            patientElement: ElementSecret(BigInt(bigEndian: requestElement), in: group),
            doctorElement: ElementSecret(BigInt(bigEndian: doctorElement), in: group),
            shared: ElementSecret(BigInt(bigEndian: shared), in: group),
            requestDigest: requestDigest, answerDigest: answerDigest)
        learnSession(sessionKey, of: token.idI, labelSuffix: " (v2, insider)", on: flow, &learned)
    }

    /// Learns SK and both traffic keys of `id`'s session on `flow` (labels "SK of <id>" …
    /// followed by `labelSuffix`) and keeps the traffic keys for reading its GROUP_KEYs.
    private func learnSession(_ sessionKey: SessionKey, of id: PeerID, labelSuffix: String, on flow: Flow,
                              _ learned: inout SecretBook) {
        let traffic = KeySchedule.trafficKeys(sessionKey: sessionKey)
        learn(sessionKey.withUnsafeBytes { Array($0) }, "SK of \(id)\(labelSuffix)", &learned)
        learn(traffic.doctorToPatient.withUnsafeBytes { Array($0) }, "k_d2p of \(id)\(labelSuffix)", &learned)
        learn(traffic.patientToDoctor.withUnsafeBytes { Array($0) }, "k_p2d of \(id)\(labelSuffix)", &learned)
        flow.trafficKeys = traffic
    }

    /// Adds a secret to the book, and to `learned` when the book did not hold it yet.
    private func learn(_ bytes: [UInt8], _ what: String, _ learned: inout SecretBook) {
        if secrets.add(bytes, what) { learned.add(bytes, what) }
    }

    private func applyRequest(_ request: KeyVerification, element bytes: [UInt8], on flow: Flow,
                              learned: inout SecretBook) {
        learn(bytes, "K of \(request.idI)", &learned)
        if flow.request == nil {
            flow.request = request
            flow.requestElement = bytes
        }
    }

    private func applyToken(_ token: SessionToken, element: [UInt8]?, on flow: Flow, learned: inout SecretBook) {
        guard let request = flow.request, let requestElement = flow.requestElement, request.rnI == token.rnI,
              let doctorElement = element else { return }
        learn(doctorElement, "K_GWN for \(token.idI)", &learned)
        flow.token = token
        flow.tokenElement = doctorElement
        flow.sessionPatient = token.idI
        let transcript = KeySchedule.HandshakeTranscript(
            patientElement: requestElement, doctorElement: doctorElement, tsI: request.tsI, tsGWN: token.tsGWN,
            rnI: request.rnI, rnGWN: token.rnGWN, idI: token.idI, idGWN: token.idGWN)
        learnSession(KeySchedule.sessionKey(transcript), of: token.idI, labelSuffix: "", on: flow, &learned)
    }

    /// The per-line R-NOLEAK check for lines written before `learned` was known.
    private func rescanTrace(from start: Int, learned: SecretBook) {
        guard learned.count > 0, start < trace.lines.count else { return }
        for line in trace.lines[start...] {
            for leak in learned.leaks(in: line) {
                violations.append("R-NOLEAK: \(leak) appears in the trace (\(TraceRecorder.type(of: line)) line)")
            }
        }
    }

    private func recoverGroupKey(_ message: GroupKeyMessage, on flow: Flow) {
        guard let traffic = flow.trafficKeys, let idI = flow.sessionPatient, let patient = flow.patientID else { return }
        let aad = AssociatedData.groupKey(idGWN: keys.doctorID, idI: idI, epoch: message.epoch,
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
