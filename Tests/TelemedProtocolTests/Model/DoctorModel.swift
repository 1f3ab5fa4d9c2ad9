// Theory of operation
// ===================
// `DoctorModel` is a reference model of what the doctor accepts, written from PROTOCOL.md §5,
// SECURITY-RULES.md and the "Implementation choices" of WireProtocol.md — not from the
// machine's code. It deals in abstractions, not bytes: a first frame is "a request for id X
// with timestamp T whose signature is valid", a confirmation is "the right SKV at ts T". It
// holds no keys and does no crypto, so it is small enough to check by reading.
//
// State (all times in ms; blocks and failures on the wall clock, timers and the replay cache
// on the monotonic clock):
//   active      id → connection of each member
//   epoch       bumped once per epoch window (§7.1) that ends with somebody in the group, and
//               by rekey; with a window of 0, once per membership change
//   windowEnd   the monotonic time the pending epoch starts (nil: none pending). The first
//               membership change after an epoch began sets it W ahead; later changes join it.
//               It ends when the clock passes it (in time order with the other deadlines; on a
//               tie the other deadlines go first, as the host fires them), or at once when a
//               broadcast is sealed or the operator rekeys. A restart drops it.
//   pending     connection → opened (nothing verified) | verified(id) (SESSION_TOKEN sent)
//   blocks      source → expiry, prefix → expiry, device (id, source) → expiry; a block is in
//               force while expiry > now; nothing a peer sends shortens it
//   failures    source → failure times; a time t is live while now − t ≤ window
//   replay      (id, rn) of verified requests, identified by the capture that carried them,
//               each live for 2·ΔTS; at most Q live entries per id (§7.3)
// Every input appends the rejections it causes (connection, rule) to `rejections`, which the
// checker compares with the machine's audit events after each step.
//
// Expiry: a query counts an entry only while it is in force on the doctor's clock *now*. When
// the doctor forgets an expired entry is a reading the spec leaves open, and it shows only when
// the wall clock steps back (a forgotten entry stays forgotten; a remembered one applies
// again). The model follows the machine's documented choice ("expired entries are removed
// lazily"): everything expired is forgotten when a connection is accepted (the doctor's
// look at its clock before reading, PROTOCOL.md §5 "On accept") or sends its first frame,
// and when a full table needs room; a source's own failure list drops expired times whenever
// a failure is counted. A saturated block table refuses only while it has no room (§5:
// "until the table has room again (expiry or an operator unblock)"); a restart with a table
// still full after dropping expired blocks is saturated at once (§7.5).
//
// Revision 1.1 (§7) as modelled: R-TIME and R-START do not count (§7.2); a verified request is
// checked-and-inserted into the replay cache right after its signature, before its elements
// (§7.7): duplicate → R-REPLAY, the id's quota full → R-LIMIT, the cache full → R-LIMIT, none
// counted (§7.3); a KEY_CONFIRMATION first checks blocks set while it was pending (§7.4).
//
// Version 2 (§8) as modelled: a request carries the version of its opcode (10: 1, 12: 2). One
// below the minimum is refused R-VERSION right after the strict parse, before the gateway id
// and everything else, and is not counted (§8.5, §8.6.3). A verified v2 request whose dh_i
// fails R-ELEM is refused like bad c1/c2: after the replay insert, not counted, no device block.
// A handshake's version is kept to its join: each member has the version of its session. The
// operator may change the minimum at run time; raising it ends every verified v1 handshake
// (R-VERSION, not counted; opened connections that sent nothing are untouched) and every v1
// session (DISCONNECT "version": a leave with no rejection), all those leaves being one
// membership change. Lowering it ends nothing. The minimum is the configuration's again after
// a restart (a run-time change is an operator action, not persisted).

@testable import TelemedProtocol

/// A deliberate error in the model, to prove the checker can find and shrink a divergence.
enum ModelMutant: String, Sendable, CaseIterable {
    /// The model follows the spec.
    case faithful
    /// A leave (DISCONNECT, TCP close, kick, rejection) does not start a new epoch.
    case noEpochOnLeave
    /// Blocks never expire.
    case blocksNeverExpire
}

struct DoctorModel {
    // MARK: - Inputs the model understands

