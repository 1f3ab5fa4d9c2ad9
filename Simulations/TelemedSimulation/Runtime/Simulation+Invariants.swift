import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport

extension Simulation {
    // MARK: - Invariants, checked after every step

    /// Every invariant violation found since the last call (the incremental ones recorded
    /// while events ran, then the state checks). `settled` is false after a `wait: false`
    /// step, when frames may legitimately still be in flight.
    func checkInvariants(settled: Bool, final: Bool = false) -> [String] {
        var found = violations
        violations = []
        found += sessionsHaveVerifiedRequests()
        found += revokedPatientsHoldNoSession(fresh: final)
        if settled { found += patientsOnCurrentEpoch() + noEpochPending() }
        found += tablesWithinBounds()
        return found
    }

    /// No session without a verified signature: every member's connection carried a
    /// KEY_VERIFICATION for that id that verifies under its enrolled key. A flow is verified
    /// once per id; the verifications still owed (a storm's worth after a login storm) run on
    /// every core and are judged in member order.
    private func sessionsHaveVerifiedRequests() -> [String] {
        struct Owed: Sendable {
            let patient: PeerID
            let key: PublicKey
            let bodies: [[UInt8]]
        }
        var found: [String] = []
        let machine = doctor.machine
        var owed: [(flow: Flow, check: Owed)] = []
        for patient in machine.activePatients {
            guard let connection = machine.connection(of: patient),
                  let flow = flowsByServer[connection.wire] else {
                found.append("invariant: member \(patient) has no connection the harness opened")
                continue
            }
            if flow.verifiedRequestFor == patient { continue }
            guard let key = machine.enrolledKey(of: patient) else {
                found.append("invariant: member \(patient) is not enrolled")
                continue
            }
            owed.append((flow, Owed(patient: patient, key: key, bodies: flow.requestFrames.map { wiretap.frames[$0].body })))
        }
        let codec = codec
        let group = keys.group
        let verdicts = parallel.map(owed.map(\.check)) { check -> Bool in
            check.bodies.contains { body in
                let request: KeyVerification, signed: [UInt8]
                switch try? codec.decode(body) {
                case let .keyVerification(v1)?: (request, signed) = (v1, SignedBytes.keyVerification(v1))
                case let .keyVerificationV2(v2)?: (request, signed) = (v2.commonFields, SignedBytes.keyVerificationV2(v2))
                default: return false
                }
                guard request.idI == check.patient,
                      let signature = try? Signature(group: group, rBytes: request.sigR.bytes, sBytes: request.sigS.bytes)
                else { return false }
                return check.key.isValidSignature(signature, for: signed)
            }
        }
        for ((flow, check), verified) in zip(owed, verdicts) {
            if verified {
                flow.verifiedRequestFor = check.patient
            } else {
                found.append("invariant: member \(check.patient) has a session without a KEY_VERIFICATION verified under its key")
            }
        }
        return found
    }

    /// Revoked ids hold no session: no id the security store lists as revoked is a member, and
    /// the machine's registry is exactly the store's enrolled ids and keys (what it would load
    /// after a restart).
    ///
    /// Reading the store's registry decodes and checks every public key (about 0.3 ms each: three
    /// seconds at 10,000 patients), so the rows are read again only after a step that writes the
    /// registry (`enroll`, `revoke`), when the check against the last reading fails (it is then
    /// repeated on a fresh reading before anything is reported), and always for the check at the
    /// end of the scenario (`fresh`). A restarted doctor loads its registry from the store, so a
    /// restart that changed the store shows as a mismatch and a fresh reading. Production code
    /// writes the registry only in enroll, revoke and the first start's import; a write anywhere
    /// else would still be found, at the end at the latest.
    private func revokedPatientsHoldNoSession(fresh: Bool) -> [String] {
        if !fresh, !registryChanged, let rows = storedRegistry {
            let found = registryProblems(rows)
            if found.isEmpty { return found }
        }
        let rows: [EnrolledPatient]
        do {
            rows = try store.patients()
        } catch {
            return ["invariant: the registry could not be read: \(error)"]
        }
        storedRegistry = rows
        registryChanged = false
        return registryProblems(rows)
    }

