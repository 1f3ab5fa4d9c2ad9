import Logging
import TelemedCrypto
import TelemedProtocol

// MARK: - Operator commands

extension DoctorNode {
    /// Seals, signs and sends `text` to every member.
    public func broadcast(_ text: String) throws(DoctorCommandError) {
        let now = clock.now()
        apply(try machine.broadcast(text, now: now, using: &rng), now: now)
    }

    /// Disconnects one member ("kicked") and rekeys the rest.
    public func kick(_ patient: PeerID) throws(DoctorCommandError) {
        let now = clock.now()
        apply(try machine.kick(patient, now: now, using: &rng), now: now)
    }

    /// Sets the minimum protocol version (PROTOCOL.md §8.6): raising it to 2 ends every
    /// version-1 handshake and session at once; the change is audited.
    public func setMinimumVersion(_ version: ProtocolVersion) {
        let now = clock.now()
        apply(machine.setMinimumVersion(version, now: now, using: &rng), now: now)
    }

    /// Starts a new epoch with the same members.
    public func rekey() throws(DoctorCommandError) {
        let now = clock.now()
        let actions = try machine.rekey(now: now, using: &rng)
        apply(actions, now: now, auditing: [AuditRow(wall: now.wall, kind: .rekey, detail: "operator rekey")])
    }

    /// Lifts a block by hand (audited and recorded in the store): a source (or the prefix
    /// block covering it), a prefix, a device, or every device block of a patient id.
    public func unblock(_ target: UnblockTarget) throws(DoctorCommandError) {
        let now = clock.now()
        apply(try machine.unblock(target), now: now)
    }

    /// Lifts a block named by operator text, read by ``UnblockTarget/init(parsing:)``: an IP
    /// address, a prefix written `a.b.c.0/24` or `x:x:x::/48`, a device `id@ip`, or a patient
    /// id. Text that names nothing (`999.1.1.1`) is `DoctorCommandError.noSuchBlock(_:)`
    /// with the reason.
    public func unblock(_ target: String) throws(DoctorCommandError) {
        let parsed: UnblockTarget
        do throws(UnblockTargetError) {
            parsed = try UnblockTarget(parsing: target)
        } catch {
            throw .noSuchBlock(error.description)
        }
        try unblock(parsed)
    }

    /// Disconnects every member (DISCONNECT `restarting` or `shutdown` as `kind` says,
    /// ascending id order, no new epoch) and rejects every pending handshake.
    public func disconnectAll(kind: ShutdownKind) {
        let now = clock.now()
        apply(machine.disconnectAll(now: now, kind: kind), now: now)
    }

    // MARK: - Registry

    /// Enrolls `publicKey` for `id` while the doctor runs: checked by the machine (on a copy,
    /// so a refusal changes nothing), then written to the security store with its audit row,
    /// and only once that is durable fed to the machine, whose actions are then applied (for a
    /// replace, the old key's session ends: DISCONNECT "key replaced", close, new epoch).
    ///
    /// The store write waits for the batches of earlier inputs to be committed (so the audit
    /// log keeps the order things happened in) and blocks the caller until it is durable: an
    /// operator command, not the hot path.
    ///
    /// An enrollment of this very key that the store already holds but the running machine does
    /// not (an offline `doctor enroll` while this doctor ran) is applied to the machine without
    /// a second write.
    ///
    /// - Throws: ``StoreError/registry(_:)`` for a refusal (by the machine or by the store,
    ///   which also refuses retired keys), or a write failure; either way nothing changed and
    ///   nothing was sent.
    @discardableResult
    public func enroll(_ id: PeerID, publicKey: PublicKey, replace: Bool = false) throws(StoreError) -> EnrollmentKind {
        let now = clock.now()
        var next = machine
        var draw = rng
        let actions: [DoctorAction]
        do {
            actions = try next.enroll(id, publicKey: publicKey, replace: replace, now: now, using: &draw)
        } catch {
            throw .registry(error)
        }
        let kind: EnrollmentKind
        // Earlier inputs' batches first, so the audit log stays in the order things happened.
        waitForStore()
        do {
            kind = try store.enroll(id, publicKey: publicKey, group: machine.group, replace: replace, at: now.wall)
        } catch .registry(.alreadyEnrolled(id)) where !replace {
            // An offline `enroll` wrote this very key while the doctor ran: the store already
            // holds (and audited) it; the running machine catches up. Another key: refused.
            guard try store.patient(id)?.publicKey == publicKey else { throw .registry(.alreadyEnrolled(id)) }
            kind = .enrolled
        }
        machine = next
        rng = draw
        logger.notice("patient enrolled", metadata: ["patient": "\(id)", "kind": "\(kind.rawValue)",
                                                     "fingerprint": "\(publicKey.fingerprint)"])
        apply(actions, now: now)
        return kind
    }

