// Handshake jobs in the machine
// =============================
// A KEY_VERIFICATION that passes the checks needing no public-key work (PROTOCOL.md §5 up to
// the replay-cache lookup) makes its connection `verifying` and sends out the signature phase
// of a `HandshakeJob` (HandshakeJob.swift). The machine stays pure and serial: every job's
// result comes back as the input `jobFinished`, and everything that reads or writes state is
// done there, in the order of §5 and §7.7:
//
//   signature result   the request is linearised here: the checks that read state are taken
//                      again, in §5 order, against the state now — source blocked (R-BLOCK),
//                      block table saturated (R-LIMIT), the id's key changed meanwhile (revoked:
//                      R-ID; replaced: R-SIG, the request was checked under the old key), device
//                      blocked (R-BLOCK) — then the signature (R-ID for an id unknown at receipt,
//                      R-SIG), then the atomic check-and-insert of (id_i, rn_i) with the per-id
//                      quota (R-REPLAY, R-LIMIT; a concurrent duplicate whose twin was applied
//                      first fails here, exactly one wins). Counting is §5's and §7.2's: the
//                      failures before the signature verifies count, the blocks and the insert's
//                      refusals do not. Then the answer phase goes out.
//   answer result      c1, c2, K invalid → R-ELEM (not counted); else the SESSION_TOKEN is sent
//                      and the handshake awaits KEY_CONFIRMATION with the job's SK.
//
// Only the time window, the start rule and the checks of the bytes themselves are judged at
// receipt (they read no state but the clock, and a frame is judged by when it arrived, as
// when it waits in a socket buffer). So with `handshakeJobs == .inline`, where each job runs at
// once inside the input with the input's generator, the machine's answers, state and random
// draws are those of the serial machine that does the whole check in one input.
//
// While a job is out, the rest of the world goes on:
//
//   the connection closes, its handshake timer fires, a frame or a refused length prefix
//   arrives on it, or the doctor disconnects everyone (shutdown)
//       The handshake ends at once — REJECTED and close where the connection can still be
//       written, a rejection event naming the rule (R-STATE, R-FRAME) — and is never counted
//       for that end. It is retired: it keeps its pending slot, and when the result comes back
//       the request's own outcome is applied as if the request had been processed before the
//       end: a failure before the signature verified is audited and counted against the source
//       (so closing at once cannot dodge R-SRC), a verified signature enters the replay cache (so
//       the request cannot be replayed for another verification), a refusal after it is audited
//       only. Nothing is sent and no answer phase is run for a retired handshake. This is the
//       serial count: a request that failed would have closed the connection before its end
//       was seen; one that verified would have made the end a verified stage's (not counted).
//   a block lands, the block table saturates, the id is revoked or its key replaced
//       Picked up by the checks of the signature result above (R-BLOCK / R-LIMIT not counted;
//       R-ID / R-SIG counted). During the answer phase the request has already been applied
//       (its signature verified, it is in the replay cache): a block is then checked at
//       KEY_CONFIRMATION (§7.4) as for any pending handshake, and a revocation or key
//       replacement ends the handshake at once (R-ID, not counted), as it ends handshakes
//       awaiting KEY_CONFIRMATION.
//   another handshake of the same id confirms
//       It ends every pending handshake that names the id (§5 "whatever its stage"): those in
//       the answer phase included; a request whose signature is still being checked names no id
//       yet and is unaffected (its result is applied like any later request of the id).
//   a duplicate of the request is verified concurrently
//       Both pass the cache lookup (neither is inserted yet); the first result applied inserts,
//       the second gets R-REPLAY at the insert (not counted): exactly one SESSION_TOKEN.
//   the doctor restarts
//       A new machine knows none of the old jobs; a result it did not emit is ignored, as is
//       any result whose connection no longer waits for that job.

import TelemedCrypto

/// Who runs a doctor's ``HandshakeJob``s (``DoctorMachine/handshakeJobs``).
public enum HandshakeJobExecution: Sendable, Equatable {
    /// The machine runs each job itself, at once, inside the input that needs it, with that
    /// input's generator: one KEY_VERIFICATION in, its whole answer out. The same job code as
    /// `.byHost`, for embedders without a pool (tests, tools).
    case inline
    /// The machine emits ``DoctorAction/verify(_:)``; the host runs the job (on any thread, for
    /// instance one of a pool sized to the cores) and feeds its result back with
    /// ``DoctorMachine/jobFinished(_:now:using:)``.
    case byHost
}

extension DoctorMachine {
    // MARK: - Dispatch

    /// The next job number.
    mutating func takeJobNumber() -> UInt64 {
        defer { nextJobNumber &+= 1 }
        return nextJobNumber
    }

    /// Runs `job` at once (inline) or hands it to the host.
    mutating func dispatch(_ job: HandshakeJob, now: Instant,
                           using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        switch handshakeJobs {
        case .inline: return jobFinished(job.run(using: &rng), now: now, using: &rng)
        case .byHost: return [.verify(job)]
        }
    }

    // MARK: - Results