    /// What a connection's first frame is, as far as the doctor can tell before answering.
    enum FirstFrame: Equatable {
        /// Not parseable JSON (or any schema failure other than the group).
        case malformed
        /// A KEY_VERIFICATION for another group.
        case wrongGroup
        /// A well-formed frame with another opcode (a reflected KEY_CONFIRMATION, say).
        case wrongOpcode
        /// A KEY_VERIFICATION.
        case request(Request)
    }

    struct Request: Equatable {
        var patient: PeerID
        var ts: UInt64
        /// Addressed to this doctor's id.
        var toThisGateway = true
        /// Signed by the key enrolled for `patient` over exactly these bytes.
        var validSignature = true
        /// c1, c2 and the decrypted K are valid group elements.
        var validElements = true
        /// The protocol version its opcode names (10: 1, 12: 2).
        var version: ProtocolVersion = .v1
        /// dh_i passes R-ELEM (version 2 only).
        var validShare = true
        /// Which captured request this is (the (id, rn) pair in the replay cache).
        var capture: Int
    }

    /// A KEY_CONFIRMATION on a verified connection.
    struct Confirmation: Equatable {
        var ts: UInt64
        var correctSKV: Bool
    }

    enum Pending: Equatable, CustomStringConvertible {
        case opened(SourceAddress, deadline: UInt64)
        case verified(SourceAddress, PeerID, ProtocolVersion, deadline: UInt64)

        var source: SourceAddress {
            switch self {
            case let .opened(source, _), let .verified(source, _, _, _): return source
            }
        }
        var deadline: UInt64 {
            switch self {
            case let .opened(_, deadline), let .verified(_, _, _, deadline): return deadline
            }
        }
        var isOpened: Bool { if case .opened = self { return true }; return false }
        var description: String {
            switch self {
            case .opened: return "opened"
            case let .verified(_, id, version, _): return "verified(\(id), v\(version))"
            }
        }
    }

    struct Rejection: Equatable, Comparable, CustomStringConvertible {
        var connection: ConnectionID
        var rule: RuleID
        static func < (a: Rejection, b: Rejection) -> Bool {
            (a.connection.rawValue, a.rule.rawValue) < (b.connection.rawValue, b.rule.rawValue)
        }
        var description: String { "\(connection) \(rule)" }
    }

    // MARK: - Configuration and state

    let config: DoctorConfiguration
    /// Changed by the operator's revoke and enroll; survives restarts (the registry is stored).
    var enrolled: Set<PeerID>
    /// T0: the largest start time recorded (R-START); persisted across restarts.
    var startTime: UInt64
    let mutant: ModelMutant

    var wall: UInt64
    var mono: UInt64
    var active: [PeerID: ConnectionID] = [:]
    /// The version of each member's session (PROTOCOL.md §8.7: audited at each join).
    var versions: [PeerID: ProtocolVersion] = [:]
    /// The lowest request version accepted now (§8.6.3).
    var minimumVersion: ProtocolVersion
    var epoch: UInt64 = 0
    var windowEnd: UInt64?
    var pending: [ConnectionID: Pending] = [:]
    var sourceBlocks: [SourceAddress: UInt64] = [:]
    var prefixBlocks: [SourcePrefix: UInt64] = [:]
    var deviceBlocks: [DeviceKey: UInt64] = [:]
    var failures: [SourceAddress: [UInt64]] = [:]
    /// Set when a source block could not be recorded at all; lifted once the table has room.
    var saturated = false
    /// Verified captures in insertion order, with their id and monotonic expiry.
    var replay: [(capture: Int, patient: PeerID, expiry: UInt64)] = []
    /// Rejections caused by the current step.
    var rejections: [Rejection] = []
    /// Connections whose transport reported a begun, incomplete frame (§7.6), with the deadline
    /// of a member's frame (pending connections have their handshake deadline instead).
    var begun: [ConnectionID: UInt64?] = [:]
    /// How often each interesting path was taken (the tests check the generator reaches them).
    var coverage: [String: Int] = [:]

    mutating func reached(_ path: String) { coverage[path, default: 0] += 1 }

    init(config: DoctorConfiguration, enrolled: Set<PeerID>, start: Instant, mutant: ModelMutant = .faithful) {
        self.config = config
        self.enrolled = enrolled
        self.startTime = start.wall
        self.wall = start.wall
        self.mono = start.monotonic
        self.mutant = mutant
        self.minimumVersion = config.minimumVersion
    }

