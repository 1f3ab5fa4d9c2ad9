import TelemedProtocol

// MARK: - Scenario

/// One scenario file: the cast (doctor, patients, attackers), configuration overrides, the
/// network's behaviour and a timed script of steps with expectations. Read it with
/// ``ScenarioDecoder``; run it with ``ScenarioRunner``.
public struct Scenario: Sendable {
    /// The file's name without `.json` (`replay-attack`).
    public var name: String
    /// One sentence saying what the scenario shows.
    public var title: String
    /// The seed used when none is given on the command line.
    public var seed: UInt64
    /// False when the expectations only hold for the committed seed (the determinism tests
    /// then do not try another one).
    public var anySeed: Bool
    /// False: a folder run (`simulate Fixtures/`, the fixture tests) leaves this scenario out;
    /// it runs when its file is named (a login storm that takes minutes).
    public var sweep: Bool = true
    /// The doctor.
    public var doctor: DoctorSpec
    /// Enrolled (and unenrolled) patients; their keys come from the seed. The members of every
    /// `patientGroups` entry are listed here too, after the patients written one by one.
    public var patients: [PatientSpec]
    /// The patient groups (`patientGroups`), each a compact declaration of many patients that
    /// steps and expectations name at once as `group:NAME`.
    public var patientGroups: [PatientGroupSpec] = []
    /// Scripted attackers: raw endpoints at their own addresses.
    public var attackers: [AttackerSpec]
    /// The doctor's policy, defaults overridden by the file.
    public var doctorConfiguration: DoctorConfiguration
    /// Every patient's timing policy.
    public var patientConfiguration: PatientConfiguration
    /// Latency and faults.
    public var network: NetworkSpec
    /// Virtual time zero on the wall clock (UTC ms).
    public var startWall: UInt64
    /// The script.
    public var steps: [Step]
}

/// The doctor's identity and address.
public struct DoctorSpec: Sendable {
    /// ID_GWN.
    public var id: String
    /// Its IP address on the simulated network, normalised at load (see `HostText`).
    public var host: String
    /// Its port.
    public var port: Int
    /// Smallest time a handshake job (one phase of a KEY_VERIFICATION's crypto) takes, ms.
    public var jobLatencyMin: UInt64 = 1
    /// Largest time a handshake job takes, ms (each job's time is drawn from the seed).
    public var jobLatencyMax: UInt64 = 2
}

/// One patient of the cast.
public struct PatientSpec: Sendable {
    /// ID_i.
    public var id: String
    /// The address it connects from unless a step says otherwise (normalised at load).
    public var host: String
    /// False for a patient the doctor does not know (its key is still generated).
    public var enrolled: Bool
    /// The initial offset of its wall clock from true time, in ms.
    public var clockOffsetMillis: Int64
    /// The `patientGroups` entry it was declared by, if any.
    public var group: String? = nil
    /// The protocol version its device speaks, when it differs from `patientConfig`'s (a
    /// version-1 device beside version-2 ones against a minimum-1 doctor, PROTOCOL.md §8.6).
    public var version: ProtocolVersion? = nil
}

/// Many patients declared at once (`patientGroups`): `count` patients named `NAME` followed by
/// their number, zero-padded to the width of `count` (`p00001` … `p10000`), at consecutive
/// addresses `hostStep` apart from `host`. Each has its own key from the seed and, when
/// enrolled, its own registry entry, exactly like a patient written out one by one.
public struct PatientGroupSpec: Sendable {
    /// The group's name, and the prefix of its members' ids (`group:NAME` names them all).
    public var name: String
    /// How many patients.
    public var count: Int
    /// The first member's address (normalised at load).
    public var host: String
    /// The distance between two members' addresses (1: consecutive; 256: one per IPv4 /24).
    public var hostStep: UInt64
    /// Whether the members are enrolled.
    public var enrolled: Bool
    /// Every member's initial clock offset, ms.
    public var clockOffsetMillis: Int64
    /// The members' ids in number order.
    public var ids: [String]
}

/// One scripted attacker.
public struct AttackerSpec: Sendable {
    /// Its name in steps.
    public var name: String
    /// The address its connections come from unless a step says otherwise (normalised at load).
    public var host: String
}

/// The simulated network's behaviour. Every random choice comes from the seed.
public struct NetworkSpec: Sendable, Equatable {
    /// Smallest one-way latency, ms.
    public var latencyMin: UInt64 = 1
    /// Largest one-way latency, ms.
    public var latencyMax: UInt64 = 20
    /// Probability that a frame is lost; TCP cannot lose a frame silently, so the loss
    /// resets the connection.
    public var drop: Double = 0
    /// Probability that a frame arrives twice (a replay on the path).
    public var duplicate: Double = 0
    /// Probability that a frame may overtake earlier frames of its connection.
    public var reorder: Double = 0

    /// No faults, 1–20 ms latency.
    public init() {}
}
