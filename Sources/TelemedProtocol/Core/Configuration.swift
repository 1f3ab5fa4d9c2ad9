import TelemedCrypto

/// Why a configuration value was refused.
public enum ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A value lies outside its documented bounds.
    case outOfBounds(field: String, value: Int, allowed: ClosedRange<Int>)

    public var description: String {
        switch self {
        case let .outOfBounds(field, value, allowed):
            return "\(field) = \(value) is outside \(allowed.lowerBound)...\(allowed.upperBound)"
        }
    }
}

/// The doctor's security policy and table bounds (PROTOCOL.md §5, "Defaults and bounds").
///
/// Every field has the documented default; ``validated()`` refuses values outside the bounds.
public struct DoctorConfiguration: Sendable, Equatable {
    /// ΔTS, the accepted clock difference, in milliseconds. Default 30 s; 1–300 s.
    public var timeWindowMillis: UInt64 = 30_000
    /// From accept until the patient is active. Default 10 s; 1–60 s.
    public var handshakeTimeoutMillis: UInt64 = 10_000
    /// R-SRC: failures within ``failureWindowMillis`` that block a source. Default 5; 1–100.
    public var failureThreshold: Int = 5
    /// R-SRC window. Default 15 min; 1–1440 min.
    public var failureWindowMillis: UInt64 = 15 * 60_000
    /// Duration of source and device blocks. Default 24 h; 1 min–7 days.
    public var blockDurationMillis: UInt64 = 24 * 3_600_000
    /// Pending handshakes one source may hold. Default 4.
    public var pendingPerSource: Int = 4
    /// Pending handshakes one /24 or /48 may hold. Default 32.
    public var pendingPerPrefix: Int = 32
    /// Pending handshakes in all. Default 1,024.
    public var pendingTotal: Int = 1_024
    /// Source-block table entries. Default 65,536.
    public var sourceBlockCapacity: Int = 65_536
    /// Failure-counter table entries (one per source). Default 65,536.
    public var failureTableCapacity: Int = 65_536
    /// Device blocks per enrolled patient (the table holds this × enrolled). Default 16.
    public var deviceBlocksPerPatient: Int = 16
    /// Verified (id, rn) pairs remembered for 2·ΔTS. Default 65,536.
    public var replayCacheCapacity: Int = 65_536
    /// Live replay-cache entries one patient id may hold (PROTOCOL.md §7.3): a verified
    /// request beyond it is refused (R-LIMIT). Default 64; 1–10^6.
    public var replayQuotaPerID: Int = 64
    /// Active patients at once. Default 10,000.
    public var maxActivePatients: Int = 10_000
    /// Distinct sources whose device blocks of one id within 24 h raise an alert. Default 2.
    public var repeatedDeviceBlockAlertSources: Int = 2
    /// A connection whose queued frames cannot be written for this long is closed (the host
    /// passes it to its transport, which alone sees writes complete, and reports the close as
    /// `ConnectionEnd.writeTimeout`; a member leaves with `LeaveReason.writeTimeout`).
    /// Default 10 s; 1–600 s.
    public var writeTimeoutMillis: UInt64 = 10_000
    /// The most bytes (length prefixes included) that may wait unwritten for one connection; a
    /// send beyond it closes the connection (`ConnectionEnd.outboundQueueFull`; a member leaves
    /// with `LeaveReason.outboundQueueFull`). Enforced by the host's transport. Default 1 MiB;
    /// 65,540 bytes (one largest frame) to 64 MiB.
    public var outboundQueueBytes: Int = 1 << 20
    /// The coalescing window W of batched epochs (PROTOCOL.md §7.1): membership changes within
    /// W of the first change after an epoch began share one new epoch. 0 starts one epoch per
    /// change (v1). Default 20 ms; 0–1,000 ms.
    public var epochWindowMillis: UInt64 = 20
    /// The lowest protocol version accepted (PROTOCOL.md §8.6): a request of a lower version is
    /// refused (R-VERSION) after the strict parse, before any other check, and not counted.
    /// Default 2, as PROTOCOL.md §8.6 asks of new deployments. 1 is the migration setting
    /// (§8.6: upgrade the doctor first with minimum 1, then the devices, then raise it to 2 at
    /// run time with ``DoctorMachine/setMinimumVersion(_:now:using:)``).
    public var minimumVersion: ProtocolVersion = .v2

    /// Addresses and networks whose unauthenticated failures are never counted (R-SRC) and
    /// which no source or prefix block refuses; empty by default, at most
    /// ``maxTrustedSources`` entries. Device blocks (R-SKV) still apply to them. See the
    /// "Trusted sources" section of the security rules for exactly what is exempt.
    public var trustedSources: [TrustedSource] = []

    /// The most ``trustedSources`` entries a configuration may hold (each failure is matched
    /// against every entry).
    public static let maxTrustedSources = 1_024

    /// The defaults.
    public init() {}

    /// Returns `self` after checking every bound (the ranges of ``settings``, in their order,
    /// then the number of ``trustedSources``).
    public func validated() throws(ConfigurationError) -> DoctorConfiguration {
        for setting in Self.settings { try setting.check(setting.value(in: self)) }
        try Self.check("trustedSources (entries)", trustedSources.count, 0...Self.maxTrustedSources)
        return self
    }

    static func check(_ field: String, _ value: Int, _ allowed: ClosedRange<Int>) throws(ConfigurationError) {
        guard allowed.contains(value) else { throw .outOfBounds(field: field, value: value, allowed: allowed) }
    }
}

/// A patient's timing policy.
public struct PatientConfiguration: Sendable, Equatable {
    /// ΔTS in milliseconds. Default 30 s; 1–300 s.
    public var timeWindowMillis: UInt64 = 30_000
    /// From sending KEY_VERIFICATION until the first GROUP_KEY opens. Default 10 s; 1–60 s.
    public var handshakeTimeoutMillis: UInt64 = 10_000
    /// The doctor's epoch window W that the patient allows for (PROTOCOL.md §7.1): after its
    /// KEY_CONFIRMATION it waits for the first GROUP_KEY until the handshake timeout or W after
    /// the confirmation, whichever ends later. Default 20 ms (the doctor's default); 0–1,000 ms.
    public var epochWindowMillis: UInt64 = 20
    /// The one protocol version this device speaks (PROTOCOL.md §8.6): it sends only that
    /// version's request, accepts only that version's answer and never falls back. Default 2
    /// (new devices); 1 only for a device whose doctor still accepts version 1. A patient
    /// credential records the version its device was set up with (`PatientCredential/version`).
    public var version: ProtocolVersion = .v2

    /// The defaults.
    public init() {}

    /// Returns `self` after checking every bound.
    public func validated() throws(ConfigurationError) -> PatientConfiguration {
        try DoctorConfiguration.check("epochWindowMillis", Int(clamping: epochWindowMillis), 0...1_000)
        try DoctorConfiguration.check("timeWindowMillis", Int(clamping: timeWindowMillis), 1_000...300_000)
        try DoctorConfiguration.check("handshakeTimeoutMillis", Int(clamping: handshakeTimeoutMillis), 1_000...60_000)
        return self
    }
}