    // MARK: - Queries (what the checker compares)

    func inForce(_ expiry: UInt64?) -> UInt64? {
        guard let expiry else { return nil }
        return (expiry > wall || mutant == .blocksNeverExpire) ? expiry : nil
    }

    /// The latest expiry of an exact or prefix block covering `source`, if one is in force.
    func sourceBlock(_ source: SourceAddress) -> UInt64? {
        [inForce(sourceBlocks[source]), inForce(prefixBlocks[source.prefix])].compactMap { $0 }.max()
    }

    func deviceBlock(_ device: DeviceKey) -> UInt64? { inForce(deviceBlocks[device]) }

    func isLive(failureAt time: UInt64) -> Bool {
        !(wall > time && wall - time > config.failureWindowMillis)
    }

    func liveFailures(_ source: SourceAddress) -> Int {
        (failures[source] ?? []).filter(isLive).count
    }

    var sourceTableLive: Int {
        sourceBlocks.values.filter { inForce($0) != nil }.count + prefixBlocks.values.filter { inForce($0) != nil }.count
    }

    var deviceCapacity: Int { max(1, enrolled.count) * config.deviceBlocksPerPatient }

    mutating func refusesUnauthenticated() -> Bool {
        if saturated && sourceTableLive < config.sourceBlockCapacity { saturated = false }
        return saturated
    }

    func pendingCount(_ matches: (SourceAddress) -> Bool) -> Int {
        pending.values.filter { matches($0.source) }.count
    }

    // MARK: - Clock

    mutating func advance(by millis: UInt64) {
        wall += millis
        mono += millis
        // Handshake timeouts, earliest deadline first (ties by connection).
        // Handshake timeouts and members' frame deadlines, earliest first (ties by connection).
        var due: [(deadline: UInt64, connection: ConnectionID)] = pending.compactMap {
            $0.value.deadline <= mono ? ($0.value.deadline, $0.key) : nil
        }
        for case let (connection, deadline?) in begun where deadline <= mono { due.append((deadline, connection)) }
        // The end of the epoch window sorts after every connection deadline of the same time.
        if let windowEnd, windowEnd <= mono { due.append((windowEnd, ConnectionID(.max))) }
        for (_, connection) in due.sorted(by: { ($0.deadline, $0.connection.rawValue) < ($1.deadline, $1.connection.rawValue) }) {
            if connection == ConnectionID(.max) {
                reached("epoch window ended")
                startPendingEpoch()
            } else if let state = pending[connection] {
                // §7.6: a begun frame makes the stall R-FRAME; no frame begun, R-STATE.
                let stalledFrame = begun[connection] != nil
                reached(stalledFrame ? "handshake timeout inside a frame" : "handshake timeout")
                end(connection, rule: stalledFrame ? .frame : .state, counts: state.isOpened)
            } else if let patient = active.first(where: { $0.value == connection })?.key {
                reached("member frame stalled")
                leave(patient, rejectedBy: .frame)
            }
        }
    }

    /// The wall clock alone steps (NTP correction); timers do not move.
    mutating func stepWall(by delta: Int64) {
        wall = delta >= 0 ? wall + UInt64(delta) : wall - UInt64(-delta)
    }

    // MARK: - Restart

    /// The doctor restarts: blocks, failure lists and T0 survive (R-BLOCK, R-START); sessions,
    /// handshakes, the replay cache and the epoch counter do not ("epochs start at 1 in each
    /// run"). T0 becomes max(T0, wall clock). Saturation is a function of the persisted tables
    /// (§7.5): a block table still full once expired blocks are dropped is saturated at once.
    mutating func restart() {
        reached("restart")
        active = [:]
        versions = [:]
        minimumVersion = config.minimumVersion
        pending = [:]
        begun = [:]
        replay = []
        epoch = 0
        windowEnd = nil
        startTime = max(startTime, wall)
        forgetExpired()
        saturated = sourceBlocks.count + prefixBlocks.count >= config.sourceBlockCapacity
        if saturated { reached("saturated after restart") }
    }

    // MARK: - Accept (PROTOCOL.md §5, "On accept, before reading")

