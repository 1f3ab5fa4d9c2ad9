// The connection table
// ====================
// Every connection the doctor tracks is in exactly one of two places: a pending handshake
// (`handshakes`, with the per-source, per-prefix and total counts of PROTOCOL.md §5 derived
// from it) or a member's (`members`, keyed by patient id, and the index `memberByConnection`
// that maps the member's connection back to it). A tracked connection may also have a begun,
// incomplete frame (`framesInProgress`, PROTOCOL.md §7.6); that mark leaves with the connection.
// A pending handshake that is removed while its request is being verified (a `HandshakeJob`
// is out) moves to `retired`: its connection is gone, but it keeps its pending slot (source,
// prefix and total counts) until the job's result is applied, so the jobs in flight never
// exceed the pending-handshake bounds. The storage is read-only outside this type;
// the few mutating operations below change every related entry together, so no caller can
// update one view without the other. Invariants (checked in the tests after random inputs):
//
//   members[p].connection == c  ⇔  memberByConnection[c] == p
//   no connection is both a pending handshake and a member's
//   pendingBySource / pendingByPrefix are the counts of the pending and retired handshakes' sources
//   handshakesNaming[p] is the set of pending handshakes whose namedPatient is p (no empty sets)
//   no connection is both retired and tracked
//   every connection in framesInProgress is tracked

extension DoctorMachine {
    /// The one source of truth for tracked connections: pending handshakes and members.
    struct ConnectionTable: Sendable {
        /// Pending handshakes by connection.
        private(set) var handshakes: [ConnectionID: Handshake] = [:]
        /// Members by patient id.
        private(set) var members: [PeerID: Member] = [:]
        /// Member id by connection (the index of `members` by connection).
        private(set) var memberByConnection: [ConnectionID: PeerID] = [:]
        /// Pending handshakes per source address.
        private(set) var pendingBySource: [SourceAddress: Int] = [:]
        /// Pending handshakes per source prefix.
        private(set) var pendingByPrefix: [SourcePrefix: Int] = [:]
        /// Tracked connections whose transport reported a begun, incomplete frame; for a member
        /// a `frameCompletion` timer runs while it is here.
        private(set) var framesInProgress: Set<ConnectionID> = []
        /// Handshakes that ended while their request was being verified, by connection: they
        /// hold their pending slot until their job's result is applied.
        private(set) var retired: [ConnectionID: Verifying] = [:]
        /// The index of `handshakes` by the patient they name (``Handshake/namedPatient``), so
        /// that a join finds its rivals without a pass over the whole pending table.
        private(set) var handshakesNaming: [PeerID: Set<ConnectionID>] = [:]

        // MARK: Reading

        /// The number of pending handshakes (retired ones included: they hold a slot).
        var pendingCount: Int { handshakes.count + retired.count }
        /// The number of tracked connections (pending and members').
        var count: Int { handshakes.count + memberByConnection.count }

        /// Whether `connection` is tracked at all, or retired.
        func contains(_ connection: ConnectionID) -> Bool {
            handshakes[connection] != nil || memberByConnection[connection] != nil || retired[connection] != nil
        }

        /// The stage of a tracked connection (nil for one the machine does not track).
        func stage(of connection: ConnectionID) -> Connection? {
            if let handshake = handshakes[connection] { return handshake.stage }
            return memberByConnection[connection].map(Connection.active)
        }

        /// The pending handshakes that name `patient` (their request's signature verified:
        /// answering or awaiting KEY_CONFIRMATION), ascending.
        func handshakes(naming patient: PeerID) -> [ConnectionID] {
            (handshakesNaming[patient] ?? []).sorted()
        }

        /// Pending handshakes from `source`.
        func pending(from source: SourceAddress) -> Int { pendingBySource[source, default: 0] }

        /// Pending handshakes from sources in `prefix`.
        func pending(in prefix: SourcePrefix) -> Int { pendingByPrefix[prefix, default: 0] }

        // MARK: Begun frames

        /// Marks a begun frame on a tracked connection; false when the connection is not tracked
        /// or already has one.
        mutating func beginFrame(on connection: ConnectionID) -> Bool {
            contains(connection) && framesInProgress.insert(connection).inserted
        }

        /// The begun frame on `connection` completed (or will never be read); returns whether
        /// one was marked.
        @discardableResult
        mutating func endFrame(on connection: ConnectionID) -> Bool {
            framesInProgress.remove(connection) != nil
        }

        /// Whether `connection` has a begun, incomplete frame.
        func hasFrameInProgress(_ connection: ConnectionID) -> Bool {
            framesInProgress.contains(connection)
        }

        // MARK: Pending handshakes

