@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol
import struct TelemedTransport.IPAddress

/// A doctor and N patients in one process, frames pumped between them in FIFO order, with a
/// hook that can edit, drop, duplicate or hold back any frame in flight. Every loop is bounded.
struct Harness {
    enum Direction: Equatable { case toDoctor, toPatient }

    struct Flight {
        var connection: ConnectionID
        var direction: Direction
        var body: [UInt8]
    }

    enum Verdict {
        case deliver
        case drop
        case replace([UInt8])
        case duplicate
    }

    static let doctorID = try! PeerID("doctor")   // test-only literal, cannot fail
    static let group = TelemedGroup.telemed2048
    static let keyCache = KeyCache()

    var doctor: DoctorMachine
    var patients: [ConnectionID: PatientMachine] = [:]
    var patientIDs: [ConnectionID: PeerID] = [:]
    var sources: [ConnectionID: SourceAddress] = [:]
    var keys: [PeerID: PrivateKey]
    let doctorKey: PrivateKey
    var rng: SeededRandom
    var now: Instant
    var queue: [Flight] = []
    var doctorLog: [DoctorAction] = []
    var patientLog: [ConnectionID: [PatientAction]] = [:]
    var closed: Set<ConnectionID> = []
    var timers: [DoctorTimer: UInt64] = [:]
    var nextConnection: UInt64 = 1
    var hook: ((Flight) -> Verdict)?

    /// The machine tests' default: the spec's defaults with an epoch window of 0, so that every
    /// membership change starts its epoch at once (v1) and a test reads its GROUP_KEYs right
    /// after the change. Batched epochs (PROTOCOL.md §7.1) are tested with a window set
    /// (BatchedEpochTests) and in the model-based tests.
    static var immediateEpochs: DoctorConfiguration {
        var configuration = DoctorConfiguration()
        configuration.epochWindowMillis = 0
        return configuration
    }

    init(patients names: [String], seed: UInt64 = 1, configuration: DoctorConfiguration = Harness.immediateEpochs,
         state: SecurityState = SecurityState(), start: UInt64 = 1_764_000_000_000) throws {
        var rng = SeededRandom(seed: seed)
        doctorKey = Harness.keyCache.key("doctor")
        var keys: [PeerID: PrivateKey] = [:]
        for name in names { keys[try PeerID(name)] = Harness.keyCache.key(name) }
        self.keys = keys
        let registry = keys.mapValues(\.publicKey)
        doctor = try DoctorMachine(configuration: configuration, group: Harness.group, identity: Harness.doctorID,
                                   privateKey: doctorKey, registry: registry, restoring: state)
        now = Instant(wall: start, monotonic: 0)
        _ = rng.next()
        self.rng = rng
        doctorLog += doctor.start(now: now)
    }

    // MARK: - Driving

    mutating func advance(by millis: UInt64) {
        now.wall += millis
        now.monotonic += millis
    }

    /// Opens a connection for `name` from `source` and sends its KEY_VERIFICATION.
    @discardableResult
    mutating func connect(_ name: String, from source: String = "192.0.2.10",
                          key: PrivateKey? = nil) throws -> ConnectionID {
        let id = try PeerID(name)
        let connection = ConnectionID(nextConnection)
        nextConnection += 1
        let address = try XCTUnwrapSource(source)
        sources[connection] = address
        patientIDs[connection] = id
        applyDoctor(doctor.connectionOpened(connection, from: address, now: now))
        guard !closed.contains(connection) else { return connection }
        let credential = key ?? keys[id] ?? Harness.keyCache.key(name)
        var patient = try PatientMachine(configuration: PatientConfiguration(), identity: id,
                                         privateKey: credential, doctorID: Harness.doctorID,
                                         doctorKey: doctorKey.publicKey)
        let actions = patient.connected(now: now, using: &rng)
        patients[connection] = patient
        applyPatient(connection, actions)
        return connection
    }

    /// Opens a raw connection with no patient machine behind it (an attacker).
    mutating func openRaw(from source: String = "198.51.100.7") throws -> ConnectionID {
        let connection = ConnectionID(nextConnection)
        nextConnection += 1
        sources[connection] = try XCTUnwrapSource(source)
        applyDoctor(doctor.connectionOpened(connection, from: sources[connection]!, now: now))
        return connection
    }

    /// Delivers a raw body from `connection` to the doctor, bypassing any patient machine.
    mutating func inject(_ body: [UInt8], on connection: ConnectionID) {
        applyDoctor(doctor.frameReceived(body, on: connection, now: now, using: &rng))
    }