    /// Returns true when the connection becomes a pending handshake.
    mutating func open(_ connection: ConnectionID, from source: SourceAddress) -> Bool {
        forgetExpired()
        let refusal: RuleID?
        if wall + config.timeWindowMillis < startTime { refusal = .start; reached("clock behind start") }
        else if sourceBlock(source) != nil { refusal = .block; reached("blocked source refused") }
        else if refusesUnauthenticated() { refusal = .limit; reached("saturated refusal") }
        else if pendingCount({ $0 == source }) >= config.pendingPerSource { refusal = .limit; reached("pending per source") }
        else if pendingCount({ $0.prefix == source.prefix }) >= config.pendingPerPrefix { refusal = .limit; reached("pending per prefix") }
        else if pending.count >= config.pendingTotal { refusal = .limit; reached("pending total") }
        else { refusal = nil }
        if let refusal {
            rejections.append(Rejection(connection: connection, rule: refusal))
            return false
        }
        pending[connection] = .opened(source, deadline: mono + config.handshakeTimeoutMillis)
        return true
    }

    // MARK: - First frame (cheapest check first)

    mutating func firstFrame(_ connection: ConnectionID, _ frame: FirstFrame) {
        guard case let .opened(source, _)? = pending[connection] else { return }
        frameCompleted(connection)
        forgetExpired()
        // Checks that never count: a block set while pending, a saturated block table.
        if sourceBlock(source) != nil { return end(connection, rule: .block, counts: false) }
        if refusesUnauthenticated() { return end(connection, rule: .limit, counts: false) }
        let request: Request
        switch frame {
        case .malformed: return end(connection, rule: .frame, counts: true)
        case .wrongGroup: return end(connection, rule: .group, counts: true)
        case .wrongOpcode: return end(connection, rule: .state, counts: true)
        case let .request(r): request = r
        }
        // §8.5, §8.6.3: below the minimum → refused after the strict parse, not counted.
        guard request.version >= minimumVersion else {
            reached("request below the minimum version")
            return end(connection, rule: .version, counts: false)
        }
        guard request.toThisGateway else { return end(connection, rule: .identity, counts: true) }
        // §7.2: the time window and the start rule do not count against the source.
        let skew = wall >= request.ts ? wall - request.ts : request.ts - wall
        guard skew <= config.timeWindowMillis else { return end(connection, rule: .time, counts: false) }
        guard request.ts >= startTime else { return end(connection, rule: .start, counts: false) }
        if deviceBlock(DeviceKey(patient: request.patient, source: source)) != nil {
            reached("device-blocked request")
            return end(connection, rule: .block, counts: false)
        }
        if replayContains(request.capture) {
            reached("replay seen")
            return end(connection, rule: .replay, counts: true)
        }
        guard enrolled.contains(request.patient) else { return end(connection, rule: .identity, counts: true) }
        guard request.validSignature else { return end(connection, rule: .signature, counts: true) }
        // Verified: nothing after this point counts against the source. The request enters the
        // replay cache before its elements are checked (§7.7).
        switch replayInsert(request) {
        case .inserted: break
        case .duplicate: return end(connection, rule: .replay, counts: false)
        case .quotaExceeded:
            reached("replay quota of an id full")
            return end(connection, rule: .limit, counts: false)
        case .full:
            reached("replay cache full")
            return end(connection, rule: .limit, counts: false)
        }
        guard request.validElements else {
            reached("signed request with bad elements")
            return end(connection, rule: .element, counts: false)
        }
        // §8.5: dh_i after c1, c2 and K; like them not counted and no device block.
        guard request.version == .v1 || request.validShare else {
            reached("signed v2 request with a bad share")
            return end(connection, rule: .element, counts: false)
        }
        if request.ts != wall { reached("verified request with another ts") }
        if request.version == .v2 { reached("v2 request answered") }
        pending[connection] = .verified(source, request.patient, request.version,
                                        deadline: pending[connection]?.deadline ?? mono)
    }