    /// Revokes `id` while the doctor runs: checked by the machine on a copy, written to the
    /// security store (row revoked, key retired, audit row), and only then fed to the machine:
    /// its session ends at once (DISCONNECT "revoked", close, one new epoch for the rest), its
    /// pending handshakes end, and from then on it is refused like an unknown id.
    ///
    /// Like ``enroll(_:publicKey:replace:)``, the store write comes after the batches of earlier
    /// inputs are committed.
    ///
    /// A revocation the store already holds but the running machine does not (an offline
    /// `doctor revoke` while this doctor ran) is applied to the machine without a second write.
    ///
    /// - Throws: ``StoreError/registry(_:)`` (`RegistryError.notEnrolled(_:)`,
    ///   `RegistryError.alreadyRevoked(_:)`) or a write failure; nothing changed then.
    public func revoke(_ id: PeerID) throws(StoreError) {
        let now = clock.now()
        var next = machine
        var draw = rng
        let actions: [DoctorAction]
        do {
            actions = try next.revoke(id, now: now, using: &draw)
        } catch {
            // The store tells a revoked id apart from one never enrolled.
            if case .notEnrolled = error, let row = try store.patient(id), row.status == .revoked {
                throw .registry(.alreadyRevoked(id))
            }
            throw .registry(error)
        }
        waitForStore()
        do {
            try store.revoke(id, at: now.wall)
        } catch .registry(.alreadyRevoked(id)) {
            // An offline `revoke` wrote it while the doctor ran (the machine still had the id):
            // the store already holds and audited it; the running machine catches up now.
        }
        machine = next
        rng = draw
        logger.notice("patient revoked", metadata: ["patient": "\(id)"])
        apply(actions, now: now)
    }

    /// Every id the store knows (revoked ones included), ascending, with whether it is a
    /// member now.
    public func patients() throws(StoreError) -> [PatientListing] {
        let active = Set(machine.activePatients)
        return try store.patients().map { PatientListing(patient: $0, connected: active.contains($0.id)) }
    }

    /// Records the doctor's stop in the audit log (the host calls it once, at shutdown).
    public func recordStop(_ detail: String) {
        let now = clock.now()
        apply([], now: now, auditing: [AuditRow(wall: now.wall, kind: .stop, detail: detail)])
    }

    // MARK: - Introspection for the console

    /// The blocks in force at the doctor's wall clock now (`DoctorMachine.activeBlocks(at:)`).
    public func activeBlocks() -> [DoctorMachine.BlockInForce] {
        machine.activeBlocks(at: clock.now().wall)
    }
}

extension DoctorMachine {
    /// Lifts the blocks an operator named.
    mutating func unblock(_ target: UnblockTarget) throws(DoctorCommandError) -> [DoctorAction] {
        switch target {
        case let .source(source): return try unblock(BlockTarget.source(source))
        case let .prefix(prefix): return try unblock(BlockTarget.prefix(prefix))
        case let .device(device): return try unblock(BlockTarget.device(device))
        case let .devices(patient): return try unblockDevices(of: patient)
        }
    }
}

extension SourcePrefix {
    /// Parses `a.b.c.0/24` or an IPv6 address text followed by `/48`.
    init?(operatorText text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let source = SourceAddress(ipText: String(parts[0])) else { return nil }
        guard (source.isIPv4 && parts[1] == "24") || (!source.isIPv4 && parts[1] == "48") else { return nil }
        self = source.prefix
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and newlines.
    var trimmingWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
