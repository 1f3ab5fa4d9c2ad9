import TelemedBigInt
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
    }

    let flow: Flow
    let kind: Kind
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
        case let .keyVerification(request) where frame.towardsDoctor:
            queueRecovery(PendingRecovery(flow: frame.flow, kind: .request(request, cacheKey: request.c1.bytes + request.c2.bytes)))
        case let .sessionToken(token) where !frame.towardsDoctor:
            window.sessionTokens += 1
            let key = doctor.machine.enrolledKey(of: token.idI).flatMap(privateKey(matching:)) ?? keys.patientKeys[token.idI.value]
            queueRecovery(PendingRecovery(flow: frame.flow, kind: .token(token, key: key)))
        case .sessionTokenV2 where !frame.towardsDoctor:
            // Version 2: the harness holds every long-term key and so recovers K and K_GWN,
            // but never Z (PROTOCOL.md §8.10, attack 30), so it cannot derive this session's SK:
            // nothing of it is queued for recovery.
            window.sessionTokens += 1
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
        var jobs: [DecryptionJob] = []
        var requestJob: [[UInt8]: Int] = [:]
        var tokenJob: [Int: Int] = [:]
        for (position, item) in items.enumerated() {
            switch item.kind {
            case let .request(request, cacheKey):
                guard decryptedRequests[cacheKey] == nil, requestJob[cacheKey] == nil else { continue }
                requestJob[cacheKey] = jobs.count
                jobs.append(DecryptionJob(key: keys.doctorKey, c1: request.c1.bytes, c2: request.c2.bytes,
                                          checked: item.flow.patientID == nil))
            case let .token(token, key):
                guard let key else { continue }
                tokenJob[position] = jobs.count
                jobs.append(DecryptionJob(key: key, c1: token.c1.bytes, c2: token.c2.bytes, checked: false))
            }
        }
        let group = keys.group
        let elements = parallel.map(jobs) { job in job.run(in: group) }
        var learned = SecretBook()
        for (position, item) in items.enumerated() {
            item.flow.recoveriesQueued -= 1
            switch item.kind {
            case let .request(request, cacheKey):
                let bytes: [UInt8]
                if let cached = decryptedRequests[cacheKey] {
                    bytes = cached
                } else {
                    guard let job = requestJob[cacheKey], let element = elements[job] else { continue }
                    bytes = element
                    if decryptedRequests.count < 100_000 { decryptedRequests[cacheKey] = bytes }
                }
                applyRequest(request, element: bytes, on: item.flow, learned: &learned)
            case let .token(token, _):
                applyToken(token, element: tokenJob[position].flatMap { elements[$0] }, on: item.flow, learned: &learned)
            }
        }
        rescanTrace(from: recoveryTraceMark, learned: learned)
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
        let transcript = KeySchedule.HandshakeTranscript(
            patientElement: requestElement, doctorElement: doctorElement, tsI: request.tsI, tsGWN: token.tsGWN,
            rnI: request.rnI, rnGWN: token.rnGWN, idI: token.idI, idGWN: token.idGWN)
        let sessionKey = KeySchedule.sessionKey(transcript)
        let traffic = KeySchedule.trafficKeys(sessionKey: sessionKey)
        learn(sessionKey.withUnsafeBytes { Array($0) }, "SK of \(token.idI)", &learned)
        learn(traffic.doctorToPatient.withUnsafeBytes { Array($0) }, "k_d2p of \(token.idI)", &learned)
        learn(traffic.patientToDoctor.withUnsafeBytes { Array($0) }, "k_p2d of \(token.idI)", &learned)
        flow.trafficKeys = traffic
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