    /// The transport refused a frame's length prefix (0 or over 65,536): R-FRAME, REJECTED,
    /// counted when unverified; a member's is a leave.
    mutating func frameRefused(_ connection: ConnectionID) {
        if let state = pending[connection] {
            reached(state.isOpened ? "refused prefix, first frame" : "refused prefix, verified")
            return end(connection, rule: .frame, counts: state.isOpened)
        }
        guard let patient = active.first(where: { $0.value == connection })?.key else { return }
        reached("refused prefix, member")
        leave(patient, rejectedBy: .frame)
    }

    /// The transport reports a begun frame: a pending connection's stall becomes R-FRAME at its
    /// handshake deadline; a member's frame gets a deadline of its own (the handshake timeout).
    mutating func frameStarted(_ connection: ConnectionID) {
        guard begun[connection] == nil else { return }
        if pending[connection] != nil {
            begun[connection] = .some(nil)
        } else if active.values.contains(connection) {
            begun[connection] = .some(mono + config.handshakeTimeoutMillis)
        }
    }

    /// A frame arrived whole on `connection`: a begun frame, if any, has completed.
    mutating func frameCompleted(_ connection: ConnectionID) {
        begun[connection] = nil
    }

    /// The transport closed a pending connection.
    mutating func closed(_ connection: ConnectionID, _ how: ConnectionEnd) {
        guard let state = pending[connection] else { return }
        switch how {
        case .closedByPeer:
            pending[connection] = nil
            begun[connection] = nil
        case .cutFrame: end(connection, rule: .frame, counts: state.isOpened)
        case .transportFailure, .writeTimeout, .outboundQueueFull: end(connection, rule: .state, counts: state.isOpened)
        }
    }

    // MARK: - KEY_CONFIRMATION

    mutating func confirm(_ connection: ConnectionID, _ confirmation: Confirmation) {
        guard case let .verified(source, patient, version, _)? = pending[connection] else { return }
        frameCompleted(connection)
        // §7.4: blocks set while pending come first; saturation does not refuse here.
        if sourceBlock(source) != nil || deviceBlock(DeviceKey(patient: patient, source: source)) != nil {
            reached("blocked while pending")
            return end(connection, rule: .block, counts: false)
        }
        let skew = wall >= confirmation.ts ? wall - confirmation.ts : confirmation.ts - wall
        guard skew <= config.timeWindowMillis else { return end(connection, rule: .time, counts: false) }
        guard confirmation.ts >= startTime else { return end(connection, rule: .start, counts: false) }
        guard confirmation.correctSKV else {
            reached("wrong SKV")
            blockDevice(DeviceKey(patient: patient, source: source))
            return end(connection, rule: .skv, counts: false)
        }
        if active[patient] == nil && active.count >= config.maxActivePatients {
            reached("active table full")
            return end(connection, rule: .limit, counts: false)
        }
        pending[connection] = nil
        // Every other handshake of this id that reached the id ends (R-STATE, not counted).
        let rivals = pending.filter {
            if case let .verified(_, other, _, _) = $0.value { return other == patient }
            return false
        }.keys.sorted()
        for rival in rivals { end(rival, rule: .state, counts: false); reached("rival handshake ended") }
        if active[patient] != nil { reached("session replaced") }
        // A replaced session leaves without an epoch of its own: the join makes the one new epoch.
        if let old = versions[patient], old != version { reached("session replaced by one of the other version") }
        active[patient] = connection
        versions[patient] = version
        reached("v\(version) join")
        membershipChanged()
    }

    // MARK: - Epochs (§7.1)

    /// A join, leave, kick, replacement or timeout: the next epoch at once (window 0), or the
    /// pending one, opened here if none is.
    mutating func membershipChanged() {
        if config.epochWindowMillis == 0 {
            if !active.isEmpty { epoch += 1 }
        } else if windowEnd == nil {
            windowEnd = mono + config.epochWindowMillis
        } else {
            reached("change joined a pending epoch")
        }
    }

    /// The pending epoch starts: one new epoch if anybody is left.
    mutating func startPendingEpoch() {
        guard windowEnd != nil else { return }
        windowEnd = nil
        if !active.isEmpty { epoch += 1 }
    }

    // MARK: - Members

    /// A member left (DISCONNECT, TCP close, kick, or a rejected frame).
    mutating func leave(_ patient: PeerID, rejectedBy rule: RuleID? = nil) {
        guard let connection = active.removeValue(forKey: patient) else { return }
        versions[patient] = nil
        begun[connection] = nil
        if let rule { rejections.append(Rejection(connection: connection, rule: rule)) }
        if mutant != .noEpochOnLeave { membershipChanged() }
    }

