// The flood figure (issue 14): flood sources send garbage or bad-signature first frames as
// fast as the doctor answers while honest patients log in, against a DoctorService over TCP on
// loopback with its SQLite store in a temporary state directory (WAL, the real durability
// path). The same logins run once without the flood, in the same process, for the latency
// ratio. Reported: honest login latency (connect → authenticated) p50/p99 with and without the
// flood, the frames the doctor rejected, and its commits: durable ones are the fsyncs (one WAL
// fsync each with SQLite), so durable commits / rejected frames is the fsyncs per rejected frame.
//
// Two kinds of flood:
//   fixed sources     50 sources, each its own /24 (127.1.i.1): after R-SRC's 5 failures each is
//                     blocked, and the rest of the flood is refused on accept (R-BLOCK).
//   rotating sources  every flood thread moves to a fresh source (its own /24) after 4 attempts,
//                     so every frame is a counted failure (R-SRC, never blocked): every rejection
//                     writes a security change, the worst case for the store.
// Honest patients connect from 127.0.0.1 (pending limits raised, as in the TCP load figure).

import Foundation
import Logging
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTCP
import TelemedTransport

/// What one flood run measured.
public struct FloodFigures: Sendable, Codable {
    /// `fixed sources` or `rotating sources`.
    public var flood: String
    /// Flood threads (one connection at a time each).
    public var floodThreads: Int
    /// Honest patients started / authenticated, with and without the flood.
    public var honest: Int
    public var authenticatedQuiet: Int
    public var authenticatedFlooded: Int
    /// Login latency (connect → authenticated), in ns.
    public var quietLatency: Summary?
    public var floodedLatency: Summary?
    /// flooded p99 / quiet p99.
    public var p99Ratio: Double
    /// Frames the doctor rejected from flood sources during the flooded run (REJECTED sent or
    /// refused on accept), and how many of them were counted failures (a security change).
    public var rejected: Int
    public var countedFailures: Int
    /// The flooded run's rejections of flood sources by rule.
    public var rules: [String: Int]
    /// The doctor's commits in the flooded run (nil when the build has no statistics).
    public var commits: Int?
    public var durableCommits: Int?
    public var largestGroup: Int?
    /// durableCommits / rejected.
    public var fsyncsPerRejected: Double?
    /// Flood duration in seconds.
    public var floodSeconds: Double
}

/// The flood generator.
public enum FloodBench {
    /// Which flood.
    public enum Kind: String, Sendable {
        case fixed = "fixed sources"
        case rotating = "rotating sources"
    }