    /// A ``HandshakeJob`` this machine emitted has run (see the theory of operation above for
    /// what is checked and what happens when the connection, a block or the registry changed
    /// meanwhile). A result that no connection waits for (an old machine's, a repeated one) is
    /// ignored and changes nothing.
    public mutating func jobFinished(_ result: HandshakeJobResult, now: Instant,
                                     using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        precondition(started, "call start(now:) before feeding the doctor")
        let connection = result.connection
        let verifying: Verifying
        let live: Bool
        if case let .verifying(waiting)? = table.handshakes[connection], waiting.job == result.number,
           waiting.phase == result.phase {
            _ = table.concludeVerification(connection)
            (verifying, live) = (waiting, true)
        } else if let waiting = table.retired[connection], waiting.job == result.number, waiting.phase == result.phase {
            _ = table.releaseRetired(connection)
            (verifying, live) = (waiting, false)
        } else {
            return []
        }
        let purged = policy.purgeExpired(now: now.wall).map(DoctorAction.persist)
        let id = verifying.request.idI
        switch result.outcome {
        case let .signature(valid):
            return purged + signatureChecked(valid, verifying, on: connection, live: live, now: now, using: &rng)
        case .elementsInvalid:
            // §7.7: the request is in the replay cache already; a bad element is not counted.
            return purged + refuse(Refusal(.element, "c1, c2 or K is not a valid group element", id, counts: false),
                                   verifying, on: connection, live: live, now: now, using: &rng)
        case let .shareInvalid(defect):
            // §8.5, §8.7: like c1 or c2, not counted and not a device block; the audit names
            // the test that failed (an enrolled device sending a bad share is broken or worse).
            let test = defect == .range ? "range 1 < A < p − 1" : "subgroup A^q ≡ 1"
            return purged + refuse(Refusal(.element, "dh_i fails the \(test) check", id, counts: false),
                                   verifying, on: connection, live: live, now: now, using: &rng)
        case let .answered(frame, sessionKey):
            guard live else { return purged }
            table.verifyHandshake(connection, Verified(source: verifying.source, patient: id, sessionKey: sessionKey,
                                                       version: verifying.version))
            return purged + [.send(connection, frame)]
        }
    }

    /// The signature phase's result, applied at the request's linearisation point.
    private mutating func signatureChecked(_ valid: Bool, _ verifying: Verifying, on connection: ConnectionID, live: Bool,
                                           now: Instant, using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        let request = verifying.request
        let id = request.idI
        do throws(Refusal) {
            if let until = policy.sourceBlockExpiry(verifying.source, now: now.wall) {
                throw Refusal(.block, "source blocked until \(until) while the request was verified", id, counts: false)
            }
            if policy.refusesUnauthenticated(from: verifying.source) {
                throw Refusal(.limit, "source-block table saturated while the request was verified", id, counts: false)
            }
            let current = registry[id]
            if let checked = verifying.patientKey, current != checked {
                if current == nil { throw Refusal(.identity, "patient revoked while its request was verified", id) }
                throw Refusal(.signature, "the patient's key was replaced while its request was verified", id)
            }
            let device = DeviceKey(patient: id, source: verifying.source)
            if let until = policy.deviceBlockExpiry(device, now: now.wall) {
                throw Refusal(.block, "device \(device) blocked until \(until) while the request was verified", id,
                              counts: fault == .countDeviceBlockedRequest)
            }
            guard let patientKey = verifying.patientKey else { throw Refusal(.identity, "unknown patient id", id) }
            guard valid else { throw Refusal(.signature, "signature does not verify under the enrolled key", id) }
            // §7.7 and §7.3: a verified request enters the replay cache at once, before its
            // elements are looked at, so a signed request with bad elements cannot be replayed
            // to make the doctor verify it again. None of these refusals counts.
            switch fault == .skipReplayInsert ? .inserted : replay.insert(id, request.rnI, now: now.monotonic) {
            case .inserted: break
            case .duplicate:
                throw Refusal(.replay, "concurrent duplicate of (id, rn)", id, counts: false)
            case .quotaExceeded:
                throw Refusal(.limit, "replay-cache quota of this id full (\(configuration.replayQuotaPerID) live entries)",
                              id, counts: false)
            case .full:
                throw Refusal(.limit, "replay cache full", id, counts: false)
            }
            // A retired handshake's request is now applied; nobody waits for an answer.
            guard live else { return [] }
            let answering = Verifying(source: verifying.source, request: request, share: verifying.share, patientKey: patientKey,
                                      job: takeJobNumber(), phase: .answer)
            table.beginVerification(connection, answering)
            let job = HandshakeJob(connection: connection, number: answering.job, work: .answer(
                HandshakeJob.AnswerWork(request: request, share: verifying.share, patientKey: patientKey, doctorKey: privateKey,
                                        identity: identity, tsGWN: now.wall, codec: codec)))
            return dispatch(job, now: now, using: &rng)
        } catch {
            return refuse(error, verifying, on: connection, live: live, now: now, using: &rng)
        }
    }

    /// Applies a refusal of a request: REJECTED and close on a live connection; on a retired
    /// one only the audit and the count (the connection already ended).
    private mutating func refuse(_ refusal: Refusal, _ verifying: Verifying, on connection: ConnectionID, live: Bool,
                                 now: Instant, using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        if live {
            return reject(connection, .awaitingRequest(Accepted(source: verifying.source)), refusal.rule, refusal.reason,
                          patient: refusal.patient, counts: refusal.counts, now: now, using: &rng)
        }
        var actions: [DoctorAction] = [.event(.rejected(connection, source: verifying.source, rule: refusal.rule,
                                                        reason: refusal.reason + " (the connection had ended)",
                                                        patient: refusal.patient))]
        if refusal.counts { actions += countFailure(verifying.source, now: now) }
        return actions
    }

    // MARK: - Introspection

    /// Handshakes waiting for a job's result: live connections being verified, and retired
    /// ones (ended while verified) that still hold their pending slot.
    public var handshakesAwaitingJobs: Int {
        table.retired.count + table.handshakes.values.lazy.filter {
            if case .verifying = $0 { return true }
            return false
        }.count
    }
}