    private func registryProblems(_ rows: [EnrolledPatient]) -> [String] {
        let machine = doctor.machine
        var found: [String] = []
        for row in rows where row.status == .revoked && machine.connection(of: row.id) != nil {
            found.append("invariant: \(row.id) is revoked but holds a session")
        }
        let stored = rows.filter { $0.status == .enrolled }.map(\.id)
        if stored != machine.enrolledPatients {
            found.append("invariant: the doctor's registry [\(Simulation.nameList(machine.enrolledPatients.map(\.value)))]"
                + " differs from the store's [\(Simulation.nameList(stored.map(\.value)))]")
        }
        for row in rows where row.status == .enrolled && machine.enrolledKey(of: row.id) != row.publicKey {
            found.append("invariant: \(row.id)'s enrolled key differs between the doctor and the store")
        }
        return found
    }

    /// Every active patient is a member on the doctor's current epoch and holds the same GK.
    private func patientsOnCurrentEpoch() -> [String] {
        var found: [String] = []
        let machine = doctor.machine
        for (client, session) in sessions.sorted(by: { $0.key < $1.key }) where session.node.machine.isActive {
            let patient = session.patient
            guard let id = try? PeerID(patient), let connection = machine.connection(of: id),
                  connection.wire == session.flow.server else {
                found.append("invariant: \(patient) (conn \(client.rawValue)) is active but not the doctor's member on that connection")
                continue
            }
            if session.node.machine.epoch != machine.epoch {
                found.append("invariant: \(patient) is on epoch \(session.node.machine.epoch), the doctor on \(machine.epoch)")
            } else if session.node.machine.groupKeyFingerprint != machine.groupKeyFingerprint {
                found.append("invariant: \(patient)'s group key differs from the doctor's in epoch \(machine.epoch)")
            }
        }
        return found
    }

    /// After a settled step the epoch window has ended: no change waits and every member has
    /// been sent the current GROUP_KEY (PROTOCOL.md §7.1).
    private func noEpochPending() -> [String] {
        guard !doctorDown else { return [] }
        let machine = doctor.machine
        var found: [String] = []
        if machine.hasPendingEpoch { found.append("invariant: an epoch is still pending after the step settled") }
        if machine.membersAwaitingGroupKey > 0 {
            found.append("invariant: \(machine.membersAwaitingGroupKey) member(s) never sent a GROUP_KEY")
        }
        return found
    }

    /// Every table of the doctor within its configured bound.
    private func tablesWithinBounds() -> [String] {
        let machine = doctor.machine
        let configuration = scenario.doctorConfiguration
        let state = machine.securityState
        var checks: [(String, Int, Int)] = [
            ("pending handshakes", machine.pendingHandshakes, configuration.pendingTotal),
            ("replay cache", machine.replayCacheCount, configuration.replayCacheCapacity),
            ("active patients", machine.activePatients.count, configuration.maxActivePatients),
            ("source-block table", state.sourceTableCount, configuration.sourceBlockCapacity),
            ("failure counters", state.failures.count, configuration.failureTableCapacity),
            ("device blocks", state.deviceBlocks.count, configuration.deviceBlocksPerPatient * max(1, machine.enrolledPatients.count)),
        ]
        for (source, times) in state.failures.sorted(by: { $0.key < $1.key }) {
            checks.append(("failure times of \(source)", times.count, configuration.failureThreshold))
        }
        return checks.compactMap { name, count, bound in
            count <= bound ? nil : "invariant (R-LIMIT): \(name) holds \(count), bound \(bound)"
        }
    }

    // MARK: - The secret scan

    /// Scans the whole trace and the audit log against every secret known now (secrets
    /// learned after a line was written are caught here).
    func scanForLeaks() -> [String] {
        var leaks: Set<String> = []
        for line in trace.lines {
            for leak in secrets.leaks(in: line) { leaks.insert("\(leak) in the trace") }
        }
        if let rows = try? audit.rows() {
            for row in rows {
                for leak in secrets.leaks(in: "\(row)") { leaks.insert("\(leak) in the audit log") }
            }
        }
        return leaks.sorted()
    }
}