    /// One run: `honest` logins without a flood, then the same with `threads` flood threads.
    public static func run(kind: Kind, honest count: Int = 200, threads: Int = 50, spacingMillis: Int = 20,
                           timeoutSeconds: Double = 60,
                           progress: @escaping @Sendable (String) -> Void) async throws -> FloodFigures {
        let group = TelemedGroup.telemed2048
        var rng = SeededRandom(seed: Array("flood".utf8))
        let doctorKey = PrivateKey(generatingIn: group, using: &rng)
        let doctorID = try PeerID("doctor")
        var keys: [PrivateKey] = []
        var registry: [PeerID: PublicKey] = [:]
        for index in 0..<count {
            let key = PrivateKey(generatingIn: group, using: &rng)
            keys.append(key)
            registry[try PeerID("p\(index)")] = key.publicKey
        }
        let material = DoctorKeyMaterial(group: group, identity: doctorID, privateKey: doctorKey, registry: registry)
        // Bad-signature first frames: enrolled ids signed with a key that is not theirs, forged
        // once the doctor of the session has started (so after its T0; the doctor refuses them
        // at the signature, before the replay cache, so one frame can be sent again).
        let forger = PrivateKey(generatingIn: group, using: &rng)
        let forge: @Sendable () throws -> [[UInt8]] = {
            var random = SeededRandom(seed: Array("flood forgeries".utf8))
            var forged: [[UInt8]] = []
            for index in 0..<32 {
                var machine = try PatientMachine(configuration: PatientConfiguration(), identity: try PeerID("p\(index % count)"),
                                                 privateKey: forger, doctorID: doctorID, doctorKey: doctorKey.publicKey)
                for case let .send(body) in machine.connected(now: SystemClock().now(), using: &random) { forged.append(body) }
            }
            return forged
        }

        // Phase lines carry the Unix time, so that an outside count of fsync calls (strace -ttt)
        // can be cut per phase.
        func stamp() -> String { String(format: "%.6f", Date().timeIntervalSince1970) }
        progress("  flood (\(kind.rawValue)): quiet begins \(stamp()): \(count) honest logins without the flood")
        let quiet = try await session(material: material, keys: keys, flood: nil, spacingMillis: spacingMillis,
                                      timeoutSeconds: timeoutSeconds)
        progress("  flood (\(kind.rawValue)): quiet ends \(stamp())")
        progress("  flood (\(kind.rawValue)): flooded begins \(stamp()): \(count) honest logins under \(threads) flood threads")
        let flooded = try await session(material: material, keys: keys,
                                        flood: (kind, threads, forge), spacingMillis: spacingMillis,
                                        timeoutSeconds: timeoutSeconds)
        progress("  flood (\(kind.rawValue)): flooded ends \(stamp()): \(flooded.rejected) rejected, "
                 + flooded.rules.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        let quietLatency = quiet.latencies.isEmpty ? nil : Summary(quiet.latencies)
        let floodedLatency = flooded.latencies.isEmpty ? nil : Summary(flooded.latencies)
        let ratio = (floodedLatency?.p99 ?? 0) / max(quietLatency?.p99 ?? 1, 1)
        return FloodFigures(
            flood: kind.rawValue, floodThreads: threads, honest: count,
            authenticatedQuiet: quiet.latencies.count, authenticatedFlooded: flooded.latencies.count,
            quietLatency: quietLatency, floodedLatency: floodedLatency, p99Ratio: ratio,
            rejected: flooded.rejected, countedFailures: flooded.counted, rules: flooded.rules,
            commits: flooded.statistics?.commits, durableCommits: flooded.statistics?.durableCommits,
            largestGroup: flooded.statistics?.largestGroup,
            fsyncsPerRejected: flooded.statistics.map { flooded.rejected > 0 ? Double($0.durableCommits) / Double(flooded.rejected) : 0 },
            floodSeconds: flooded.floodSeconds)
    }

    // MARK: - One session

    private struct Outcome {
        var latencies: [UInt64]
        var rejected: Int
        var counted: Int
        var rules: [String: Int]
        var statistics: StoreCommitStatistics?
        var floodSeconds: Double
    }

    /// Counts the doctor's rejections of flood sources (observer, any thread).
    private final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private var rejected = 0
        private var counted = 0
        private var rules: [String: Int] = [:]
        private var authenticated: [Int: UInt64] = [:]

        func doctor(_ event: DoctorEvent) {
            guard case let .rejected(_, source, rule, _, _) = event, source.description != "127.0.0.1" else { return }
            lock.withLock {
                rejected += 1
                rules[rule.rawValue, default: 0] += 1
                if rule == .frame || rule == .signature { counted += 1 }
            }
        }

        func authenticated(_ patient: Int, at time: UInt64) {
            lock.withLock { if authenticated[patient] == nil { authenticated[patient] = time } }
        }

        var snapshot: (rejected: Int, counted: Int, rules: [String: Int], authenticated: [Int: UInt64]) {
            lock.withLock { (rejected, counted, rules, authenticated) }
        }
    }

    /// The flood's threads share a stop flag and an address counter.
    private final class FloodControl: @unchecked Sendable {
        private let lock = NSLock()
        private var stopped = false
        private var nextAddress = 0
        private var running = 0

        var isStopped: Bool { lock.withLock { stopped } }
        func stop() { lock.withLock { stopped = true } }
        func started() { lock.withLock { running += 1 } }
        func finished() { lock.withLock { running -= 1 } }
        var runningThreads: Int { lock.withLock { running } }

        /// A fresh source in a /24 of its own (127.2.x.y with y = 1): rotating flood.
        func freshAddress() -> String {
            lock.withLock {
                defer { nextAddress += 1 }
                return "127.\(2 + nextAddress / 256 % 250).\(nextAddress % 256).1"
            }
        }
    }

