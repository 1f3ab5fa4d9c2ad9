// Theory of operation
// ===================
// `DoctorMachine` is the gateway (GWN) of PROTOCOL.md as a pure state machine: it performs no
// I/O, reads no clock and draws no system randomness. The host feeds it past-tense inputs —
// a connection opened, a frame received, a connection closed, a timer fired, an operator
// command — each with an `Instant` (and a random number generator where the input may need
// fresh randomness), and it answers with an ordered list of `DoctorAction`s: frames to send,
// connections to close, timers to (un)schedule, security changes to persist, events to audit.
//
// Every connection is in exactly one stage:
//   awaitingRequest       accepted; nothing verified yet (its failures before the signature count
//                         against the source, except blocks, full tables, R-TIME and R-START)
//   awaitingConfirmation  a KEY_VERIFICATION verified and a SESSION_TOKEN went out
//   active                KEY_CONFIRMATION matched; the patient's SK is part of GK_e
// and leaves it only forward or to closed. The handshake timer runs from accept until active.
// Each connection's stage is recorded once, in the `ConnectionTable`: the pending handshakes
// (the first two stages) by connection, and the members (the active stage) by id with an index
// from connection to id that only the table changes, together with the member, so a member's
// connection and its data cannot disagree. What the machine knows about a member — its last receipt included — lives in
// that member's entry and leaves with it; the introspection (`lastReceipt(of:)`,
// `activeBlocks(at:)`, …) reads this state and never changes it.
//
// Between the first two stages a handshake may be `verifying`: its KEY_VERIFICATION passed the
// cheap checks and the expensive crypto runs as a `HandshakeJob` (DoctorMachine+Jobs.swift);
// a connection that ends in that stage keeps its pending slot until the job's result is back.
//
// A rejected input changes nothing but what the rules name (the connection closes, source
// failures are counted, a wrong SKV blocks the device, an active patient's rejection is a
// leave). Work is computed into locals first and committed only on the success path; security
// changes are emitted as `.persist` actions before the answer that depends on them.

import TelemedCrypto

/// The doctor's gateway: authenticates many patients, keeps the group key, broadcasts.
public struct DoctorMachine: Sendable {
    // MARK: Identity and configuration

    /// The policy and table bounds in force.
    public let configuration: DoctorConfiguration
    /// The one group this deployment uses (R-GROUP).
    public let group: TelemedGroup
    /// ID_GWN.
    public let identity: PeerID
    let privateKey: PrivateKey
    /// The enrolled patients, id → public key. Changed only by the operator inputs
    /// ``enroll(_:publicKey:replace:now:using:)`` and ``revoke(_:now:using:)``.
    var registry: [PeerID: PublicKey]
    /// A fixed valid key that unknown ids are verified against, so the work and the answer
    /// match a bad signature (R-ID).
    let dummyKey: PublicKey
    let groupKeySecret: GroupKeySecret
    let codec: MessageCodec

    // MARK: Mutable state

    var policy: SecurityPolicy
    var replay: ReplayCache
    /// Pending handshakes and members: the one record of every tracked connection.
    var table = ConnectionTable()
    /// The current epoch (0 before the first join).
    public internal(set) var epoch: UInt64 = 0
    /// GK_e and its broadcast counter; nil while nobody is active.
    var groupKey: EpochKey?
    /// The membership changes waiting for the next epoch (PROTOCOL.md §7.1); nil when the
    /// current epoch reflects every change. Only ever set while the window is above 0.
    var pendingEpoch: PendingEpoch?
    /// Broadcasts sent per epoch (for receipts), bounded to the most recent epochs.
    var broadcastCounts: [UInt64: UInt64] = [:]
    var clockBehindEpisode = false
    var started = false
    /// The lowest request version accepted (PROTOCOL.md §8.6): from the configuration, raised
    /// or lowered at run time with ``setMinimumVersion(_:now:using:)``.
    public internal(set) var minimumVersion: ProtocolVersion
    /// Who runs the handshake jobs (see ``HandshakeJobExecution``); `.inline` by default.
    public var handshakeJobs: HandshakeJobExecution = .inline
    /// The number the next handshake job gets.
    var nextJobNumber: UInt64 = 1
    /// A rule broken on purpose by a machine-mutant test; `nil` (no fault) everywhere else.
    package var fault: Fault?