    /// Operator kick: fails when the id is not a member.
    mutating func kick(_ patient: PeerID) -> Bool {
        guard active[patient] != nil else { return false }
        leave(patient)
        return true
    }

    /// Operator rekey: fails with nobody connected.
    mutating func rekey() -> Bool {
        guard !active.isEmpty else { return false }
        if windowEnd != nil { reached("rekey absorbed a pending epoch") }
        windowEnd = nil
        epoch += 1
        return true
    }

    /// Operator broadcast: fails with nobody connected; changes nothing.
    /// Operator broadcast: fails with nobody connected. Every member's patient answers with a
    /// DEC_MSG, a whole frame, which completes any frame it had begun.
    /// A pending epoch starts before the broadcast is sealed (§7.1).
    mutating func broadcast() -> Bool {
        guard !active.isEmpty else { return false }
        if windowEnd != nil { reached("broadcast started a pending epoch") }
        startPendingEpoch()
        for connection in active.values { frameCompleted(connection) }
        return true
    }

    // MARK: - Minimum version (§8.6.3)

    /// The operator sets the minimum version. Raising it ends every verified handshake and
    /// every session below it (see the theory of operation); the session leaves are one
    /// membership change. Lowering it, or setting the same, ends nothing.
    mutating func setMinimumVersion(_ version: ProtocolVersion) {
        guard version != minimumVersion else { return }
        let raised = version > minimumVersion
        minimumVersion = version
        guard raised else { reached("minimum version lowered"); return }
        reached("minimum version raised")
        let handshakes = pending.filter {
            if case let .verified(_, _, handshakeVersion, _) = $0.value { return handshakeVersion < version }
            return false
        }.keys.sorted()
        for connection in handshakes {
            reached("raised minimum ended a handshake")
            end(connection, rule: .version, counts: false)
        }
        let outdated = versions.filter { $0.value < version }.keys.sorted()
        for patient in outdated {
            reached("raised minimum ended a session")
            guard let connection = active.removeValue(forKey: patient) else { continue }
            versions[patient] = nil
            begun[connection] = nil
        }
        if !outdated.isEmpty { membershipChanged() }
    }

    // MARK: - Registry (enroll and revoke)

    /// Operator revoke: fails when the id is not enrolled. Otherwise the id is treated as
    /// never enrolled from now on: whatever could make its requests differ from an unknown
    /// id's goes (its device blocks, its replay entries), the device-block table shrinks to
    /// the new bound (expired blocks forgotten first, then the ones closest to expiry evicted),
    /// its verified handshakes end (R-ID, not counted: their signatures had verified) and its
    /// session ends like a kick (a new epoch for the rest, no rejection).
    mutating func revoke(_ patient: PeerID) -> Bool {
        guard enrolled.remove(patient) != nil else { return false }
        reached("revoke")
        deviceBlocks = deviceBlocks.filter { $0.key.patient != patient }
        replay.removeAll { $0.patient == patient }
        shrinkDeviceTable()
        let verified = pending.filter {
            if case let .verified(_, other, _, _) = $0.value { return other == patient }
            return false
        }.keys.sorted()
        for connection in verified {
            reached("revoke ended a pending handshake")
            end(connection, rule: .identity, counts: false)
        }
        if active[patient] != nil { reached("revoke ended a session") }
        leave(patient)
        return true
    }

    /// Operator enroll of an id that is not enrolled (with its own, unchanged key): it is known
    /// again. Fails when the id is enrolled (no replace in the model).
    mutating func enroll(_ patient: PeerID) -> Bool {
        guard enrolled.insert(patient).inserted else { return false }
        reached("enroll again")
        return true
    }

    private mutating func shrinkDeviceTable() {
        guard deviceBlocks.count > deviceCapacity else { return }
        forgetExpired()
        while deviceBlocks.count > deviceCapacity,
              let victim = deviceBlocks.min(by: { ($0.value, $0.key) < ($1.value, $1.key) })?.key {
            deviceBlocks[victim] = nil
            reached("device block evicted by a revoke")
        }
    }

    // MARK: - Ending a pending handshake

