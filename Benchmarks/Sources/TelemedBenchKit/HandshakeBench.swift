// The doctor-side handshake as DoctorMachine runs it: connectionOpened + frameReceived
// (KEY_VERIFICATION, or KEY_VERIFICATION_V2 for version 2) producing SESSION_TOKEN (or
// SESSION_TOKEN_V2), and separately frameReceived(KEY_CONFIRMATION)
// producing the join, plus the `epochWindow` timer fire that starts the join's epoch and
// seals its GROUP_KEY (the default configuration batches epochs, PROTOCOL.md §7.1; the timer
// is fired at once because only the doctor's CPU is timed here, not the window's wait). The
// doctor is otherwise empty, so that epoch has one member: this is the cost of one login on an
// idle doctor. Every step takes a fresh patient request (the replay cache would refuse a
// repeated one); the patient's own work happens outside the timed parts.

@_spi(Testing) import TelemedCrypto
import TelemedProtocol

/// Drives one doctor through complete handshakes, one per `step()`.
public struct HandshakeBench {
    /// The strategy the doctor's group and keys use.
    public let strategy: ExponentiationStrategy
    /// The version every handshake speaks: the patients are configured for it and the doctor's
    /// minimum version is it (PROTOCOL.md §8.6), whatever the library defaults are.
    public let version: ProtocolVersion
    let group: TelemedGroup
    var doctor: DoctorMachine
    let doctorID: PeerID
    let doctorPublic: PublicKey
    let patients: [(id: PeerID, key: PrivateKey)]
    let source: SourceAddress
    let now: Instant
    var rng: SeededRandom
    var nextConnection: UInt64 = 1
    var index = 0

    /// A doctor over `base` computing with `strategy`, with `patientCount` enrolled patients,
    /// every handshake of `version`.
    public init(group base: TelemedGroup, strategy: ExponentiationStrategy, version: ProtocolVersion,
                patientCount: Int = 8) throws {
        self.strategy = strategy
        self.version = version
        group = base.using(strategy)
        var keyRng = SeededRandom(seed: Array("handshake-keys:\(base.name)".utf8))
        let doctorKey = try PrivateKey(group: group, scalarBytes: PrivateKey(generatingIn: group, using: &keyRng).scalarBytes)
        var enrolled: [(id: PeerID, key: PrivateKey)] = []
        for i in 0..<patientCount {
            enrolled.append((try PeerID("patient-\(i)"), PrivateKey(generatingIn: group, using: &keyRng)))
        }
        patients = enrolled
        doctorID = try PeerID("doctor")
        // A patient pins the doctor's key once: prepare it for encryption (accelerated only).
        doctorPublic = strategy == .accelerated ? doctorKey.publicKey.precomputingEncryptionTable() : doctorKey.publicKey
        let registry = Dictionary(uniqueKeysWithValues: enrolled.map { ($0.id, $0.key.publicKey) })
        // An epoch window of 0: each join starts its epoch at once, so the KEY_CONFIRMATION row
        // holds the GROUP_KEY it describes (the default 20 ms window would defer it to a timer).
        var configuration = DoctorConfiguration()
        configuration.epochWindowMillis = 0
        configuration.minimumVersion = version
        doctor = try DoctorMachine(configuration: configuration, group: group, identity: doctorID,
                                   privateKey: doctorKey, registry: registry)
        guard let address = SourceAddress(addressBytes: [192, 0, 2, 10]) else { throw BenchError.setup("source address") }
        source = address
        now = Instant(wall: 1_764_000_000_000, monotonic: 0)
        rng = SeededRandom(seed: Array("handshake:\(base.name):\(strategy)\(version == .v1 ? "" : ":v2")".utf8))
        _ = doctor.start(now: now)
    }

