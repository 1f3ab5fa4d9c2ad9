@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol
import struct TelemedTransport.IPAddress

/// A doctor and N patients in one process: the package's one ``MachineDriver``, unobserved (so
/// nothing it does needs `try`), with the conveniences of the machine tests' cast. Frames are
/// pumped between the machines in FIFO order, through a hook that can replace, drop or
/// duplicate any frame in flight (`pump(holdingBack:)` also holds frames back); every loop is
/// bounded.
typealias Harness = MachineDriver<Unobserved>

extension PatientConfiguration {
    /// The defaults, speaking version 1: the machine tests' patients (see
    /// `Harness.immediateEpochs`).
    static var version1: PatientConfiguration {
        var configuration = PatientConfiguration()
        configuration.version = .v1
        return configuration
    }
}

/// The machine tests' cast: one doctor identity in one group, keys derived from names.
enum HarnessCast {
    static let doctorID: PeerID = {
        do { return try PeerID("doctor") } catch { preconditionFailure("the test doctor's id is valid") }
    }()
    static let group = TelemedGroup.telemed2048
    static let keyCache = KeyCache()
}

extension MachineDriver where Observer == Unobserved {
    static var doctorID: PeerID { HarnessCast.doctorID }
    static var group: TelemedGroup { HarnessCast.group }
    static var keyCache: KeyCache { HarnessCast.keyCache }

    /// The machine tests' default: the spec's defaults with an epoch window of 0, so that every
    /// membership change starts its epoch at once (v1) and a test reads its GROUP_KEYs right
    /// after the change. Batched epochs (PROTOCOL.md §7.1) are tested with a window set
    /// (BatchedEpochTests) and in the model-based tests.
    /// The doctor accepts version 1 (minimum 1), because `connect` speaks version 1 unless
    /// asked for 2: the machine tests predate version 2, which has its own in Version2Tests.
    static var immediateEpochs: DoctorConfiguration {
        var configuration = DoctorConfiguration()
        configuration.epochWindowMillis = 0
        configuration.minimumVersion = .v1
        return configuration
    }

    /// A started doctor with `names` enrolled, at `start` (wall) and 0 (monotonic).
    init(patients names: [String], seed: UInt64 = 1, configuration: DoctorConfiguration = Harness.immediateEpochs,
         state: SecurityState = SecurityState(), start: UInt64 = 1_764_000_000_000) throws {
        var rng = SeededRandom(seed: seed)
        let doctorKey = Harness.keyCache.key("doctor")
        var keys: [PeerID: PrivateKey] = [:]
        for name in names { keys[try PeerID(name)] = Harness.keyCache.key(name) }
        let doctor = try DoctorMachine(configuration: configuration, group: Harness.group, identity: Harness.doctorID,
                                       privateKey: doctorKey, registry: keys.mapValues(\.publicKey), restoring: state)
        _ = rng.next()
        self.init(doctor: doctor, doctorKey: doctorKey, keys: keys, now: Instant(wall: start, monotonic: 0),
                  rng: rng, observer: Unobserved())
        applyDoctor(self.doctor.start(now: now))
    }

    /// Opens a connection for `name` from `source` and sends its KEY_VERIFICATION.
    @discardableResult
    mutating func connect(_ name: String, from source: String = "192.0.2.10",
                          key: PrivateKey? = nil, version: ProtocolVersion = .v1) throws -> ConnectionID {
        let id = try PeerID(name)
        let connection = open(from: try XCTUnwrapSource(source))
        guard !closed.contains(connection) else { return connection }
        let credential = key ?? keys[id] ?? Harness.keyCache.key(name)
        var patientConfiguration = PatientConfiguration()
        patientConfiguration.version = version
        start(try PatientMachine(configuration: patientConfiguration, identity: id, privateKey: credential,
                                 doctorID: Harness.doctorID, doctorKey: doctorKey.publicKey), on: connection)
        return connection
    }

    /// Opens a raw connection with no patient machine behind it (an attacker).
    mutating func openRaw(from source: String = "198.51.100.7") throws -> ConnectionID {
        open(from: try XCTUnwrapSource(source))
    }

    mutating func broadcast(_ text: String) throws {
        applyDoctor(try doctor.broadcast(text, now: now, using: &rng))
    }

    /// The patient on `connection` leaves (DISCONNECT, then close).
    mutating func leave(_ connection: ConnectionID) {
        patientInput(on: connection) { patient, _, _ in patient.leave() }
    }
}

struct HarnessError: Error { let message: String }

extension SourceAddress {
    /// A source from address text as a host builds it: the transport's one strict IP parser,
    /// then the address bytes (the core itself reads no text).
    init?(ipText text: String) {
        guard let ip = IPAddress(text) else { return nil }
        self.init(addressBytes: ip.bytes)
    }
}

func XCTUnwrapSource(_ text: String) throws -> SourceAddress {
    guard let address = SourceAddress(ipText: text) else { throw HarnessError(message: "bad address \(text)") }
    return address
}

/// Keys are derived from the name through a seeded generator, once per process.
final class KeyCache: @unchecked Sendable {
    private var cache: [String: PrivateKey] = [:]
    private let lock = NSLock()

    func key(_ name: String) -> PrivateKey {
        lock.lock()
        defer { lock.unlock() }
        if let key = cache[name] { return key }
        var rng = SeededRandom(seed: Array("key:\(name)".utf8))
        let key = PrivateKey(generatingIn: Harness.group, using: &rng)
        cache[name] = key
        return key
    }
}

import Foundation
import XCTest