    mutating func end(_ connection: ConnectionID, rule: RuleID, counts: Bool) {
        guard let state = pending.removeValue(forKey: connection) else { return }
        begun[connection] = nil
        rejections.append(Rejection(connection: connection, rule: rule))
        if counts { countFailure(state.source) }
    }

    // MARK: - R-SRC: sliding window of failures per source

    mutating func countFailure(_ source: SourceAddress) {
        var live = (failures[source] ?? []).filter(isLive)
        if failures[source] == nil && failures.count >= config.failureTableCapacity {
            forgetExpired()
            guard failures.count < config.failureTableCapacity else {
                reached("failure table full")
                return   // not counted
            }
        }
        live.append(wall)
        guard live.count >= config.failureThreshold else {
            failures[source] = live
            return
        }
        failures[source] = nil
        reached("source reached the threshold")
        blockSource(source)
    }

    /// A 24 h (configured) block on the source; the /24 or /48 when the table is full and the
    /// prefix covers a finer block; otherwise the table is saturated.
    mutating func blockSource(_ source: SourceAddress) {
        let until = wall + config.blockDurationMillis
        if let existing = inForce(sourceBlocks[source]) {
            sourceBlocks[source] = max(existing, until)
            return
        }
        if sourceBlocks[source] == nil && sourceBlocks.count + prefixBlocks.count >= config.sourceBlockCapacity {
            forgetExpired()
        }
        if sourceBlocks[source] != nil || sourceBlocks.count + prefixBlocks.count < config.sourceBlockCapacity {
            sourceBlocks[source] = until
            return
        }
        let prefix = source.prefix
        let covered = sourceBlocks.filter { $0.key.prefix == prefix && inForce($0.value) != nil }
        let existingPrefix = inForce(prefixBlocks[prefix])
        guard existingPrefix != nil || !covered.isEmpty else {
            reached("block table saturated")
            saturated = true
            return
        }
        reached("prefix block")
        prefixBlocks[prefix] = ([until, existingPrefix ?? 0] + covered.values).max()
        for finer in covered.keys { sourceBlocks[finer] = nil }
    }

    /// Forgets expired blocks and failure times; the block table may have room again.
    mutating func forgetExpired() {
        if mutant != .blocksNeverExpire {
            sourceBlocks = sourceBlocks.filter { $0.value > wall }
            prefixBlocks = prefixBlocks.filter { $0.value > wall }
            deviceBlocks = deviceBlocks.filter { $0.value > wall }
        }
        failures = failures.compactMapValues { times in
            let live = times.filter(isLive)
            return live.isEmpty ? nil : live
        }
        if saturated && sourceBlocks.count + prefixBlocks.count < config.sourceBlockCapacity { saturated = false }
    }

    // MARK: - R-SKV: device blocks

    mutating func blockDevice(_ device: DeviceKey) {
        let until = max(wall + config.blockDurationMillis, inForce(deviceBlocks[device]) ?? 0)
        if deviceBlocks[device] == nil && deviceBlocks.count >= deviceCapacity { forgetExpired() }
        if deviceBlocks[device] == nil && deviceBlocks.count >= deviceCapacity,
           let victim = deviceBlocks.min(by: { ($0.value, $0.key) < ($1.value, $1.key) })?.key {
            deviceBlocks[victim] = nil   // closest to expiry goes (ties: lowest (id, source))
            reached("device block evicted")
        }
        deviceBlocks[device] = until
    }

    // MARK: - R-REPLAY

    func replayContains(_ capture: Int) -> Bool {
        replay.contains { $0.capture == capture && $0.expiry > mono }
    }

    enum ReplayInsert { case inserted, duplicate, quotaExceeded, full }

    /// Check-and-insert (§7.3): a live duplicate, then the id's quota, then the whole cache.
    mutating func replayInsert(_ request: Request) -> ReplayInsert {
        replay.removeAll { $0.expiry <= mono }
        if replayContains(request.capture) { return .duplicate }
        if replay.filter({ $0.patient == request.patient }).count >= config.replayQuotaPerID { return .quotaExceeded }
        if replay.count >= config.replayCacheCapacity { return .full }
        replay.append((request.capture, request.patient, mono + 2 * config.timeWindowMillis))
        return .inserted
    }
}