        /// Tracks a newly accepted connection as awaiting its KEY_VERIFICATION.
        mutating func openHandshake(_ connection: ConnectionID, from source: SourceAddress) {
            precondition(!contains(connection), "connection ids must be unique")
            setHandshake(connection, .awaitingRequest(Accepted(source: source)))
            pendingBySource[source, default: 0] += 1
            pendingByPrefix[source.prefix, default: 0] += 1
        }

        /// Moves a handshake awaiting its request to awaiting confirmation (same source).
        mutating func verifyHandshake(_ connection: ConnectionID, _ verified: Verified) {
            guard case let .awaitingRequest(accepted)? = handshakes[connection], accepted.source == verified.source else {
                preconditionFailure("only a handshake awaiting its request can be verified")
            }
            setHandshake(connection, .awaitingConfirmation(verified))
        }

        /// Moves a handshake awaiting its request (or one whose previous job just concluded) to
        /// verifying: a job for it is out.
        mutating func beginVerification(_ connection: ConnectionID, _ verifying: Verifying) {
            guard case let .awaitingRequest(accepted)? = handshakes[connection], accepted.source == verifying.source else {
                preconditionFailure("only a handshake awaiting its request can be verified")
            }
            setHandshake(connection, .verifying(verifying))
        }

        /// The job of a verifying handshake came back: the handshake awaits its request again
        /// (same source) until the machine moves it on or rejects it. Returns what it waited for.
        mutating func concludeVerification(_ connection: ConnectionID) -> Verifying? {
            guard case let .verifying(verifying)? = handshakes[connection] else { return nil }
            setHandshake(connection, .awaitingRequest(Accepted(source: verifying.source)))
            return verifying
        }

        /// Stops tracking a pending handshake; returns it. Its counts are released, unless it
        /// was verifying: then it is retired and keeps them until ``releaseRetired(_:)``.
        @discardableResult
        mutating func removeHandshake(_ connection: ConnectionID) -> Handshake? {
            guard let handshake = handshakes[connection] else { return nil }
            setHandshake(connection, nil)
            framesInProgress.remove(connection)
            if case let .verifying(verifying) = handshake {
                retired[connection] = verifying
            } else {
                release(handshake.source)
            }
            return handshake
        }

        /// Forgets a retired handshake (its job's result was applied) and releases its counts.
        mutating func releaseRetired(_ connection: ConnectionID) -> Verifying? {
            guard let verifying = retired.removeValue(forKey: connection) else { return nil }
            release(verifying.source)
            return verifying
        }

        /// The one place `handshakes` changes: keeps `handshakesNaming` in step.
        private mutating func setHandshake(_ connection: ConnectionID, _ handshake: Handshake?) {
            if let old = handshakes[connection]?.namedPatient, handshake?.namedPatient != old {
                handshakesNaming[old]?.remove(connection)
                if handshakesNaming[old]?.isEmpty == true { handshakesNaming[old] = nil }
            }
            handshakes[connection] = handshake
            if let new = handshake?.namedPatient { handshakesNaming[new, default: []].insert(connection) }
        }

        private mutating func release(_ source: SourceAddress) {
            pendingBySource[source, default: 1] -= 1
            if pendingBySource[source] == 0 { pendingBySource[source] = nil }
            pendingByPrefix[source.prefix, default: 1] -= 1
            if pendingByPrefix[source.prefix] == 0 { pendingByPrefix[source.prefix] = nil }
        }

        // MARK: Members

        /// Makes `member` a member on its connection, which must be untracked (its handshake
        /// already removed) and its id not yet a member.
        mutating func addMember(_ member: Member) {
            precondition(members[member.patient] == nil, "remove the old session of an id before adding the new one")
            precondition(!contains(member.connection), "a member's connection is tracked nowhere else")
            members[member.patient] = member
            memberByConnection[member.connection] = member.patient
        }

        /// Removes a member and its connection; returns it, and whether a begun frame of its was
        /// marked (its `frameCompletion` timer is then still scheduled).
        mutating func removeMember(_ patient: PeerID) -> (member: Member, hadFrameInProgress: Bool)? {
            guard let member = members.removeValue(forKey: patient) else { return nil }
            memberByConnection[member.connection] = nil
            return (member, framesInProgress.remove(member.connection) != nil)
        }

        /// Changes a member's counters in place (its id and connection cannot change).
        mutating func updateMember(_ patient: PeerID, _ change: (inout Member) -> Void) {
            guard var member = members[patient] else { return }
            let connection = member.connection
            change(&member)
            precondition(member.patient == patient && member.connection == connection,
                         "a member's id and connection never change")
            members[patient] = member
        }
    }
}