    /// One complete handshake; returns the nanoseconds of (open + KEY_VERIFICATION → SESSION_TOKEN)
    /// and of (KEY_CONFIRMATION → join, and the epoch window fired → its epoch and GROUP_KEY),
    /// and the thread CPU nanoseconds of both parts together.
    public mutating func step() throws -> (request: UInt64, confirmation: UInt64, cpu: UInt64) {
        let (id, key) = patients[index % patients.count]
        index += 1
        var patientConfiguration = PatientConfiguration()
        patientConfiguration.version = version
        var patient = try PatientMachine(configuration: patientConfiguration, identity: id, privateKey: key,
                                         doctorID: doctorID, doctorKey: doctorPublic)
        let request = try Self.sentBody(patient.connected(now: now, using: &rng))
        let connection = ConnectionID(nextConnection)
        nextConnection += 1

        let c0 = threadCPUNanoseconds()
        let t0 = monotonicNanoseconds()
        let opened = doctor.connectionOpened(connection, from: source, now: now)
        let answered = doctor.frameReceived(request, on: connection, now: now, using: &rng)
        let t1 = monotonicNanoseconds()
        let c1 = threadCPUNanoseconds()
        consume(opened)
        guard let token = Self.sentBody(answered, to: connection) else { throw BenchError.protocolFailure("no SESSION_TOKEN") }

        let confirmation = try Self.sentBody(patient.frameReceived(token, now: now, using: &rng))
        let c2 = threadCPUNanoseconds()
        let t2 = monotonicNanoseconds()
        var joined = doctor.frameReceived(confirmation, on: connection, now: now, using: &rng)
        if doctor.hasPendingEpoch { joined += doctor.timerFired(.epochWindow, now: now, using: &rng) }
        let t3 = monotonicNanoseconds()
        let c3 = threadCPUNanoseconds()
        guard Self.sentBody(joined, to: connection) != nil else { throw BenchError.protocolFailure("no GROUP_KEY") }
        // The leave opens a pending epoch (with no member left it starts nothing): close it
        // now, untimed, so that every step starts from the same empty doctor.
        consume(doctor.connectionClosed(connection, .closedByPeer, now: now, using: &rng))
        if doctor.hasPendingEpoch { consume(doctor.timerFired(.epochWindow, now: now, using: &rng)) }
        return (t1 - t0, t3 - t2, c1 - c0 + c3 - c2)
    }

    static func sentBody(_ actions: [PatientAction]) throws -> [UInt8] {
        for case let .send(body) in actions { return body }
        throw BenchError.protocolFailure("the patient sent nothing")
    }

    static func sentBody(_ actions: [DoctorAction], to connection: ConnectionID) -> [UInt8]? {
        for case let .send(target, body) in actions where target == connection { return body }
        return nil
    }
}

/// Why the suite could not run.
public enum BenchError: Error, CustomStringConvertible {
    /// A fixture could not be built.
    case setup(String)
    /// The protocol did not take the success path it was driven along.
    case protocolFailure(String)

    /// The reason.
    public var description: String {
        switch self {
        case let .setup(what): return "setup failed: \(what)"
        case let .protocolFailure(what): return "protocol run failed: \(what)"
        }
    }
}

/// The doctor-side work version 2 adds to a handshake (PROTOCOL.md §8.9), through the calls
/// `HandshakeJob`'s v2 answer makes: dh_i's element check (`DiffieHellmanShare`, A^q), the
/// hedged ephemeral b with B = g^b (`PrivateKey.hedgedEphemeral`), and Z = A^b
/// (`EphemeralKey.sharedSecret`). Added to the v1 handshake's median it gives the lowest v2/v1
/// ratio that this work allows, whatever the rest of the code does.
public struct AddedV2Work {
    let group: TelemedGroup
    let key: PrivateKey
    let share: [UInt8]
    var rng: SeededRandom

    /// The work in `base` under `strategy`, over a seeded doctor key and patient share.
    public init(group base: TelemedGroup, strategy: ExponentiationStrategy) {
        group = base.using(strategy)
        var seeded = SeededRandom(seed: Array("v2-added:\(base.name):\(strategy)".utf8))
        key = PrivateKey(generatingIn: group, using: &seeded)
        share = group.encodeElement(group.randomElement(using: &seeded))
        rng = seeded
    }

    /// One run (a fresh context and fresh k', so a fresh b); returns its nanoseconds.
    public mutating func run() throws -> UInt64 {
        let context = Bytes32(random: &rng)
        let t0 = monotonicNanoseconds()
        let patientShare = try DiffieHellmanShare(group: group, bytes: share)
        let ephemeral = key.hedgedEphemeral(context: context, using: &rng)
        let shared = ephemeral.sharedSecret(with: patientShare)
        let elapsed = monotonicNanoseconds() - t0
        consume((ephemeral.shareBytes, shared))
        return elapsed
    }
}
