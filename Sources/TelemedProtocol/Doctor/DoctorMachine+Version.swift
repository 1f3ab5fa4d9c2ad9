// Version negotiation at the doctor (PROTOCOL.md §8.6)
// =====================================================
// A handshake's version is fixed by its first frame (opcode 10: version 1, opcode 12: version
// 2) and recorded with it: `Verifying.share` is dh_i for version 2, `Verified.version` and
// `Member.version` carry it on. Everything after the handshake is version-blind (SKV, the
// traffic keys, GROUP_KEY, broadcasts) except what the SK was hashed from.
//
// The minimum version starts as the configuration's and the operator may change it while the
// doctor runs. Raising it to 2 ends version 1 at once: every pending version-1 handshake
// (being verified, answered, or awaiting KEY_CONFIRMATION) gets REJECTED and a close (R-VERSION,
// not counted); every active version-1 session gets DISCONNECT "version" and a close (a member
// not yet sent its first GROUP_KEY is closed without a frame, §7.1), and all those leaves are
// one membership change, so they share one epoch. Lowering it ends nothing.

import TelemedCrypto

extension DoctorMachine {
    /// Sets the minimum request version (see the theory of operation above). Raising it to 2
    /// ends every version-1 handshake and session; lowering it or keeping it changes nothing
    /// else. The returned actions end with the `minimumVersionChanged` event when it changed.
    public mutating func setMinimumVersion(_ version: ProtocolVersion, now: Instant,
                                           using rng: inout some CryptographicRandomNumberGenerator) -> [DoctorAction] {
        precondition(started, "call start(now:) before feeding the doctor")
        guard version != minimumVersion else { return [] }
        let raised = version > minimumVersion
        minimumVersion = version
        var actions: [DoctorAction] = []
        if raised {
            let pending = table.handshakes.compactMap { entry -> ConnectionID? in
                switch entry.value {
                case let .verifying(verifying) where verifying.version < version: return entry.key
                case let .awaitingConfirmation(verified) where verified.version < version: return entry.key
                default: return nil
                }
            }.sorted()
            for connection in pending {
                guard let state = table.stage(of: connection) else { continue }
                let patient: PeerID? = switch state {
                case let .verifying(verifying): verifying.namedPatient
                case let .awaitingConfirmation(verified): verified.patient
                default: nil
                }
                actions += reject(connection, state, .version, "version-1 handshake ended: minimum version raised to \(version)",
                                  patient: patient, counts: false, now: now, using: &rng)
            }
            let outdated = activePatients.filter { (members[$0]?.version ?? version) < version }
            for id in outdated {
                guard case (var member, let cancel)? = removeMember(id) else { continue }
                actions += cancel
                actions += sealedDisconnect(to: &member, reason: "version")
                actions += [.close(member.connection), .event(.patientLeft(id, member.connection, reason: .versionRaised))]
            }
            if !outdated.isEmpty { actions += membershipChanged(joiner: nil, using: &rng) }
        }
        return actions + [.event(.minimumVersionChanged(version))]
    }

    /// The version of `patient`'s active session, if it is a member.
    public func sessionVersion(of patient: PeerID) -> ProtocolVersion? { members[patient]?.version }
}