    private static func session(material: DoctorKeyMaterial, keys: [PrivateKey],
                                flood: (kind: Kind, threads: Int, forge: @Sendable () throws -> [[UInt8]])?, spacingMillis: Int,
                                timeoutSeconds: Double) async throws -> Outcome {
        let count = keys.count
        var configuration = DoctorConfiguration()
        configuration.pendingPerSource = max(4, count)
        configuration.pendingPerPrefix = max(32, count)
        configuration.pendingTotal = max(1_024, count + 256)
        var logger = Logger(label: "bench.flood")
        logger.logLevel = .critical
        let directory = NSTemporaryDirectory() + "telemed-flood-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await TCPServerTransport.start(configuration: .init(
            host: "127.0.0.1", port: 0, maxConnections: count + 512, connection: .serverDefault, backlog: 4_096))
        let tally = Tally()
        let doctor = DoctorService(configuration: configuration, keys: material, databasePath: directory + "/doctor.sqlite",
                                   transport: server, logger: logger, observer: { tally.doctor($0) })
        try await doctor.start()
        let port = server.boundPort

        // The flood.
        let control = FloodControl()
        var floodStart = monotonicNanoseconds()
        if let flood {
            let forged = try flood.forge()
            for thread in 0..<flood.threads {
                let worker = Thread {
                    control.started()
                    defer { control.finished() }
                    var attempt = 0
                    var address = flood.kind == .fixed ? "127.1.\(thread).1" : control.freshAddress()
                    while !control.isStopped {
                        attempt += 1
                        if flood.kind == .rotating && attempt % 4 == 0 { address = control.freshAddress() }
                        guard let connection = RawConnection.open(from: address, port: port, readTimeoutSeconds: 15) else {
                            Thread.sleep(forTimeInterval: 0.001)
                            continue
                        }
                        let body = thread.isMultiple(of: 2)
                            ? Array("garbage \(attempt)".utf8)
                            : forged[(thread + attempt) % forged.count]
                        connection.writeFrame(body)
                        while case .frame = connection.readFrame() {}
                        connection.close()
                    }
                }
                worker.start()
            }
            try await Task.sleep(nanoseconds: 500_000_000)
            floodStart = monotonicNanoseconds()
        }

        // Honest logins, one every `spacingMillis`.
        var clients: [TCPClientTransport] = []
        var runs: [Task<PatientOutcome, Never>] = []
        var started: [UInt64] = []
        for index in 0..<count {
            let client = TCPClientTransport()
            let credential = PatientCredential(identity: try PeerID("p\(index)"), privateKey: keys[index],
                                               doctorID: material.identity, doctorKey: material.privateKey.publicKey,
                                               host: "127.0.0.1", port: port)
            let service = PatientService(
                credential: credential, transport: client,
                connect: { try await client.connect(host: "127.0.0.1", port: port) },
                reconnect: .never, logger: logger,
                observer: { event in
                    if case .session(.authenticated) = event { tally.authenticated(index, at: monotonicNanoseconds()) }
                })
            clients.append(client)
            started.append(monotonicNanoseconds())
            runs.append(Task { await service.run() })
            try await Task.sleep(nanoseconds: UInt64(spacingMillis) * 1_000_000)
        }
        let deadline = monotonicNanoseconds() + UInt64(timeoutSeconds * 1e9)
        while tally.snapshot.authenticated.count < count && monotonicNanoseconds() < deadline {
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        control.stop()
        let floodSeconds = Double(monotonicNanoseconds() - floodStart) / 1e9
        while control.runningThreads > 0 { try await Task.sleep(nanoseconds: 5_000_000) }

        await doctor.shutdown(reason: "flood run over", kind: .shutdown)
        let statistics: StoreCommitStatistics? = await doctor.commitStatistics()
        await server.shutdown()
        for run in runs { _ = await run.value }
        for client in clients { await client.shutdown() }
        let snapshot = tally.snapshot
        let latencies = snapshot.authenticated.map { index, time in time - started[index] }
        return Outcome(latencies: latencies, rejected: flood == nil ? 0 : snapshot.rejected,
                       counted: flood == nil ? 0 : snapshot.counted, rules: flood == nil ? [:] : snapshot.rules,
                       statistics: flood == nil ? nil : statistics,
                       floodSeconds: flood == nil ? 0 : floodSeconds)
    }
}