    /// Builds a gateway. Call ``start(now:)`` before any other input.
    ///
    /// - Parameters:
    ///   - configuration: the policy and table bounds; checked with ``DoctorConfiguration/validated()``.
    ///   - group: the deployment's one group.
    ///   - identity: ID_GWN, pinned at every patient.
    ///   - privateKey: the doctor's key, in `group`.
    ///   - registry: the enrolled patients, id → public key (each in `group`).
    ///   - state: the security state saved by an earlier run (blocks, counters, T0).
    public init(configuration: DoctorConfiguration, group: TelemedGroup, identity: PeerID,
                privateKey: PrivateKey, registry: [PeerID: PublicKey],
                restoring state: SecurityState = SecurityState()) throws(ConfigurationError) {
        let configuration = try configuration.validated()
        precondition(privateKey.group == group, "the doctor's key must be in the deployment's group")
        precondition(registry.values.allSatisfy { $0.group == group }, "every enrolled key must be in the deployment's group")
        self.configuration = configuration
        self.minimumVersion = configuration.minimumVersion
        self.group = group
        self.identity = identity
        self.privateKey = privateKey
        self.registry = registry
        self.dummyKey = DoctorMachine.makeDummyKey(group: group)
        self.groupKeySecret = KeySchedule.groupKeySecret(doctorKey: privateKey)
        self.codec = MessageCodec(groupName: group.name, elementLength: group.elementLength)
        self.policy = SecurityPolicy(state: state, configuration: configuration, enrolledPatients: registry.count)
        self.replay = ReplayCache(capacity: configuration.replayCacheCapacity,
                                  quotaPerID: configuration.replayQuotaPerID,
                                  lifetime: 2 * configuration.timeWindowMillis)
    }

    static func makeDummyKey(group: TelemedGroup) -> PublicKey {
        // g^2 is a valid element of every group; nobody holds its discrete log secretly, which
        // does not matter: a request for an unknown id is rejected whatever the outcome.
        let y = group.g.powMod(BigInt(2), group.p)
        do {
            return try PublicKey(group: group, y: y)
        } catch {
            preconditionFailure("g^2 must be a valid element of a validated group")
        }
    }

    // MARK: - Start

    /// Records T0 = max(persisted T0, wall clock) and drops expired blocks; persist the
    /// returned changes before accepting. The "refuse every unauthenticated request" state is
    /// then recomputed from the restored tables (PROTOCOL.md §7.5): a source-block table still
    /// at or over its capacity means the doctor starts in it, and the returned actions end with
    /// the `sourceBlockTableSaturated` alert. Every `.persist` comes before any `.event`.
    public mutating func start(now: Instant) -> [DoctorAction] {
        started = true
        let changes = policy.recordStart(wallClock: now.wall) + policy.purgeExpired(now: now.wall)
            + policy.resizeDeviceTable(enrolledPatients: registry.count, now: now.wall)
        let alerts = policy.recomputeSaturation()
        return changes.map { .persist($0) } + alerts.map { .event(.alert($0)) }
    }
}

// MARK: - Per-connection state

extension DoctorMachine {
    /// One connection's stage (see the theory of operation), as read from the
    /// ``ConnectionTable``: a view, never stored.
    enum Connection: Sendable {
        case awaitingRequest(Accepted)
        case verifying(Verifying)
        case awaitingConfirmation(Verified)
        case active(PeerID)

        var source: SourceAddress? {
            switch self {
            case let .awaitingRequest(accepted): return accepted.source
            case let .verifying(verifying): return verifying.source
            case let .awaitingConfirmation(verified): return verified.source
            case .active: return nil
            }
        }
    }

