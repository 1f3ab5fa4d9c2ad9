// The TCP storm across processes: the doctor (DoctorService over TCPServerTransport with a SQLite
// store in a state directory, configured as `doctor serve` configures it) runs in a process of its
// own, and N patients (PatientService over TCPClientTransport each) run in other processes; all
// patients are started at once, with the default handshake timeouts (10 s, doctor and patients).
//
// The driver (`TCPStormBench.run`, in telemed-perf) spawns its own executable in two hidden roles,
// `--role storm-doctor` and `--role storm-patients`, and talks to them over their standard input
// and output, one command or answer a line:
//
//   doctor:   prints `PORT p` once listening; `mark` → `MARKED` (rusage snapshot);
//             `report` → `REPORT {json}` (CPU since the mark, members, epoch, commits); `quit` → `BYE`.
//   patients: derive their keys, print `READY`; `go` starts every patient at once; `RESULT {json}`
//             when every patient authenticated or ended, or the deadline passed; `finish` (after
//             the doctor quit) → `FINAL {json}` with the outcomes of the runs.
//
// Login latency is measured per patient from its own connect to its first GROUP_KEY opened
// (`authenticated`), on CLOCK_MONOTONIC, which Linux keeps system-wide, so the driver can also
// compare the patients' times with its `go`. The doctor's CPU is its own getrusage (user +
// system) between `mark` (sent before `go`, after the keys and the store are ready) and `report`
// (sent after every patient reported and the epochs settled), divided by the admitted patients.

import Foundation
import Logging
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTCP
import TelemedTransport

/// What the TCP storm across processes measured.
public struct TCPStormFigures: Sendable, Codable {
    /// Patients started (across every patient process).
    public var patients: Int
    /// Patient processes.
    public var patientProcesses: Int
    /// Patients that authenticated (opened their first GROUP_KEY).
    public var authenticated: Int
    /// Patients that never authenticated, or whose run ended other than by the doctor's shutdown.
    public var errors: Int
    /// The first few errors, as the patient processes described them.
    public var errorSamples: [String]
    /// Members on the doctor at the report.
    public var doctorMembers: Int
    /// The doctor's epoch at the report (epochs started by the storm: it starts at 0 or 1).
    public var doctorEpoch: UInt64
    /// Per patient: its connect → its first GROUP_KEY opened, in ns.
    public var loginLatency: Summary?
    /// The slowest login, in ns.
    public var loginLatencyMax: UInt64?
    /// The driver's `go` → the last authentication, in seconds.
    public var stormSeconds: Double
    /// The doctor's CPU (user + system, getrusage) between the mark and the report, in seconds.
    public var doctorCPUSeconds: Double
    /// doctorCPUSeconds / authenticated.
    public var doctorCPUPerAdmission: Double
    /// The doctor's durable commits during the run.
    public var doctorDurableCommits: Int
    /// /proc/loadavg before and after the run.
    public var loadBefore: String
    public var loadAfter: String
    /// The doctor settings the run changed from the defaults.
    public var settings: String

    /// 1,000 admitted (all started), 0 errors.
    public var pass: Bool { authenticated == patients && errors == 0 }
}

/// The TCP storm across processes (driver and the two child roles).
public enum TCPStormBench {
    static let doctorID = "doctor"

    static func doctorKey() -> PrivateKey {
        var rng = SeededRandom(seed: Array("tcp-storm-doctor".utf8))
        return PrivateKey(generatingIn: .telemed2048, using: &rng)
    }

    static func patientKey(_ index: Int) -> PrivateKey {
        var rng = SeededRandom(seed: Array("tcp-storm-p\(index)".utf8))
        return PrivateKey(generatingIn: .telemed2048, using: &rng)
    }

    /// The doctor's configuration: the defaults, with the pending limits of one source (all
    /// patients come from 127.0.0.1) raised to the storm's size.
    static func doctorConfiguration(patients: Int) -> DoctorConfiguration {
        var configuration = DoctorConfiguration()
        configuration.pendingPerSource = max(configuration.pendingPerSource, patients)
        configuration.pendingPerPrefix = max(configuration.pendingPerPrefix, patients)
        configuration.pendingTotal = max(configuration.pendingTotal, patients)
        return configuration
    }

