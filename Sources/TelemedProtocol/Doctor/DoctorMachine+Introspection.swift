import TelemedCrypto

// Read-only views of the doctor's state for its host (console, monitoring, simulator) and
// tests. None of them changes anything or reads a clock: a time-dependent view takes the
// wall time as an argument.

extension DoctorMachine {
    /// The last receipt (DEC_MSG) the doctor accepted from a member.
    public struct MemberReceipt: Sendable, Equatable {
        /// The epoch the receipt acknowledges (as the patient wrote it; it may name a broadcast
        /// the doctor never sent, which is audited as an unknown receipt).
        public let epoch: UInt64
        /// The broadcast sequence number the receipt acknowledges.
        public let seq: UInt64
        /// The doctor's wall clock (UTC ms) when the receipt was accepted.
        public let wall: UInt64

        /// A receipt for broadcast (`epoch`, `seq`) accepted at `wall`.
        public init(epoch: UInt64, seq: UInt64, wall: UInt64) {
            self.epoch = epoch
            self.seq = seq
            self.wall = wall
        }
    }

    /// A block in force: what it covers and when it ends.
    public struct BlockInForce: Sendable, Equatable {
        /// The blocked source, prefix or device.
        public let target: BlockTarget
        /// The wall-clock time (UTC ms) at which the block ends.
        public let until: UInt64

        /// A block on `target` until `until`.
        public init(target: BlockTarget, until: UInt64) {
            self.target = target
            self.until = until
        }
    }

    // MARK: - Introspection

    /// The security state to save (also emitted change by change as `.persist`).
    public var securityState: SecurityState { policy.state }
    /// T0, the start time (R-START).
    public var startTime: UInt64 { policy.state.startTime }
    /// Active patients in ascending id order.
    public var activePatients: [PeerID] { table.members.keys.sorted() }
    /// The connection of an active patient.
    public func connection(of patient: PeerID) -> ConnectionID? { table.members[patient]?.connection }
    /// The last receipt accepted from an active patient during its current session (nil for a
    /// patient that is not active or has not acknowledged a broadcast yet). A receipt counts
    /// here whether or not it names a broadcast the doctor sent; the entry leaves with the
    /// member (a replacing session of the same id starts without one).
    public func lastReceipt(of patient: PeerID) -> MemberReceipt? { table.members[patient]?.lastReceipt }
    /// The number of active patients that have sent at least one receipt in their session.
    public var membersWithReceipt: Int { table.members.values.lazy.filter { $0.lastReceipt != nil }.count }
    /// The number of connections that are not yet active (those whose request is being
    /// verified included).
    public var pendingHandshakes: Int { table.handshakes.count }
    /// Handshakes that ended while their request was being verified and still hold a pending
    /// slot (source, prefix and total limits) until their job's result is applied.
    public var retiredHandshakes: Int { table.retired.count }
    /// Entries in the replay cache.
    public var replayCacheCount: Int { replay.count }
    /// Connections the machine tracks (pending handshakes and active patients).
    public var connectionCount: Int { table.count }
    /// True while unauthenticated requests are refused because the block table is saturated.
    public var refusesUnauthenticated: Bool { policy.refusesUnauthenticated }
    /// The number of enrolled patients.
    public var enrolledCount: Int { registry.count }
    /// True while membership changes wait for the end of the epoch window (PROTOCOL.md §7.1).
    public var hasPendingEpoch: Bool { pendingEpoch != nil }
    /// Members that have not been sent a GROUP_KEY yet (they joined inside the epoch window).
    public var membersAwaitingGroupKey: Int { table.members.values.lazy.filter { !$0.keyed }.count }
    /// Broadcasts sent in the current epoch.
    public var broadcastsInEpoch: UInt64 { groupKey?.broadcasts.nextSeq ?? 0 }
    /// The block on a source at `wall`, if any.
    public func sourceBlock(_ source: SourceAddress, at wall: UInt64) -> UInt64? {
        policy.sourceBlockExpiry(source, now: wall)
    }
    /// The device block on (id, source) at `wall`, if any.
    public func deviceBlock(_ device: DeviceKey, at wall: UInt64) -> UInt64? {
        policy.deviceBlockExpiry(device, now: wall)
    }
    /// Every source, prefix and device block still in force at wall time `wall` (expiry after
    /// `wall`), ordered by the target's description. Blocks that have expired but are not yet
    /// purged from the security state are left out, exactly as the machine ignores them.
    public func activeBlocks(at wall: UInt64) -> [BlockInForce] {
        let state = policy.state
        var blocks: [BlockInForce] = []
        blocks += state.sourceBlocks.filter { $0.value > wall }.map { BlockInForce(target: .source($0.key), until: $0.value) }
        blocks += state.prefixBlocks.filter { $0.value > wall }.map { BlockInForce(target: .prefix($0.key), until: $0.value) }
        blocks += state.deviceBlocks.filter { $0.value > wall }.map { BlockInForce(target: .device($0.key), until: $0.value) }
        return blocks.sorted { $0.target.description < $1.target.description }
    }
    /// A digest identifying the current GK (for invariant checks; never the key itself).
    public var groupKeyFingerprint: Bytes32? {
        groupKey.map { KeySchedule.fingerprint(of: $0.key) }
    }

    // MARK: - Views of the connection table (tests and invariant checks)

    /// Members by id (read-only; change them through the ``ConnectionTable``).
    var members: [PeerID: Member] { table.members }

    /// Every tracked connection with its stage, assembled from the connection table.
    var connections: [ConnectionID: Connection] {
        var all = table.handshakes.mapValues(\.stage)
        for (connection, patient) in table.memberByConnection { all[connection] = .active(patient) }
        return all
    }
}