    /// A handshake in progress: the stages before active.
    enum Handshake: Sendable {
        case awaitingRequest(Accepted)
        case verifying(Verifying)
        case awaitingConfirmation(Verified)

        var source: SourceAddress {
            switch self {
            case let .awaitingRequest(accepted): return accepted.source
            case let .verifying(verifying): return verifying.source
            case let .awaitingConfirmation(verified): return verified.source
            }
        }

        /// The patient a handshake names once its request's signature verified (answering or
        /// awaiting KEY_CONFIRMATION); nil before.
        var namedPatient: PeerID? {
            switch self {
            case .awaitingRequest: return nil
            case let .verifying(verifying): return verifying.namedPatient
            case let .awaitingConfirmation(verified): return verified.patient
            }
        }

        var stage: Connection {
            switch self {
            case let .awaitingRequest(accepted): return .awaitingRequest(accepted)
            case let .verifying(verifying): return .verifying(verifying)
            case let .awaitingConfirmation(verified): return .awaitingConfirmation(verified)
            }
        }
    }

    /// A KEY_VERIFICATION passed every check up to the signature and a ``HandshakeJob`` for it
    /// is out: the signature phase, or (after the signature verified and the request entered
    /// the replay cache) the answer phase. Everything needed to apply the result.
    struct Verifying: Sendable {
        let source: SourceAddress
        /// The request's fields shared by both versions.
        let request: KeyVerification
        /// dh_i of a version-2 request (opcode 12); nil for version 1 (opcode 10).
        let share: ElementBytes?
        /// The key enrolled for the claimed id when the request arrived; nil for an unknown id.
        let patientKey: PublicKey?
        /// The number of the job this handshake waits for.
        let job: UInt64
        let phase: HandshakePhase

        /// The handshake's version, fixed by its first frame (PROTOCOL.md §8.6).
        var version: ProtocolVersion { share == nil ? .v1 : .v2 }

        /// The id the handshake names: only once its signature verified (the answer phase).
        var namedPatient: PeerID? { phase == .answer ? request.idI : nil }
    }

    /// Accepted; the handshake timer runs; nothing verified.
    struct Accepted: Sendable {
        let source: SourceAddress
    }

    /// KEY_VERIFICATION verified and answered; waiting for KEY_CONFIRMATION.
    struct Verified: Sendable {
        let source: SourceAddress
        let patient: PeerID
        let sessionKey: SessionKey
        /// The handshake's version (its SK's formula).
        let version: ProtocolVersion
    }

    /// Membership changes since the current epoch began, inside the coalescing window.
    struct PendingEpoch: Sendable {
        /// Members that joined in the window and have not been sent a GROUP_KEY yet, in the
        /// order they joined (they are served first when the epoch starts).
        var joiners: [PeerID] = []
    }

    /// The current epoch's group key with the sealing key that numbers its broadcasts from 0.
    struct EpochKey: Sendable {
        let key: GroupKey
        var broadcasts: SealingKey
    }

    /// An active patient: its SK is part of GK_e.
    struct Member: Sendable {
        let patient: PeerID
        let connection: ConnectionID
        let source: SourceAddress
        let sessionKey: SessionKey
        /// The version of the handshake that made this session (PROTOCOL.md §8.6, §8.7).
        let version: ProtocolVersion
        /// k_d2p with its counter (GROUP_KEY and DISCONNECT share it).
        var sending: SealingKey
        /// k_p2d with the last accepted seq (DEC_MSG and DISCONNECT).
        var receiving: OpeningKey
        /// The last receipt (DEC_MSG) accepted from this member, if any.
        var lastReceipt: MemberReceipt?
        /// Whether a GROUP_KEY has been sent to it. A member that joined inside an epoch
        /// window is not keyed until the pending epoch starts; until then it is sent nothing
        /// else, and a kick, replacement, revocation or shutdown closes it without a frame.
        var keyed = false
    }
}
