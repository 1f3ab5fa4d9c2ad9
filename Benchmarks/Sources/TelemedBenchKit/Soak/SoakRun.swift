// The soak's doctor process: the same runtime the `doctor` executable runs (DoctorService over
// TCPServerTransport on loopback, a real SQLite security store and audit log in a temporary
// state directory), a load process spawned beside it (honest patients and attackers, see
// SoakLoad), broadcasts every few seconds, and a sample of this process's memory and of the
// doctor's table sizes every few seconds. The patients live in the other process, so the RSS
// sampled here is the doctor's (plus this small harness).

import Foundation
import Logging
import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTCP
import TelemedTransport

/// One sample of the doctor process.
public struct SoakSample: Sendable, Codable {
    /// Seconds since the load started.
    public var seconds: Double
    /// Resident set size, bytes (after malloc_trim).
    public var rss: Int
    /// malloc'd bytes (glibc mallinfo2).
    public var heap: Int
    /// Open file descriptors of the process.
    public var fds: Int
    /// The doctor's table sizes.
    public var counters: DoctorService.Counters
    /// Requests verified within the replay window before this sample (bound for the cache).
    public var replayBound: Int
}

/// The soak run's doctor side.
public enum SoakRun {
    /// Runs the soak; returns the report (the caller prints and writes it).
    public static func run(options: SoakOptions, executable: String,
                           progress: @escaping @Sendable (String) -> Void) async throws -> SoakReport {
        let machine = MachineInfo.current()
        let t0 = monotonicNanoseconds()
        let keys = try SoakKeys(seed: options.seed, patients: options.patients)
        progress("keys derived in \(String(format: "%.1f", Double(monotonicNanoseconds() - t0) / 1e9)) s")
        let stateDirectory = NSTemporaryDirectory() + "telemed-soak-\(getpid())-\(options.seed)"
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: stateDirectory) }
        let databasePath = stateDirectory + "/doctor.sqlite"
        let recorder = SoakRecorder(broadcastLogPath: stateDirectory + "/broadcasts.log")

        var configuration = DoctorConfiguration()
        // Every honest patient shares 127.0.0.1, and the attackers' first addresses share its /24.
        configuration.pendingPerSource = max(4, options.patients)
        configuration.pendingPerPrefix = max(32, options.patients + 16 * options.attackers)
        configuration.pendingTotal = max(1_024, options.patients + 64 * options.attackers)
        configuration.handshakeTimeoutMillis = options.handshakeTimeoutMillis
        let settings = "pendingPerSource \(configuration.pendingPerSource), pendingPerPrefix \(configuration.pendingPerPrefix), "
            + "pendingTotal \(configuration.pendingTotal), handshake timeout \(options.handshakeTimeoutMillis / 1_000) s "
            + "(doctor and patients); every other doctor setting at its default (R-SRC: 5 failures in 15 min block a "
            + "source for 24 h; ΔTS 30 s, replay entries kept 60 s); TCP server cap \(options.patients + 256), backlog 4096"

        var logger = Logger(label: "soak.doctor")
        logger.logLevel = .critical
        let server = try await TCPServerTransport.start(configuration: .init(
            host: "127.0.0.1", port: 0, maxConnections: options.patients + 256, connection: .serverDefault, backlog: 4_096))
        let doctor = DoctorService(
            configuration: configuration,
            keys: DoctorKeyMaterial(group: keys.group, identity: keys.doctorID, privateKey: keys.doctorKey,
                                    registry: try keys.registry()),
            databasePath: databasePath, transport: server, logger: logger,
            observer: { recorder.observe($0) })
        try await doctor.start()
        // Descriptors with the doctor up and nobody connected (listener, event loops, SQLite files).
        let baselineFDs = openDescriptors()
        let port = server.boundPort
        progress("doctor listening on 127.0.0.1:\(port), state in \(stateDirectory)")

        // MARK: The load process
        let reportPath = stateDirectory + "/load.json"
        let child = Process()
        child.executableURL = URL(fileURLWithPath: executable)
        child.arguments = ["--role", "load", "--port", "\(port)", "--seed", "\(options.seed)",
                           "--patients", "\(options.patients)", "--attackers", "\(options.attackers)",
                           "--report", reportPath] + (options.quick ? ["--quick"] : [])
        let stdin = Pipe()
        child.standardInput = stdin
        try child.run()
        progress("load process \(child.processIdentifier): \(options.patients) patients, \(options.attackers) attackers, "
                 + "\(options.minutes) min")

        // MARK: Churn, broadcasts and samples
        var samples: [SoakSample] = []
        let start = monotonicNanoseconds()
        let duration = UInt64(options.minutes * 60 * 1e9)
        let replayWindow = 2 * configuration.timeWindowMillis + 5_000
        var nextSample = start
        var nextBroadcast = start + UInt64(options.broadcastSeconds * 1e9)
        var broadcastNumber = 0
        var broadcastFailures = 0
        var lastProgress = start
        var failure: String?
        while monotonicNanoseconds() - start < duration {
            let now = monotonicNanoseconds()
            if now >= nextSample {
                nextSample += UInt64(options.sampleSeconds * 1e9)
                samples.append(await sample(doctor, recorder: recorder, since: start, replayWindow: replayWindow))
            }
            if now >= nextBroadcast {
                nextBroadcast += UInt64(options.broadcastSeconds * 1e9)
                do {
                    try await doctor.broadcast("soak broadcast \(broadcastNumber)")
                    broadcastNumber += 1
                } catch {
                    broadcastFailures += 1
                }
            }
            if now - lastProgress >= 15_000_000_000, let last = samples.last {
                lastProgress = now
                progress(String(format: "[doctor] %3.0f s: RSS %.1f MiB, %d members, %d pending, replay %d, epoch %d",
                                last.seconds, Double(last.rss) / 1_048_576, last.counters.members,
                                last.counters.pendingHandshakes, last.counters.replayCacheEntries, last.counters.epoch))
            }
            if !child.isRunning {
                failure = "the load process exited early (status \(child.terminationStatus))"
                break
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let loadSeconds = Double(monotonicNanoseconds() - start) / 1e9

        // MARK: Stop, quiesce, shut down
        stdin.fileHandleForWriting.write(Data("stop\n".utf8))
        let quiesced = reportPath + ".quiesced"
        let quiesceDeadline = monotonicNanoseconds() + 90_000_000_000
        while !FileManager.default.fileExists(atPath: quiesced) && child.isRunning
            && monotonicNanoseconds() < quiesceDeadline {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let endSample = await sample(doctor, recorder: recorder, since: start, replayWindow: replayWindow)
        await doctor.shutdown(reason: "soak over", kind: .shutdown)
        await server.shutdown()
        let exitDeadline = monotonicNanoseconds() + 120_000_000_000
        while child.isRunning && monotonicNanoseconds() < exitDeadline {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        if child.isRunning {
            child.terminate()
            failure = failure ?? "the load process did not finish within 120 s of the shutdown"
        }
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let afterShutdown = await sample(doctor, recorder: recorder, since: start, replayWindow: replayWindow)
        recorder.closeLog()

        // MARK: Evidence
        var load: SoakLoadReport?
        if let data = FileManager.default.contents(atPath: reportPath) {
            load = try? JSONDecoder().decode(SoakLoadReport.self, from: data)
        }
        if load == nil { failure = failure ?? "the load process wrote no report" }
        let broadcastLog = (try? String(contentsOfFile: stateDirectory + "/broadcasts.log", encoding: .utf8)) ?? ""
        let auditBlocks = (try? await doctor.auditRows(kind: .block, limit: 1_000_000)) ?? []
        let auditFailures = (try? await doctor.auditRows(kind: .authFailure, limit: 10_000_000)) ?? []
        return SoakReport.build(
            options: options, machine: machine, settings: settings, samples: samples, endSample: endSample,
            afterShutdown: afterShutdown, baselineFDs: baselineFDs, loadSeconds: loadSeconds, recorder: recorder,
            load: load, broadcastLog: broadcastLog, auditBlocks: auditBlocks, auditFailureRows: auditFailures.count,
            broadcastFailures: broadcastFailures, harnessFailure: failure)
    }

    private static func sample(_ doctor: DoctorService, recorder: SoakRecorder, since start: UInt64,
                               replayWindow: UInt64) async -> SoakSample {
        let counters = await doctor.counters()
        let memory = MemoryProbe.read()
        return SoakSample(seconds: Double(monotonicNanoseconds() - start) / 1e9, rss: memory.rss, heap: memory.heap,
                          fds: openDescriptors(), counters: counters,
                          replayBound: recorder.verified(within: replayWindow) + counters.pendingHandshakes)
    }

    static func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }
}
