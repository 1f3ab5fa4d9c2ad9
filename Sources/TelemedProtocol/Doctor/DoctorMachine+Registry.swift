// Enroll and revoke as machine inputs
// ===================================
// The registry (id → public key) is machine state that only two operator inputs change. Both
// are pure: they read no clock but the `Instant` they are given and draw randomness only from
// the generator passed in (for the new epoch's RN_e). The host persists the change in its
// registry store first and feeds the machine only once that is durable (DoctorNode does so).
//
// revoke(id): from the moment it returns, `id` is not enrolled, and the machine treats it
// exactly like an id that never was (R-ID, PROTOCOL.md §5 "known id"):
//   - its active session ends at once: DISCONNECT("revoked") sealed under its k_d2p, close,
//     `patientLeft(.revoked)`, and a membership change for the remaining members (their new
//     epoch starts at once, or with the other changes of its epoch window, PROTOCOL.md §7.1;
//     a member not yet sent its first GROUP_KEY is closed without the DISCONNECT);
//   - its pending handshakes that already named it (its signature verified: the SESSION_TOKEN
//     is being built or went out) end: REJECTED, close, an R-ID rejection event, not counted
//     against the source (the request's signature had verified, and §5 counts only failures
//     before it);
//   - a request of it still in flight, or a captured one replayed, meets the unknown-id path:
//     checked against the dummy key (the same work), REJECTED, counted against the source; so
//     does a request whose signature was being checked against the old key when the
//     revocation landed (its result is refused R-ID, counted, DoctorMachine+Jobs.swift);
//   - so that nothing on that path can differ from a never-enrolled id, its device blocks are
//     lifted (`.unblocked(.device, .patientRevoked)`, persisted) and its (id, rn) entries leave
//     the replay cache: a never-enrolled id can hold neither, since both need a verified
//     signature. Its device-block history (for the repeated-block alert) is kept.
//   - the device-block table's bound shrinks to 16 × the enrolled count (blocks closest to
//     expiry are evicted if it then overflows).
// Connections that have not sent a request yet carry no id and are not touched.
//
// enroll(id, key, replace:): a new id (or a revoked one) is added; nothing else changes but
// the device-block bound. An enrolled id needs `replace`, and replacing is a revoke of the old
// key followed by the enroll of the new one, without the id ever being unenrolled in between:
// the old key's session and pending handshakes end as above (DISCONNECT "key replaced", leave
// reason `.keyReplaced`), its device blocks and replay entries go, and from then on only the
// new key logs in (a request signed with the old key fails R-SIG).
//
// Every check happens before anything changes: a refused input returns a typed error and
// leaves the machine as it was.

import TelemedCrypto

extension DoctorMachine {
    // MARK: - Registry inputs

    /// Enrolls `publicKey` for `id` (see the theory of operation above).
    ///
    /// - Parameters:
    ///   - id: the patient's id.
    ///   - publicKey: the key to enroll, in the doctor's group.
    ///   - replace: required when `id` is enrolled already; its old key's session and pending
    ///     handshakes end.
    ///   - now: the clock reading of the input.
    ///   - rng: the cryptographic generator (the new epoch's group key after a replace).
    /// - Returns: nothing for a new or revoked id; for a replace, the old key's device-block
    ///   removals (persisted), REJECTED and close for its pending handshakes, then its session's
    ///   DISCONNECT("key replaced"), close, `patientLeft` and the remaining members' new epoch.
    /// - Throws: ``RegistryError/wrongGroup(expected:found:)``,
    ///   ``RegistryError/alreadyEnrolled(_:)``, ``RegistryError/keyUnchanged(_:)`` or
    ///   ``RegistryError/keyInUse(_:by:)``; the machine is then unchanged.
    public mutating func enroll(_ id: PeerID, publicKey: PublicKey, replace: Bool, now: Instant,
                                using rng: inout some CryptographicRandomNumberGenerator) throws(RegistryError) -> [DoctorAction] {
        guard publicKey.group == group else {
            throw .wrongGroup(expected: group.name, found: publicKey.group.name)
        }
        let current = registry[id]
        if let current {
            guard replace else { throw .alreadyEnrolled(id) }
            guard current != publicKey else { throw .keyUnchanged(id) }
        }
        if let holder = registry.first(where: { $0.key != id && $0.value == publicKey })?.key {
            throw .keyInUse(publicKey.fingerprint, by: holder)
        }
        registry[id] = publicKey
        var ended: (persists: [DoctorAction], others: [DoctorAction]) = ([], [])
        if current != nil {
            ended = endAccess(of: id, notify: "key replaced", reason: .keyReplaced,
                              pendingReason: "the patient's key was replaced while the handshake was pending",
                              now: now, using: &rng)
        }
        return ended.persists + policy.resizeDeviceTable(enrolledPatients: registry.count, now: now.wall).map(DoctorAction.persist)
            + ended.others
    }

    /// Revokes `id` (see the theory of operation above).
    ///
    /// - Returns: the persisted device-block removals first, then REJECTED and close for its
    ///   pending handshakes, then its session's DISCONNECT("revoked"), close, `patientLeft` and
    ///   the remaining members' new epoch.
    /// - Throws: ``RegistryError/notEnrolled(_:)``; the machine is then unchanged.
    public mutating func revoke(_ id: PeerID, now: Instant,
                                using rng: inout some CryptographicRandomNumberGenerator) throws(RegistryError) -> [DoctorAction] {
        guard registry[id] != nil else { throw .notEnrolled(id) }
        registry[id] = nil
        let ended = endAccess(of: id, notify: "revoked", reason: .revoked,
                              pendingReason: "patient revoked while the handshake was pending", now: now, using: &rng)
        return ended.persists + policy.resizeDeviceTable(enrolledPatients: registry.count, now: now.wall).map(DoctorAction.persist)
            + ended.others
    }

    /// Ends everything the current key of `id` holds: device blocks and replay entries (as
    /// persisted changes), pending handshakes that named it, and its session.
    private mutating func endAccess(of id: PeerID, notify: String, reason: LeaveReason, pendingReason: String,
                                    now: Instant, using rng: inout some CryptographicRandomNumberGenerator)
        -> (persists: [DoctorAction], others: [DoctorAction]) {
        let persists = policy.unblockDevices(of: id, reason: .patientRevoked).map(DoctorAction.persist)
        replay.remove(id)
        var others: [DoctorAction] = []
        let pending = table.handshakes(naming: id)
        for connection in pending {
            guard let state = table.stage(of: connection) else { continue }
            others += reject(connection, state, .identity, pendingReason, patient: id, counts: false,
                             now: now, using: &rng)
        }
        others += leave(id, reason: reason, notify: notify, now: now, using: &rng)
        return (persists, others)
    }

    // MARK: - Registry introspection

    /// The enrolled ids, ascending.
    public var enrolledPatients: [PeerID] { registry.keys.sorted() }

    /// The key `id` is enrolled with, if it is enrolled.
    public func enrolledKey(of id: PeerID) -> PublicKey? { registry[id] }

    /// The device-block table's bound now (``DoctorConfiguration/deviceBlocksPerPatient`` ×
    /// the enrolled count, at least one patient's worth).
    public var deviceBlockCapacity: Int { policy.deviceCapacity }
}