    /// Delivers queued frames in FIFO order until none is left (bounded).
    mutating func pump(maxSteps: Int = 10_000) {
        var steps = 0
        while !queue.isEmpty {
            steps += 1
            precondition(steps <= maxSteps, "pump did not settle within \(maxSteps) steps")
            let flight = queue.removeFirst()
            switch hook?(flight) ?? .deliver {
            case .drop: continue
            case let .replace(body): deliver(Flight(connection: flight.connection, direction: flight.direction, body: body))
            case .duplicate:
                deliver(flight)
                deliver(flight)
            case .deliver: deliver(flight)
            }
        }
    }

    mutating func deliver(_ flight: Flight) {
        guard !closed.contains(flight.connection) else { return }
        switch flight.direction {
        case .toDoctor:
            applyDoctor(doctor.frameReceived(flight.body, on: flight.connection, now: now, using: &rng))
        case .toPatient:
            guard var patient = patients[flight.connection] else { return }
            let actions = patient.frameReceived(flight.body, now: now, using: &rng)
            patients[flight.connection] = patient
            applyPatient(flight.connection, actions)
        }
    }

    mutating func fireDueTimers() {
        for (timer, due) in timers.sorted(by: { $0.value < $1.value }) where due <= now.monotonic {
            timers[timer] = nil
            applyDoctor(doctor.timerFired(timer, now: now, using: &rng))
        }
    }

    mutating func broadcast(_ text: String) throws {
        applyDoctor(try doctor.broadcast(text, now: now, using: &rng))
    }

    mutating func leave(_ connection: ConnectionID) {
        guard var patient = patients[connection] else { return }
        let actions = patient.leave()
        patients[connection] = patient
        applyPatient(connection, actions)
    }

    // MARK: - Applying actions

    mutating func applyDoctor(_ actions: [DoctorAction]) {
        doctorLog += actions
        for action in actions {
            switch action {
            case let .send(connection, body):
                guard !closed.contains(connection) else { continue }
                queue.append(Flight(connection: connection, direction: .toPatient, body: body))
            case let .close(connection):
                // The host flushes what it queued before closing; then the patient sees EOF.
                flush(connection, .toPatient)
                closeFromDoctor(connection)
            case let .scheduleTimer(timer, after):
                timers[timer] = now.monotonic + after
            case let .cancelTimer(timer):
                timers[timer] = nil
            case .persist, .event:
                continue
            }
        }
    }

    /// Delivers the frames already queued on one connection in one direction.
    mutating func flush(_ connection: ConnectionID, _ direction: Direction) {
        let pending = queue.filter { $0.connection == connection && $0.direction == direction }
        queue.removeAll { $0.connection == connection && $0.direction == direction }
        for flight in pending { deliver(flight) }
    }

    mutating func closeFromDoctor(_ connection: ConnectionID) {
        guard !closed.contains(connection) else { return }
        closed.insert(connection)
        if var patient = patients[connection] {
            let actions = patient.connectionLost()
            patients[connection] = patient
            patientLog[connection, default: []] += actions
        }
    }

    mutating func applyPatient(_ connection: ConnectionID, _ actions: [PatientAction]) {
        patientLog[connection, default: []] += actions
        for action in actions {
            switch action {
            case let .send(body):
                guard !closed.contains(connection) else { continue }
                queue.append(Flight(connection: connection, direction: .toDoctor, body: body))
            case .close:
                flush(connection, .toDoctor)
                guard !closed.contains(connection) else { continue }
                closed.insert(connection)
                applyDoctor(doctor.connectionClosed(connection, .closedByPeer, now: now, using: &rng))
            case .scheduleTimer, .cancelTimer, .event:
                continue
            }
        }
    }

    // MARK: - Reading the logs

    var doctorEvents: [DoctorEvent] {
        doctorLog.compactMap { if case let .event(event) = $0 { return event }; return nil }
    }

    var rejections: [(rule: RuleID, reason: String)] {
        doctorEvents.compactMap {
            if case let .rejected(_, _, rule, reason, _) = $0 { return (rule, reason) }
            return nil
        }
    }

    func patientEvents(_ connection: ConnectionID) -> [PatientEvent] {
        (patientLog[connection] ?? []).compactMap { if case let .event(event) = $0 { return event }; return nil }
    }

    func framesSent(to connection: ConnectionID) -> [[UInt8]] {
        doctorLog.compactMap { if case let .send(c, body) = $0, c == connection { return body }; return nil }
    }

    func framesFromPatient(_ connection: ConnectionID) -> [[UInt8]] {
        (patientLog[connection] ?? []).compactMap { if case let .send(body) = $0 { return body }; return nil }
    }

    func received(_ connection: ConnectionID) -> [String] {
        patientEvents(connection).compactMap {
            if case let .broadcastReceived(_, _, _, text) = $0 { return text }
            return nil
        }
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