    static func settings(patients: Int) -> String {
        let configuration = doctorConfiguration(patients: patients)
        return "pendingPerSource = pendingPerPrefix = \(configuration.pendingPerSource), pendingTotal = "
            + "\(configuration.pendingTotal) (all patients share 127.0.0.1; the defaults admit 4 pending handshakes "
            + "per source); everything else as `doctor serve`: handshake timeout \(configuration.handshakeTimeoutMillis / 1_000) s "
            + "(patients: \(PatientConfiguration().handshakeTimeoutMillis / 1_000) s), epoch window "
            + "\(configuration.epochWindowMillis) ms, \(HandshakeJobPool.defaultWorkers) handshake workers, "
            + "SQLite store, TCP connection cap from the configuration, listen backlog "
            + "\(TCPServerTransport.Configuration(host: "127.0.0.1", port: 0, bounds: configuration.transportBounds).backlog)"
    }

    // MARK: - Child roles

    /// `--role storm-doctor --patients N`: the doctor process. Never returns.
    public static func doctorRole(patients count: Int) async throws -> Never {
        let input = LineReader(handle: FileHandle.standardInput)
        let key = doctorKey()
        var registry: [PeerID: PublicKey] = [:]
        for index in 0..<count { registry[try PeerID("p\(index)")] = patientKey(index).publicKey }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("telemed-storm-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let configuration = doctorConfiguration(patients: count)
        var logger = Logger(label: "bench.tcp-storm.doctor")
        logger.logLevel = .critical
        let server = try await TCPServerTransport.start(
            configuration: .init(host: "127.0.0.1", port: 0, bounds: configuration.transportBounds))
        let doctor = DoctorService(configuration: configuration,
                                   keys: DoctorKeyMaterial(group: .telemed2048, identity: try PeerID(doctorID),
                                                           privateKey: key, registry: registry),
                                   databasePath: directory + "/doctor.sqlite", transport: server, logger: logger)
        try await doctor.start()
        answer("PORT \(server.boundPort)")
        var mark = processCPUNanoseconds()
        var commitsAtMark = await doctor.commitStatistics().durableCommits
        while let line = await input.next() {
            switch line {
            case "mark":
                mark = processCPUNanoseconds()
                commitsAtMark = await doctor.commitStatistics().durableCommits
                answer("MARKED")
            case "report":
                let cpu = processCPUNanoseconds() - mark
                let status = await doctor.status()
                let commits = await doctor.commitStatistics().durableCommits - commitsAtMark
                let report = DoctorReport(cpuNanoseconds: cpu, members: status.members.count, epoch: status.epoch,
                                          durableCommits: commits)
                answer("REPORT " + String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
            case "quit":
                await doctor.shutdown(reason: "shutdown", kind: .shutdown)
                await server.shutdown()
                try? FileManager.default.removeItem(atPath: directory)
                answer("BYE")
                exit(0)
            default:
                answer("ERROR unknown command \(line)")
            }
        }
        exit(1)
    }

    /// `--role storm-patients --port P --from A --count K --timeout S`: one patient process.
    /// Never returns.
    public static func patientsRole(port: Int, from first: Int, count: Int, timeoutSeconds: Double) async throws -> Never {
        let input = LineReader(handle: FileHandle.standardInput)
        let doctorPublic = doctorKey().publicKey
        let doctorID = try PeerID(Self.doctorID)
        var keys: [PrivateKey] = []
        for index in first..<(first + count) { keys.append(patientKey(index)) }
        var logger = Logger(label: "bench.tcp-storm.patients")
        logger.logLevel = .critical
        let recorder = StormRecorder()
        answer("READY")
        guard await input.next() == "go" else { exit(1) }

        var clients: [TCPClientTransport] = []
        var runs: [Task<PatientOutcome, Never>] = []
        for offset in 0..<count {
            let index = first + offset
            let client = TCPClientTransport()
            let credential = PatientCredential(identity: try PeerID("p\(index)"), privateKey: keys[offset],
                                               doctorID: doctorID, doctorKey: doctorPublic,
                                               host: "127.0.0.1", port: port)
            let service = PatientService(
                configuration: PatientConfiguration(), credential: credential, transport: client,
                connect: {
                    recorder.started(offset, at: monotonicNanoseconds())
                    return try await client.connect(host: "127.0.0.1", port: port)
                },
                reconnect: .never, logger: logger,
                observer: { event in
                    switch event {
                    case .session(.authenticated): recorder.authenticated(offset, at: monotonicNanoseconds())
                    case let .retrying(_, reason): recorder.note(offset, "retrying: \(reason)")
                    case .refused: recorder.note(offset, "refused (REJECTED)")
                    default: break
                    }
                })
            clients.append(client)
            runs.append(Task {
                let outcome = await service.run()
                recorder.ended(offset, outcome)
                return outcome
            })
        }
        let deadline = monotonicNanoseconds() + UInt64(timeoutSeconds * 1e9)
        while !recorder.allSettled(count) && monotonicNanoseconds() < deadline {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        answer("RESULT " + String(decoding: try JSONEncoder().encode(recorder.result(first: first, count: count)),
                                  as: UTF8.self))
        guard await input.next() == "finish" else { exit(1) }
        // The doctor has shut down: every run should end with its DISCONNECT("shutdown").
        let finishDeadline = monotonicNanoseconds() + 15_000_000_000
        while recorder.endedCount < count && monotonicNanoseconds() < finishDeadline {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        answer("FINAL " + String(decoding: try JSONEncoder().encode(recorder.final(first: first, count: count)),
                                 as: UTF8.self))
        for run in runs { run.cancel() }
        for client in clients { await client.shutdown() }
        exit(0)
    }

    // MARK: - Driver

    /// Spawns `executable` as one doctor process and `processes` patient processes sharing
    /// `patients` patients, starts them all at once and collects the figures.
    public static func run(executable: String, patients: Int, processes: Int = 2, timeoutSeconds: Double = 40,
                           progress: @escaping @Sendable (String) -> Void) async throws -> TCPStormFigures {
        let loadBefore = loadAverage()
        let doctor = try Child(executable: executable, arguments: ["--role", "storm-doctor", "--patients", "\(patients)"])
        defer { doctor.kill() }
        guard let portLine = await doctor.line(prefix: "PORT ", timeoutSeconds: 120),
              let port = Int(portLine.dropFirst("PORT ".count)) else {
            throw StormBenchError.child("the doctor process did not report its port")
        }
        var children: [Child] = []
        defer { for child in children { child.kill() } }
        let share = (patients + processes - 1) / processes
        var first = 0
        while first < patients {
            let count = min(share, patients - first)
            children.append(try Child(executable: executable, arguments: [
                "--role", "storm-patients", "--port", "\(port)", "--from", "\(first)", "--count", "\(count)",
                "--timeout", "\(timeoutSeconds)"]))
            first += count
        }
        for child in children {
            guard await child.line(prefix: "READY", timeoutSeconds: 120) != nil else {
                throw StormBenchError.child("a patient process did not get ready")
            }
        }
        doctor.send("mark")
        guard await doctor.line(prefix: "MARKED", timeoutSeconds: 30) != nil else {
            throw StormBenchError.child("the doctor did not take the mark")
        }
        progress("  … \(patients) patients in \(children.count) processes: go")
        let go = monotonicNanoseconds()
        for child in children { child.send("go") }
        var results: [PatientsResult] = []
        for child in children {
            guard let line = await child.line(prefix: "RESULT ", timeoutSeconds: timeoutSeconds + 60) else {
                throw StormBenchError.child("a patient process did not report")
            }
            results.append(try JSONDecoder().decode(PatientsResult.self, from: Data(line.dropFirst("RESULT ".count).utf8)))
        }
        // Let the last epoch window close and its GROUP_KEYs go out before reading the CPU.
        try await Task.sleep(nanoseconds: 1_000_000_000)
        doctor.send("report")
        guard let reportLine = await doctor.line(prefix: "REPORT ", timeoutSeconds: 30) else {
            throw StormBenchError.child("the doctor did not report")
        }
        let report = try JSONDecoder().decode(DoctorReport.self, from: Data(reportLine.dropFirst("REPORT ".count).utf8))
        doctor.send("quit")
        _ = await doctor.line(prefix: "BYE", timeoutSeconds: 30)
        var finals: [PatientsFinal] = []
        for child in children { child.send("finish") }
        for child in children {
            guard let line = await child.line(prefix: "FINAL ", timeoutSeconds: 60) else {
                throw StormBenchError.child("a patient process did not finish")
            }
            finals.append(try JSONDecoder().decode(PatientsFinal.self, from: Data(line.dropFirst("FINAL ".count).utf8)))
        }
        let loadAfter = loadAverage()

        let latencies = results.flatMap(\.latencies)
        let lastAuth = results.compactMap(\.lastAuthenticated).max() ?? go
        let authenticated = latencies.count
        var errorSamples = results.flatMap(\.errors)
        errorSamples += finals.flatMap(\.errors)
        // A patient counts once: not authenticated, or authenticated but ended other than by the shutdown.
        let errors = (patients - authenticated) + finals.reduce(0) { $0 + $1.badEndsAfterAuthentication }
        let cpu = Double(report.cpuNanoseconds) / 1e9
        return TCPStormFigures(
            patients: patients, patientProcesses: children.count, authenticated: authenticated, errors: errors,
            errorSamples: Array(errorSamples.prefix(5)), doctorMembers: report.members, doctorEpoch: report.epoch,
            loginLatency: latencies.isEmpty ? nil : Summary(latencies), loginLatencyMax: latencies.max(),
            stormSeconds: Double(lastAuth > go ? lastAuth - go : 0) / 1e9,
            doctorCPUSeconds: cpu, doctorCPUPerAdmission: authenticated > 0 ? cpu / Double(authenticated) : 0,
            doctorDurableCommits: report.durableCommits,
            loadBefore: loadBefore, loadAfter: loadAfter, settings: settings(patients: patients))
    }
}

/// A child process of the storm did not behave.
public enum StormBenchError: Error, CustomStringConvertible {
    case child(String)

    public var description: String {
        switch self {
        case let .child(text): "TCP storm: \(text)"
        }
    }
}

// MARK: - Messages between the processes

struct DoctorReport: Codable {
    var cpuNanoseconds: UInt64
    var members: Int
    var epoch: UInt64
    var durableCommits: Int
}

struct PatientsResult: Codable {
    /// Per authenticated patient: connect → authenticated, ns.
    var latencies: [UInt64]
    /// The latest authentication (CLOCK_MONOTONIC ns).
    var lastAuthenticated: UInt64?
    /// Patients that did not authenticate, with what happened to them.
    var errors: [String]
}

struct PatientsFinal: Codable {
    /// Authenticated patients whose run ended other than by the doctor's "shutdown" (or not at all).
    var badEndsAfterAuthentication: Int
    var errors: [String]
}

/// Per-patient times and outcomes in one patient process (observer callbacks come from any thread).
final class StormRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var starts: [Int: UInt64] = [:]
    private var auths: [Int: UInt64] = [:]
    private var outcomes: [Int: PatientOutcome] = [:]
    private var notes: [Int: [String]] = [:]

    func started(_ patient: Int, at time: UInt64) {
        lock.withLock { if starts[patient] == nil { starts[patient] = time } }
    }

    func authenticated(_ patient: Int, at time: UInt64) {
        lock.withLock { if auths[patient] == nil { auths[patient] = time } }
    }

    func ended(_ patient: Int, _ outcome: PatientOutcome) {
        lock.withLock { outcomes[patient] = outcome }
    }

    func note(_ patient: Int, _ text: String) {
        lock.withLock { notes[patient, default: []].append(text) }
    }

    var endedCount: Int { lock.withLock { outcomes.count } }

    /// Every patient authenticated or ended.
    func allSettled(_ count: Int) -> Bool {
        lock.withLock { (0..<count).allSatisfy { auths[$0] != nil || outcomes[$0] != nil } }
    }

    func result(first: Int, count: Int) -> PatientsResult {
        lock.withLock {
            var latencies: [UInt64] = []
            var errors: [String] = []
            for patient in 0..<count {
                if let auth = auths[patient], let start = starts[patient] {
                    latencies.append(auth - start)
                } else {
                    let outcome = outcomes[patient].map { "\($0)" } ?? "no outcome yet"
                    errors.append("p\(first + patient) not authenticated: \(outcome)"
                                  + (notes[patient].map { " (\($0.joined(separator: "; ")))" } ?? ""))
                }
            }
            return PatientsResult(latencies: latencies, lastAuthenticated: auths.values.max(), errors: errors)
        }
    }

    func final(first: Int, count: Int) -> PatientsFinal {
        lock.withLock {
            var bad = 0
            var errors: [String] = []
            for patient in 0..<count where auths[patient] != nil {
                let outcome = outcomes[patient]
                guard outcome != .disconnectedByDoctor("shutdown") else { continue }
                bad += 1
                errors.append("p\(first + patient) ended \(outcome.map { "\($0)" } ?? "never")"
                              + (notes[patient].map { " (\($0.joined(separator: "; ")))" } ?? ""))
            }
            return PatientsFinal(badEndsAfterAuthentication: bad, errors: errors)
        }
    }
}

// MARK: - Process plumbing

/// Prints one line to standard output at once (the driver reads it through a pipe).
func answer(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// This process's CPU time (user + system) from getrusage, in ns.
func processCPUNanoseconds() -> UInt64 {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let user = UInt64(usage.ru_utime.tv_sec) * 1_000_000_000 + UInt64(usage.ru_utime.tv_usec) * 1_000
    let system = UInt64(usage.ru_stime.tv_sec) * 1_000_000_000 + UInt64(usage.ru_stime.tv_usec) * 1_000
    return user + system
}

/// /proc/loadavg's three averages ("" where there is none).
public func loadAverage() -> String {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "" }
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}

/// Lines of a file handle, read on a thread of their own (a blocking read must not hold one of
/// the few threads of Swift's cooperative pool).
final class LineReader: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    private var ended = false

    init(handle: FileHandle) {
        let thread = Thread { [self] in
            var buffer: [UInt8] = []
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                buffer += data
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffer[..<newline], as: UTF8.self)
                    buffer.removeSubrange(...newline)
                    lock.withLock { lines.append(line) }
                }
            }
            lock.withLock { ended = true }
        }
        thread.start()
    }

    /// The next line, or nil once the handle ended.
    func next() async -> String? {
        while true {
            let (line, done): (String?, Bool) = lock.withLock {
                if !lines.isEmpty { return (lines.removeFirst(), false) }
                return (nil, ended)
            }
            if let line { return line }
            if done { return nil }
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
    }

    /// The next line starting with `prefix` (others are skipped), or nil at the end or the timeout.
    func line(prefix: String, timeoutSeconds: Double) async -> String? {
        let deadline = monotonicNanoseconds() + UInt64(timeoutSeconds * 1e9)
        while monotonicNanoseconds() < deadline {
            let (line, done): (String?, Bool) = lock.withLock {
                if !lines.isEmpty { return (lines.removeFirst(), false) }
                return (nil, ended)
            }
            if let line {
                if line.hasPrefix(prefix) { return line }
                continue
            }
            if done { return nil }
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        return nil
    }
}

/// One child process: this executable in a role, its standard input and output piped.
final class Child: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output: LineReader

    init(executable: String, arguments: [String]) throws {
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = pipe
        output = LineReader(handle: pipe.fileHandleForReading)
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    func send(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    func line(prefix: String, timeoutSeconds: Double) async -> String? {
        await output.line(prefix: prefix, timeoutSeconds: timeoutSeconds)
    }

    /// Ends the child if it is still running (it normally exits on its own).
    func kill() {
        if process.isRunning { process.terminate() }
    }
}
