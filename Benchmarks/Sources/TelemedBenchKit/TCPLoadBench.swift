// System figures over real TCP on loopback: N patients connect at once to one doctor, each
// through the same runtime the `doctor` and `patient` executables use (DoctorService,
// PatientService, TCPServerTransport, one TCPClientTransport per patient), all in this process.
//
// Bounded: every wait gives up after the configured timeout and reports what was reached.
// The patients' own work (key agreement, opening every GROUP_KEY and broadcast) shares the
// machine's cores with the doctor, so the figures are for the whole system, not the doctor
// alone.

import Foundation
import Logging
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTCP
import TelemedTransport

/// What the TCP load run measured.
public struct TCPLoadFigures: Sendable, Codable {
    /// Patients started.
    public var patients: Int
    /// Patients that authenticated.
    public var authenticated: Int
    /// Patients whose run ended with anything but an orderly shutdown, or never authenticated.
    public var errors: Int
    /// From the first connect to the last authentication, in seconds.
    public var handshakeSeconds: Double
    /// authenticated / handshakeSeconds.
    public var handshakesPerSecond: Double
    /// Per patient: connect started → its first GROUP_KEY opened, in ns (nil if none).
    public var handshakeLatency: Summary?
    /// Per broadcast: the doctor's broadcast command → the last patient's decrypt, in ns
    /// (nil when no broadcast reached everyone).
    public var broadcastFanout: Summary?
    /// Broadcasts whose every copy was decrypted.
    public var broadcastsDelivered: Int
    /// The doctor settings the run changed from the defaults (all patients share 127.0.0.1).
    public var settings: String
}

/// Collects timestamps from the services' observer callbacks (any thread).
final class LoadRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var authenticated: [Int: UInt64] = [:]
    private var received: [Int: [UInt64]] = [:]   // broadcast index → decrypt times
    private var epochs: [Int: UInt64] = [:]        // patient → the latest epoch whose GROUP_KEY it opened

    func opened(epoch: UInt64, by patient: Int) {
        lock.lock()
        epochs[patient] = max(epochs[patient] ?? 0, epoch)
        lock.unlock()
    }

    /// True when `count` patients opened the GROUP_KEY of `epoch` (and none a later one).
    func allOn(epoch: UInt64, count: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return epochs.count == count && epochs.values.allSatisfy { $0 == epoch }
    }

    func authenticated(_ patient: Int, at time: UInt64) {
        lock.lock()
        if authenticated[patient] == nil { authenticated[patient] = time }
        lock.unlock()
    }

    func received(_ broadcast: Int, at time: UInt64) {
        lock.lock()
        received[broadcast, default: []].append(time)
        lock.unlock()
    }

    var authenticatedTimes: [Int: UInt64] {
        lock.lock()
        defer { lock.unlock() }
        return authenticated
    }

    func receipts(of broadcast: Int) -> [UInt64] {
        lock.lock()
        defer { lock.unlock() }
        return received[broadcast] ?? []
    }
}

