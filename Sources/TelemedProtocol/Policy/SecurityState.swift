/// A patient device: the claimed id seen from one source (R-SKV blocks this pair).
public struct DeviceKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The patient id.
    public let patient: PeerID
    /// The source the wrong SKV came from.
    public let source: SourceAddress

    /// Pairs an id with a source.
    public init(patient: PeerID, source: SourceAddress) {
        self.patient = patient
        self.source = source
    }

    public static func < (lhs: DeviceKey, rhs: DeviceKey) -> Bool {
        (lhs.patient, lhs.source) < (rhs.patient, rhs.source)
    }

    public var description: String { "\(patient)@\(source)" }
}

/// What a block applies to; also what an operator names to lift one.
public enum BlockTarget: Sendable, Hashable, CustomStringConvertible {
    /// One source address (IPv4 /32, IPv6 /64).
    case source(SourceAddress)
    /// A /24 or /48 recorded when the source-block table was full.
    case prefix(SourcePrefix)
    /// A (patient id, source) pair blocked after a wrong SKV.
    case device(DeviceKey)

    public var description: String {
        switch self {
        case let .source(source): return "source \(source)"
        case let .prefix(prefix): return "prefix \(prefix)"
        case let .device(device): return "device \(device)"
        }
    }
}

/// Everything the doctor must not forget across a restart (R-BLOCK, R-START, R-SRC).
///
/// It is a plain value: the host saves it (or applies each ``SecurityChange`` as it is emitted)
/// and hands it back to ``DoctorMachine/init(configuration:group:identity:privateKey:registry:restoring:)``.
/// Expiry times are on the doctor's wall clock (UTC ms); nothing a peer sends moves them.
public struct SecurityState: Sendable, Equatable {
    /// T0, the largest start time ever recorded (R-START).
    public var startTime: UInt64 = 0
    /// Source blocks: source → expiry.
    public var sourceBlocks: [SourceAddress: UInt64] = [:]
    /// Prefix blocks (recorded when the source-block table is full): prefix → expiry.
    public var prefixBlocks: [SourcePrefix: UInt64] = [:]
    /// Device blocks: (id, source) → expiry.
    public var deviceBlocks: [DeviceKey: UInt64] = [:]
    /// Failure times per source inside the sliding window (at most the threshold each).
    public var failures: [SourceAddress: [UInt64]] = [:]
    /// Device blocks per id, with the time each was set, for the repeated-block alert.
    public var deviceBlockHistory: [PeerID: [DeviceBlockRecord]] = [:]

    /// An empty state (a first start).
    public init() {}

    /// The number of source-block table entries (sources and prefixes share the table).
    public var sourceTableCount: Int { sourceBlocks.count + prefixBlocks.count }
}

/// One device block of an id, kept 24 h for the repeated-block alert.
public struct DeviceBlockRecord: Sendable, Equatable {
    /// Where the wrong SKV came from.
    public var source: SourceAddress
    /// When it was blocked (wall ms).
    public var at: UInt64

    /// A record (hosts rebuild these when they restore a saved state).
    public init(source: SourceAddress, at: UInt64) {
        self.source = source
        self.at = at
    }
}

/// One change to ``SecurityState``, emitted as an action so the host can write it durably
/// before it applies any action that follows it.
public enum SecurityChange: Sendable, Equatable {
    /// T0 was raised to this value.
    case startTimeRecorded(UInt64)
    /// A failure from this source was counted at this time.
    case failureCounted(SourceAddress, at: UInt64)
    /// The failures of a source were cleared (it was blocked, or its window emptied).
    case failuresCleared(SourceAddress)
    /// A block was set or extended until the given wall time.
    case blocked(BlockTarget, until: UInt64)
    /// A block was removed: expired, replaced by a prefix block, evicted, lifted by hand, or its
    /// patient revoked.
    case unblocked(BlockTarget, reason: UnblockReason)
}

/// Why a block went away.
public enum UnblockReason: String, Sendable, Equatable, Codable {
    /// Its time ran out on the doctor's clock.
    case expired
    /// A prefix block replaced it.
    case coveredByPrefix
    /// The device-block table was full and this one was closest to expiry.
    case evicted
    /// The operator lifted it.
    case operatorUnblock
    /// The device's patient was revoked, or its key replaced: an id that is not enrolled holds
    /// no device block, exactly like an id that never was (R-ID).
    case patientRevoked
}