/// The TCP load generator.
public enum TCPLoadBench {
    /// Runs `patients` concurrent logins, then `broadcasts` broadcasts to all of them.
    public static func run(patients count: Int, broadcasts: Int = 5, timeoutSeconds: Double = 120,
                           progress: @escaping @Sendable (String) -> Void) async throws -> TCPLoadFigures {
        let group = TelemedGroup.telemed2048
        var rng = SeededRandom(seed: Array("tcp-load".utf8))
        let doctorKey = PrivateKey(generatingIn: group, using: &rng)
        let doctorID = try PeerID("doctor")
        var keys: [PrivateKey] = []
        var registry: [PeerID: PublicKey] = [:]
        for index in 0..<count {
            let key = PrivateKey(generatingIn: group, using: &rng)
            keys.append(key)
            registry[try PeerID("p\(index)")] = key.publicKey
        }
        var configuration = DoctorConfiguration()
        configuration.pendingPerSource = max(4, count)
        configuration.pendingPerPrefix = max(32, count)
        configuration.pendingTotal = max(1_024, count)
        configuration.handshakeTimeoutMillis = 60_000
        // Late joiners wait behind every earlier request of the storm (one doctor core): give the
        // patients the longest handshake timeout the bounds allow too (a timed-out patient counts
        // as an error).
        var patientConfiguration = PatientConfiguration()
        patientConfiguration.handshakeTimeoutMillis = 60_000
        let settings = "pendingPerSource, pendingPerPrefix = \(max(32, count)), pendingTotal = \(max(1_024, count)), "
            + "handshake timeout 60 s (doctor and patients), TCP server cap \(count + 64), backlog 4096 (defaults would refuse "
            + "more than 4 pending handshakes from 127.0.0.1)"

        var logger = Logger(label: "bench.tcp-load")
        logger.logLevel = .critical
        let server = try await TCPServerTransport.start(configuration: .init(
            host: "127.0.0.1", port: 0, maxConnections: count + 64, connection: .serverDefault, backlog: 4_096))
        let doctor = DoctorService(configuration: configuration,
                                   keys: DoctorKeyMaterial(group: group, identity: doctorID, privateKey: doctorKey,
                                                           registry: registry),
                                   databasePath: nil, transport: server, logger: logger, observer: { _ in })
        try await doctor.start()
        let port = server.boundPort
        let recorder = LoadRecorder()

        // MARK: Concurrent logins
        var clients: [TCPClientTransport] = []
        var services: [PatientService] = []
        var runs: [Task<PatientOutcome, Never>] = []
        let start = monotonicNanoseconds()
        for index in 0..<count {
            let client = TCPClientTransport()
            let credential = PatientCredential(identity: try PeerID("p\(index)"), privateKey: keys[index],
                                               doctorID: doctorID, doctorKey: doctorKey.publicKey,
                                               host: "127.0.0.1", port: port)
            let service = PatientService(
                configuration: patientConfiguration, credential: credential, transport: client,
                connect: { try await client.connect(host: "127.0.0.1", port: port) },
                reconnect: .never, logger: logger,
                observer: { event in
                    guard case let .session(session) = event else { return }
                    switch session {
                    case let .authenticated(epoch, _):
                        recorder.authenticated(index, at: monotonicNanoseconds())
                        recorder.opened(epoch: epoch, by: index)
                    case let .groupKeyChanged(epoch, _): recorder.opened(epoch: epoch, by: index)
                    case let .broadcastReceived(_, _, _, text):
                        if let number = Int(text.dropFirst("load broadcast ".count)) {
                            recorder.received(number, at: monotonicNanoseconds())
                        }
                    default: break
                    }
                })
            clients.append(client)
            services.append(service)
            runs.append(Task { await service.run() })
        }
        let deadline = start + UInt64(timeoutSeconds * 1e9)
        var lastReport = start
        while recorder.authenticatedTimes.count < count && monotonicNanoseconds() < deadline {
            try await Task.sleep(nanoseconds: 20_000_000)
            if monotonicNanoseconds() - lastReport > 5_000_000_000 {
                lastReport = monotonicNanoseconds()
                progress("  … \(recorder.authenticatedTimes.count)/\(count) authenticated")
            }
        }
        let times = recorder.authenticatedTimes
        let authenticated = times.count
        let lastAuth = times.values.max() ?? start
        let handshakeSeconds = Double(lastAuth - start) / 1e9
        let latency = times.isEmpty ? nil : Summary(times.values.map { $0 - start })

        // Let the last epochs settle before broadcasting: every member holds the GROUP_KEY of
        // the doctor's current epoch (the last window has closed; epochs are batched, §7.1).
        while monotonicNanoseconds() < deadline {
            let status = await doctor.status()
            if status.members.count == authenticated && recorder.allOn(epoch: status.epoch, count: authenticated) { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        try await Task.sleep(nanoseconds: 500_000_000)

        // MARK: Broadcast fan-out
        var fanout: [UInt64] = []
        for number in 0..<broadcasts where authenticated > 0 {
            let sent = monotonicNanoseconds()
            do {
                try await doctor.broadcast("load broadcast \(number)")
            } catch {
                break
            }
            while recorder.receipts(of: number).count < authenticated && monotonicNanoseconds() < deadline {
                try await Task.sleep(nanoseconds: 2_000_000)
            }
            let receipts = recorder.receipts(of: number)
            guard receipts.count == authenticated, let last = receipts.max() else { break }
            fanout.append(last - sent)
        }

        // MARK: Shutdown (bounded)
        await doctor.shutdown(reason: "load test over", kind: .shutdown)
        await server.shutdown()
        var errors = count - authenticated
        for (index, run) in runs.enumerated() {
            let outcome = await run.value
            if outcome != .disconnectedByDoctor("shutdown") && times[index] != nil { errors += 1 }
        }
        for client in clients { await client.shutdown() }
        _ = services
        return TCPLoadFigures(
            patients: count, authenticated: authenticated, errors: errors,
            handshakeSeconds: handshakeSeconds,
            handshakesPerSecond: handshakeSeconds > 0 ? Double(authenticated) / handshakeSeconds : 0,
            handshakeLatency: latency, broadcastFanout: fanout.isEmpty ? nil : Summary(fanout),
            broadcastsDelivered: fanout.count,
            settings: settings)
    }
}
