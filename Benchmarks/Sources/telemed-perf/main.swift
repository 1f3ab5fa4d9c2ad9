// telemed-perf: the performance suite (run it through Benchmarks/run.sh).
//
//   telemed-perf [--quick] [--patients N] [--storm-patients N] [--storm-v1-patients N] [--tcp-patients N]
//                [--flood-patients N] [--flood-only] [--handshake-only]
//                [--fixtures DIR] [--out DIR] [--splice FILE]…
//
// Prints, and writes to DIR/latest.md and DIR/latest.json: the machine, the table of
// operations (median and p99 per row), the doctor-side handshake against the plain-GMP limit
// baseline measured in the same run (interleaved, so both see the same machine noise), for
// protocol versions 1 and 2, with PASS/FAIL per target ratio (--handshake-only runs only that
// and writes no files), the system figures at N active patients (0 skips them), the
// reconnect storm in process with the default epoch window (--storm-patients, default 10,000)
// and with window 0 for the before/after (--storm-v1-patients, default 2,000; 0 skips either),
// the TCP load figures with --tcp-patients N concurrent patients on loopback (0 skips them), the
// TCP storm across processes with --tcp-storm-patients N (a doctor process and patient processes,
// default timeouts; 0 skips it, --tcp-storm-only runs nothing else and writes no files), the
// flood figures with --flood-patients N honest logins under a flood (0 skips them;
// --flood-only runs nothing else and writes no files), and
// the wall time of every scenario under --fixtures DIR through the simulator (in-process).
// Each --splice FILE that holds the markers `<!-- perf-results:begin -->` and
// `<!-- perf-results:end -->` gets the same Markdown between them (the tables of the Performance DocC article).

import Foundation
import TelemedBenchKit
import TelemedCrypto
import TelemedProtocol
import TelemedSimulation

// MARK: - Child roles of the TCP storm (TelemedBenchKit/TCPStormBench.swift; not for direct use)

if CommandLine.arguments.count > 2 && CommandLine.arguments[1] == "--role" {
    var options: [String: String] = [:]
    var rest = CommandLine.arguments.dropFirst(3).makeIterator()
    while let key = rest.next(), let value = rest.next() { options[key] = value }
    func number(_ key: String) -> Int {
        guard let text = options[key], let value = Int(text), value >= 0 else {
            FileHandle.standardError.write(Data("--role \(CommandLine.arguments[2]) needs \(key) N\n".utf8))
            exit(2)
        }
        return value
    }
    switch CommandLine.arguments[2] {
    case "storm-doctor":
        try await TCPStormBench.doctorRole(patients: number("--patients"))
    case "storm-patients":
        try await TCPStormBench.patientsRole(port: number("--port"), from: number("--from"), count: number("--count"),
                                             timeoutSeconds: Double(options["--timeout"] ?? "") ?? 40)
    default:
        FileHandle.standardError.write(Data("unknown role \(CommandLine.arguments[2])\n".utf8))
        exit(2)
    }
}

// MARK: - Arguments

var quick = false
var patients: Int?
var stormPatients: Int?
var stormV1Patients: Int?
var tcpPatients = 1_000
var stormTCPPatients = 1_000
var stormTCPOnly = false
var floodPatients = 200
var floodOnly = false
var handshakeOnly = false
var fixtures: String?
var outDirectory = "results"
var spliceTargets: [String] = []
var arguments = CommandLine.arguments.dropFirst().makeIterator()
let usage = """
    usage: telemed-perf [--quick] [--patients N] [--storm-patients N] [--storm-v1-patients N] [--tcp-patients N]
                        [--tcp-storm-patients N] [--tcp-storm-only] [--flood-patients N] [--flood-only]
                        [--handshake-only] [--fixtures DIR] [--out DIR] [--splice FILE]…
      --quick                 fewer samples; unless given, --patients 1000 --storm-patients 2000 --storm-v1-patients 1000
      --patients N            the sequential fill of DoctorMachine (default 10,000; 0 skips it)
      --storm-patients N      the reconnect storm in process, default epoch window (default 10,000; 0 skips it)
      --storm-v1-patients N   the same storm with window 0 (v1) and with the default window at this size
                              (default 2,000; 0 skips both)
      --tcp-patients N        concurrent patients over TCP on loopback (default 1,000; 0 skips it)
      --tcp-storm-patients N  the TCP storm across processes: a doctor process and patient processes, all
                              patients at once, default timeouts (default 1,000; 0 skips it)
      --tcp-storm-only        run only the TCP storm across processes and write no files
      --flood-patients N      honest logins under a flood of bad first frames (default 200; 0 skips it)
      --flood-only            run only the flood figures and write no files
      --handshake-only        run only the machine facts and the handshake rows and ratios (v1 and v2 against
                              their plain-GMP baselines) and write no files
      --fixtures DIR          time every scenario under DIR through the simulator
      --out DIR               write latest.md and latest.json there (default results)
      --splice FILE           rewrite the Markdown between the perf-results markers of FILE
    Exit status 1 when a target ratio, the storm, the TCP load or a scenario fails. Run it through Benchmarks/run.sh.

    """
while let argument = arguments.next() {
    switch argument {
    case "--help", "-h":
        print(usage, terminator: "")
        exit(0)
    case "--quick": quick = true
    case "--patients":
        guard let text = arguments.next(), let value = Int(text), value >= 0 else {
            FileHandle.standardError.write(Data("--patients needs a non-negative count\n".utf8))
            exit(2)
        }
        patients = value
    case "--storm-patients", "--storm-v1-patients":
        guard let text = arguments.next(), let value = Int(text), value >= 0 else {
            FileHandle.standardError.write(Data("\(argument) needs a non-negative count\n".utf8))
            exit(2)
        }
        if argument == "--storm-patients" { stormPatients = value } else { stormV1Patients = value }
    case "--tcp-patients":
        guard let text = arguments.next(), let value = Int(text), value >= 0 else {
            FileHandle.standardError.write(Data("--tcp-patients needs a non-negative count\n".utf8))
            exit(2)
        }
        tcpPatients = value
    case "--flood-patients":
        guard let text = arguments.next(), let value = Int(text), value >= 0 else {
            FileHandle.standardError.write(Data("--flood-patients needs a non-negative count\n".utf8))
            exit(2)
        }
        floodPatients = value
    case "--tcp-storm-patients":
        guard let text = arguments.next(), let value = Int(text), value >= 0 else {
            FileHandle.standardError.write(Data("--tcp-storm-patients needs a non-negative count\n".utf8))
            exit(2)
        }
        stormTCPPatients = value
    case "--tcp-storm-only": stormTCPOnly = true
    case "--flood-only": floodOnly = true
    case "--handshake-only": handshakeOnly = true
    case "--fixtures":
        guard let text = arguments.next() else {
            FileHandle.standardError.write(Data("--fixtures needs a directory\n".utf8))
            exit(2)
        }
        fixtures = text
    case "--out":
        guard let text = arguments.next() else {
            FileHandle.standardError.write(Data("--out needs a directory\n".utf8))
            exit(2)
        }
        outDirectory = text
    case "--splice":
        guard let text = arguments.next() else {
            FileHandle.standardError.write(Data("--splice needs a file\n".utf8))
            exit(2)
        }
        spliceTargets.append(text)
    default:
        FileHandle.standardError.write(Data(("unknown argument \(argument)\n" + usage).utf8))
        exit(2)
    }
}
let plan: SamplingPlan = quick ? .quick : .standard
let rounds = quick ? 30 : 200
// --quick shrinks the DoctorMachine figures too unless they are given.
let fillPatients = patients ?? (quick ? 1_000 : 10_000)
let stormCount = stormPatients ?? (quick ? 2_000 : 10_000)
let stormV1Count = stormV1Patients ?? (quick ? 1_000 : 2_000)

// MARK: - Output helpers

func format(_ ns: Double) -> String {
    if ns >= 1e9 { return String(format: "%.2f s", ns / 1e9) }
    if ns >= 1e6 { return String(format: "%.3f ms", ns / 1e6) }
    if ns >= 1e3 { return String(format: "%.2f µs", ns / 1e3) }
    return String(format: "%.0f ns", ns)
}

struct Row: Codable {
    var operation: String
    var group: String
    var variant: String
    var summary: Summary
}

struct RatioRow: Codable {
    var group: String
    var name: String
    var ratio: Double
    var target: Double
    var pass: Bool
}

struct Report: Codable {
    var machine: MachineInfo
    var quick: Bool
    var rows: [Row]
    var handshake: [Row]
    var ratios: [RatioRow]
    var baselineCalls: String
    var baselineCallsV2: String? = nil
    var system: SystemFigures?
    var storm: StormFigures?
    var stormSmall: StormFigures?
    var stormV1: StormFigures?
    var tcp: TCPLoadFigures?
    var simulateSeconds: Double?
    var scenarios: Int?
    var flood: [FloodFigures]?
    var parallel: ParallelHandshakeFigures? = nil
    var tcpStorm: TCPStormFigures? = nil
}

var markdown: [String] = []
@MainActor func emit(_ line: String = "") {
    print(line)
    markdown.append(line)
}

func tableRow(_ row: Row) -> String {
    "| \(row.operation) | \(row.group) | \(row.variant) | \(format(row.summary.median)) | \(format(row.summary.p99)) | \(row.summary.count) |"
}

// MARK: - Flood

@MainActor func floodSection() async throws -> [FloodFigures] {
    guard floodPatients > 0 else { return [] }
    emit("### Flood (loopback TCP, \(floodPatients) honest logins, SQLite store in a state directory)")
    emit()
    emit("Flood threads send garbage or bad-signature first frames as fast as the doctor answers, while "
         + "\(floodPatients) patients log in from 127.0.0.1, one every 20 ms; the same logins run first "
         + "without the flood. Fixed: 50 sources, each blocked after R-SRC's 5 failures, then refused on "
         + "accept. Rotating: each thread moves to a fresh source every 4 attempts, so every rejection is "
         + "a counted failure. Durable commits are fsyncs of the SQLite WAL (group commit: inputs that "
         + "arrive during a commit share the next one; audit rows alone are not fsynced). Pending limits "
         + "for 127.0.0.1 raised to \(floodPatients).")
    emit()
    emit("| Flood | Honest in / started (quiet, flooded) | Login p50 / p99 quiet | Login p50 / p99 flooded | p99 ratio (target ≤ 2) | Rejected (counted) | Durable commits (all) | fsyncs per rejected frame |")
    emit("|---|---|---|---|---|---|---|---|")
    var all: [FloodFigures] = []
    for kind in [FloodBench.Kind.fixed, .rotating] {
        let figures = try await FloodBench.run(kind: kind, honest: floodPatients) { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        all.append(figures)
        let quiet = figures.quietLatency.map { "\(format($0.median)) / \(format($0.p99))" } ?? "—"
        let flooded = figures.floodedLatency.map { "\(format($0.median)) / \(format($0.p99))" } ?? "—"
        let durable = figures.durableCommits.map { "\($0) (\(figures.commits ?? 0))" } ?? "—"
        let perFrame = figures.fsyncsPerRejected.map { String(format: "%.4f", $0) } ?? "—"
        emit("| \(figures.flood), \(figures.floodThreads) threads, \(String(format: "%.1f s", figures.floodSeconds)) "
             + "| \(figures.authenticatedQuiet), \(figures.authenticatedFlooded) / \(figures.honest) | \(quiet) | \(flooded) "
             + "| \(String(format: "%.2f", figures.p99Ratio)) \(figures.p99Ratio <= 2 ? "PASS" : "FAIL") "
             + "| \(figures.rejected) (\(figures.countedFailures)) | \(durable) | \(perFrame) |")
    }
    emit()
    return all
}

if floodOnly {
    _ = try await floodSection()
    exit(0)
}

// MARK: - TCP storm across processes

@MainActor func tcpStormSection() async throws -> TCPStormFigures? {
    guard stormTCPPatients > 0 else { return nil }
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    let self_ = FileManager.default.isExecutableFile(atPath: executable)
        ? executable : (Bundle.main.executablePath ?? executable)
    let figures = try await TCPStormBench.run(executable: self_, patients: stormTCPPatients) { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
    emit("### TCP storm across processes (loopback, \(figures.patients) patients at once, default timeouts)")
    emit()
    emit("The doctor (DoctorService, TCPServerTransport, SQLite store) runs in a process of its own; "
         + "\(figures.patients) patients (PatientService and TCPClientTransport each) run in \(figures.patientProcesses) "
         + "other processes and all start at once. Settings: \(figures.settings). Login latency: each patient's "
         + "connect → its first GROUP_KEY opened. Doctor CPU: its getrusage (user + system) from just before the "
         + "storm to after the last epoch, divided by the admitted patients.")
    emit()
    emit("| Figure | Value |")
    emit("|---|---|")
    emit("| Admitted / started, errors (target: all, 0) | \(figures.authenticated) / \(figures.patients), "
         + "\(figures.errors) errors; doctor members \(figures.doctorMembers), epoch \(figures.doctorEpoch) — \(figures.pass ? "PASS" : "FAIL") |")
    if let latency = figures.loginLatency {
        emit("| Login latency p50 / p99 (max) | \(format(latency.median)) / \(format(latency.p99)) (\(format(Double(figures.loginLatencyMax ?? 0)))) |")
    }
    emit("| Start → last admission | \(String(format: "%.2f s", figures.stormSeconds)) |")
    emit("| Doctor CPU, total / per admission | \(String(format: "%.2f s", figures.doctorCPUSeconds)) / "
         + "\(format(figures.doctorCPUPerAdmission * 1e9)) |")
    emit("| Doctor durable commits | \(figures.doctorDurableCommits) |")
    emit("| Load average (1, 5, 15 min) before / after | \(figures.loadBefore) / \(figures.loadAfter) |")
    emit()
    if !figures.errorSamples.isEmpty {
        emit("Errors (first \(figures.errorSamples.count)): " + figures.errorSamples.joined(separator: "; "))
        emit()
    }
    return figures
}

if stormTCPOnly {
    let figures = try await tcpStormSection()
    exit(figures?.pass ?? true ? 0 : 1)
}

// MARK: - Machine

let machine = MachineInfo.current()
emit("### Machine")
emit()
emit("- `uname -a`: `\(machine.uname)`")
emit("- CPU: \(machine.cpu) (\(machine.cores) cores online)")
emit("- GMP \(machine.gmp); release build; \(quick ? "quick sampling" : "standard sampling"); \(machine.date)")
emit()

let groups = [TelemedGroup.telemed2048, TelemedGroup.telemed3072]

// MARK: - Handshake against the limit baseline

let versions: [ProtocolVersion] = [.v1, .v2]
func callsText(_ version: ProtocolVersion) -> String {
    let counts = BaselineBench.counts(version)
    return "\(counts.public) × mpz_powm + \(counts.secret) × mpz_powm_sec"
}
let baselineCalls = callsText(.v1)
let baselineCallsV2 = callsText(.v2)

/// The handshake rows and ratios of both versions against their plain-GMP baselines, sampled
/// interleaved (every round runs all six), with the load average before and after.
@MainActor func handshakeSection() throws -> (rows: [Row], ratios: [RatioRow]) {
    emit("### Doctor-side handshake against the plain-GMP limit baseline")
    emit()
    emit("Baseline: a C function doing only the exponentiations one doctor-side handshake needs, on prepared "
         + "mpz_t values. Version 1 (\(baselineCalls)): element checks of sig_r, c1, c2 and K; g^e, y^r', r^s; "
         + "c1^(q−x); g^u; g^k, y^k; g^k and k^(q−2) mod q. Version 2 (\(baselineCallsV2)): the same plus dh_i's "
         + "element check A^q, B = g^b and Z = A^b (PROTOCOL.md §8.9). "
         + "Handshake: `DoctorMachine.connectionOpened` + `frameReceived(KEY_VERIFICATION)` → SESSION_TOKEN, or "
         + "`frameReceived(KEY_VERIFICATION_V2)` → SESSION_TOKEN_V2 with the doctor's minimum version 2 "
         + "(decode, checks, verify, decrypt, re-encrypt, sign, encode; v2 also the share check, the hedged b, "
         + "B, Z and the transcript digests). "
         + "\(rounds) rounds, both baselines and the four handshakes interleaved in each round.")
    emit()
    let loadBefore = loadAverage()
    emit("| Step | Group | Exponentiation | Median | p99 | Samples |")
    emit("|---|---|---|---|---|---|")
    var rows: [Row] = []
    var ratios: [RatioRow] = []
    var floors: [(group: String, floor: Double, reference: Double)] = []
    for group in groups {
        let baseline = try BaselineBench(group: group)
        var benches: [(version: ProtocolVersion, strategy: ExponentiationStrategy, bench: HandshakeBench)] = []
        for version in versions {
            for strategy in [ExponentiationStrategy.reference, .accelerated] {
                benches.append((version, strategy, try HandshakeBench(group: group, strategy: strategy, version: version)))
            }
        }
        for _ in 0..<3 {
            for version in versions { baseline.run(version) }
            for i in benches.indices { _ = try benches[i].bench.step() }
        }
        var added = AddedV2Work(group: group, strategy: .accelerated)
        var addedTimes: [UInt64] = []
        var base: [ProtocolVersion: [UInt64]] = [:]
        var request = Array(repeating: [UInt64](), count: benches.count)
        var confirm = Array(repeating: [UInt64](), count: benches.count)
        for _ in 0..<rounds {
            for version in versions {
                let t0 = monotonicNanoseconds()
                let ok = baseline.run(version)
                base[version, default: []].append(monotonicNanoseconds() - t0)
                precondition(ok != 0, "the baseline's checks must pass")
            }
            for i in benches.indices {
                let step = try benches[i].bench.step()
                request[i].append(step.request)
                confirm[i].append(step.confirmation)
            }
            addedTimes.append(try added.run())
        }
        let name = group.name
        var medians: [String: Double] = [:]
        for version in versions {
            let row = Row(operation: "limit baseline v\(version) (plain GMP)", group: name, variant: "—",
                          summary: Summary(base[version] ?? []))
            medians["base v\(version)"] = row.summary.median
            rows.append(row)
            emit(tableRow(row))
            for (i, entry) in benches.enumerated() where entry.version == version {
                let step = version == .v1 ? "open + KEY_VERIFICATION → SESSION_TOKEN" : "open + KEY_VERIFICATION_V2 → SESSION_TOKEN_V2"
                let row = Row(operation: step, group: name, variant: entry.strategy.rawValue, summary: Summary(request[i]))
                medians["v\(version) \(entry.strategy.rawValue)"] = row.summary.median
                rows.append(row)
                emit(tableRow(row))
            }
            for (i, entry) in benches.enumerated() where entry.version == version {
                let row = Row(operation: "KEY_CONFIRMATION → join, GROUP_KEY (v\(version))", group: name,
                              variant: entry.strategy.rawValue, summary: Summary(confirm[i]))
                rows.append(row)
                emit(tableRow(row))
            }
        }
        let addedRow = Row(operation: "v2's added work alone: A^q, hedged b and B = g^b, Z = A^b", group: name,
                           variant: "accelerated", summary: Summary(addedTimes))
        rows.append(addedRow)
        emit(tableRow(addedRow))
        floors.append((name, ((medians["v1 accelerated"] ?? .nan) + addedRow.summary.median) / (medians["v1 accelerated"] ?? .nan),
                       (medians["v2 reference"] ?? .nan) / (medians["v1 reference"] ?? .nan)))
        func ratio(_ label: String, _ over: String, _ under: String, target: Double) {
            let value = (medians[over] ?? .nan) / (medians[under] ?? .nan)
            ratios.append(RatioRow(group: name, name: label, ratio: value, target: target, pass: value <= target))
        }
        ratio("before (reference) / baseline", "v1 reference", "base v1", target: 1.15)
        ratio("after (accelerated) / baseline", "v1 accelerated", "base v1", target: 0.75)
        ratio("v2 before (reference) / v2 baseline", "v2 reference", "base v2", target: 1.15)
        ratio("v2 after (accelerated) / v2 baseline", "v2 accelerated", "base v2", target: 0.75)
        ratio("v2 / v1, accelerated (same run)", "v2 accelerated", "v1 accelerated", target: 1.3)
    }
    emit()
    emit("| Ratio of medians | Group | Ratio | Target | Result |")
    emit("|---|---|---|---|---|")
    for ratio in ratios {
        emit("| \(ratio.name) | \(ratio.group) | \(String(format: "%.3f", ratio.ratio)) | ≤ \(String(format: "%.2f", ratio.target)) | \(ratio.pass ? "PASS" : "FAIL") |")
    }
    emit()
    for entry in floors {
        emit("v2 / v1 floor, \(entry.group): (v1 accelerated + v2's added work alone) / v1 accelerated = "
             + String(format: "%.3f", entry.floor) + " (the ratio if v2 cost nothing but its three exponentiations and "
             + "the hedged b); v2 / v1 under the reference strategy: " + String(format: "%.3f", entry.reference) + ".")
    }
    emit()
    emit("Load average (1, 5, 15 min) before / after the handshake rows: \(loadBefore) / \(loadAverage()).")
    emit()
    return (rows, ratios)
}

if handshakeOnly {
    let section = try handshakeSection()
    exit(section.ratios.allSatisfy(\.pass) ? 0 : 1)
}

// MARK: - Operations

emit("### Operations (one core, median and p99 per call)")
emit()
emit("| Operation | Group | Exponentiation | Median | p99 | Samples |")
emit("|---|---|---|---|---|---|")
var rows: [Row] = []
@MainActor func measure(_ workloads: [MicroWorkload]) {
    for workload in workloads {
        let row = Row(operation: workload.operation, group: workload.group, variant: workload.variant,
                      summary: Summary(plan.sample(workload.run)))
        rows.append(row)
        emit(tableRow(row))
    }
}
for group in groups {
    measure(MicroWorkloads.asymmetric(group, .accelerated))
    measure(MicroWorkloads.asymmetric(group, .reference))
    measure(MicroWorkloads.exponentiation(group))
}
measure(MicroWorkloads.symmetric())
emit()

let (handshakeRows, ratios) = try handshakeSection()

// MARK: - System figures

var system: SystemFigures?
if fillPatients > 0 {
    emit("### System figures (DoctorMachine only, telemed-2048-256, accelerated)")
    emit()
    let figures = try SystemBench.run(patients: fillPatients, group: .telemed2048) { count in
        FileHandle.standardError.write(Data("  … \(count) patients active\n".utf8))
    }
    system = figures
    let kib = figures.rssPerPatient / 1024
    let n = figures.patients
    emit("The doctor is filled one patient after another (each connects when the previous one is done) with the "
         + "default epoch window of \(figures.windowMillis) ms: a join only adds the patient to the pending epoch, "
         + "and `BenchDoctorHost` fires the window timer when it is due on a clock that follows real elapsed time "
         + "(the patients' work in this process included, as for patients arriving back to back).")
    emit()
    emit("| Figure | Value |")
    emit("|---|---|")
    emit("| Active patients | \(n) |")
    emit("| Fill: \(n) complete handshakes in a row (both sides' work) | \(String(format: "%.1f s", figures.fillSeconds)) "
         + "(\(figures.fillEpochs) epochs, \(String(format: "%.1f", Double(n) / Double(max(1, figures.fillEpochs)))) joins per epoch; "
         + "doctor \(String(format: "%.1f s", figures.fillDoctorSeconds))) |")
    emit("| KEY_CONFIRMATION at \(n) members (a join into the pending epoch), median of last \(figures.joinAtSize.count) "
         + "| \(format(figures.joinAtSize.median)) (p99 \(format(figures.joinAtSize.p99))) |")
    if let epoch = figures.epochAtSize, let members = figures.epochAtSizeMembers {
        emit("| Epoch start at ≥ \(members) members (window timer: GK + one GROUP_KEY seal per member), median of last \(epoch.count) "
             + "| \(format(epoch.median)) (p99 \(format(epoch.p99))) |")
    }
    emit("| Leave and its epoch (close, then the window timer: GK + \(n - 1)…\(n - 5) GROUP_KEY seals), median of \(figures.leaveRekey.count) "
         + "| \(format(figures.leaveRekey.median)) (p99 \(format(figures.leaveRekey.p99))) |")
    emit("| Doctor RSS growth per active patient | \(String(format: "%.0f B (%.2f KiB)", figures.rssPerPatient, kib)) — target ≤ 4 KiB: \(kib <= 4 ? "PASS" : "FAIL") |")
    emit("| Doctor malloc'd bytes per active patient | \(String(format: "%.0f B", figures.heapPerPatient)) |")
    emit()
}

// MARK: - Reconnect storm, in process

var storm: StormFigures?
var stormSmall: StormFigures?
var stormV1: StormFigures?
var stormPass = true
if stormCount > 0 || stormV1Count > 0 {
    let progress: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    let singleSamples = quick ? 30 : 100
    let window = DoctorConfiguration().epochWindowMillis
    if stormCount > 0 {
        storm = try StormBench.run(patients: stormCount, windowMillis: window, singleSamples: singleSamples,
                                   progress: progress)
    }
    if stormV1Count > 0 {
        // The same size with the default window, for a like-for-like before/after.
        if stormV1Count != stormCount {
            stormSmall = try StormBench.run(patients: stormV1Count, windowMillis: window, singleSamples: singleSamples,
                                            progress: progress)
        }
        stormV1 = try StormBench.run(patients: stormV1Count, windowMillis: 0, singleSamples: singleSamples,
                                     progress: progress)
    }
    let columns = [storm, stormSmall, stormV1].compactMap { $0 }
    emit("### Reconnect storm, in process (DoctorMachine and PatientMachines, telemed-2048-256, accelerated)")
    emit()
    emit("A restarted doctor and N patients that all reconnect at once; no transport, no storage. "
         + "Settings: \((storm ?? stormV1)?.settings ?? ""). The doctor's CPU per admitted patient is the thread CPU "
         + "time inside every doctor input and timer fire (accepts, requests, confirmations, epoch starts) divided by N; "
         + "target ≤ 1.5 × the median CPU time of one handshake + join on an idle doctor (open + KEY_VERIFICATION, "
         + "KEY_CONFIRMATION + its one-member epoch), sampled in the same run, half before the storm and half after. "
         + "CPU time because this 2-core machine is shared with other builds: a sum over every input of the storm "
         + "takes each preemption, a median takes none; the elapsed-time figures are given as well. Patients run in "
         + "this process too (off the doctor's clock), so the run's wall time is larger than the doctor's clock.")
    emit()
    emit("| Figure | " + columns.map { "window \($0.windowMillis) ms\($0.windowMillis == 0 ? " (v1)" : ""), \($0.patients) patients" }.joined(separator: " | ") + " |")
    emit("|---|" + columns.map { _ in "---|" }.joined())
    func row(_ name: String, _ value: (StormFigures) -> String) {
        emit("| \(name) | " + columns.map(value).joined(separator: " | ") + " |")
    }
    row("Members at the end / patients on the doctor's current key") { "\($0.active) / \($0.patientsCurrent) of \($0.patients), \($0.failureCount) failures" }
    row("Storm on the doctor's clock (first accept → every patient on the final key)") { String(format: "%.2f s", $0.doctorClockSeconds) }
    row("Wall time of the run (doctor and all patients in this process)") { String(format: "%.2f s", $0.wallSeconds) }
    row("Admitted after (storm start → first GROUP_KEY opened, doctor's clock), p50 / p99") {
        $0.admittedAfter.map { "\(format($0.median)) / \(format($0.p99))" } ?? "—"
    }
    row("Epochs (most joins in one)") { "\($0.epochs) (\($0.largestEpochJoiners))" }
    row("Slowest epoch start (its members)") { "\(format(Double($0.slowestEpochNanoseconds))) (\($0.slowestEpochMembers))" }
    row("Doctor time in all inputs, elapsed / CPU; of which epoch starts by the window timer (elapsed)") {
        String(format: "%.2f s / %.2f s; %.2f s", $0.doctorSeconds, $0.doctorCPUSeconds, $0.windowSeconds)
    }
    row("Doctor per admitted patient, elapsed / **CPU**") { "\(format($0.doctorPerPatient)) / **\(format($0.doctorCPUPerPatient))**" }
    row("One handshake + join on an idle doctor, median elapsed / **CPU** (\((storm ?? stormV1)?.single.count ?? 0) samples)") {
        "\(format($0.single.median)) / **\(format($0.singleCPU.median))**"
    }
    row("Ratio elapsed / **CPU**, target (CPU) ≤ 1.5") {
        String(format: "%.3f / **%.3f**", $0.elapsedRatio, $0.ratio) + " — " + ($0.pass ? "PASS" : "FAIL")
    }
    emit()
    for figures in columns where !figures.failures.isEmpty {
        emit("Failures with window \(figures.windowMillis) ms (first \(figures.failures.count) of \(figures.failureCount)): "
             + figures.failures.joined(separator: "; "))
        emit()
    }
    // The storm with the default window is the figure with a target; window 0 is the before.
    stormPass = (storm?.pass ?? true) && (stormSmall?.pass ?? true)
}

// MARK: - TCP load

var tcp: TCPLoadFigures?
var tcpPass = true
if tcpPatients > 0 {
    emit("### System figures over TCP (loopback, \(tcpPatients) patients, telemed-2048-256)")
    emit()
    let figures = try await TCPLoadBench.run(patients: tcpPatients) { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
    tcp = figures
    tcpPass = figures.errors == 0 && figures.authenticated == figures.patients && figures.broadcastsDelivered > 0
    emit("All patients run in this process (one TCPClientTransport and PatientService each) and "
         + "share the 2 cores with the doctor's DoctorService, which batches epochs with the default "
         + "\(DoctorConfiguration().epochWindowMillis) ms window (joins within a window share one epoch). "
         + "Settings: \(figures.settings).")
    emit()
    emit("| Figure | Value |")
    emit("|---|---|")
    emit("| Patients authenticated / started, errors | \(figures.authenticated) / \(figures.patients), \(figures.errors) errors — \(tcpPass ? "PASS" : "FAIL") |")
    emit("| First connect → last authentication | \(String(format: "%.2f s", figures.handshakeSeconds)) (\(String(format: "%.0f", figures.handshakesPerSecond)) handshakes/s) |")
    if let latency = figures.handshakeLatency {
        emit("| Handshake latency (connect → first GROUP_KEY opened), p50 / p99 | \(format(latency.median)) / \(format(latency.p99)) |")
    }
    if let fanout = figures.broadcastFanout {
        emit("| Broadcast to \(figures.authenticated) patients (command → last decrypt), p50 / p99 of \(fanout.count) | \(format(fanout.median)) / \(format(fanout.p99)) |")
    } else {
        emit("| Broadcast to every patient | no broadcast reached every patient within the time bound — FAIL |")
    }
    emit()
}

let tcpStorm = try await tcpStormSection()
let tcpStormPass = tcpStorm?.pass ?? true

let flood = try await floodSection()

// MARK: - Parallel handshakes (TelemedBenchKit/ParallelHandshakeBench.swift)

let parallel = try await ParallelHandshakeBench.run(requests: quick ? 200 : 400, runs: quick ? 5 : 9)
for line in parallel.markdown { emit(line) }

// MARK: - The simulator's wall time

var simulateSeconds: Double?
var scenarioCount: Int?
var simulatePass = true
if let fixtures {
    let files = try ScenarioRunner.scenarioFiles(for: [fixtures])
    let begin = monotonicNanoseconds()
    var passed = 0
    for file in files {
        let scenario = try ScenarioRunner.load(file: file)
        if ScenarioRunner.run(scenario, file: file).passed { passed += 1 }
    }
    let seconds = Double(monotonicNanoseconds() - begin) / 1e9
    simulateSeconds = seconds
    scenarioCount = files.count
    simulatePass = passed == files.count
    emit("### Simulator")
    emit()
    emit("| Figure | Value |")
    emit("|---|---|")
    emit("| `simulate Fixtures/` in release, in-process (\(files.count) scenarios, \(passed) passed) | \(String(format: "%.2f s", seconds)) |")
    emit()
}

// MARK: - Files

let report = Report(machine: machine, quick: quick, rows: rows, handshake: handshakeRows, ratios: ratios,
                    baselineCalls: baselineCalls, baselineCallsV2: baselineCallsV2, system: system, storm: storm, stormSmall: stormSmall, stormV1: stormV1, tcp: tcp,
                    simulateSeconds: simulateSeconds,
                    scenarios: scenarioCount, flood: flood.isEmpty ? nil : flood,
                    parallel: parallel, tcpStorm: tcpStorm)
let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
try FileManager.default.createDirectory(atPath: outDirectory, withIntermediateDirectories: true)
try encoder.encode(report).write(to: URL(fileURLWithPath: outDirectory + "/latest.json"))
try (markdown.joined(separator: "\n") + "\n").write(toFile: outDirectory + "/latest.md", atomically: true, encoding: .utf8)
print("wrote \(outDirectory)/latest.md and \(outDirectory)/latest.json")
let begin = "<!-- perf-results:begin -->", end = "<!-- perf-results:end -->"
for path in spliceTargets {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8),
          let open = text.range(of: begin), let close = text.range(of: end), open.upperBound <= close.lowerBound else {
        print("\(path): no perf-results markers, left alone")
        continue
    }
    let generated = "\n<!-- generated by Benchmarks/run.sh; do not edit by hand -->\n" + markdown.joined(separator: "\n") + "\n"
    try (String(text[..<open.upperBound]) + generated + String(text[close.lowerBound...]))
        .write(toFile: path, atomically: true, encoding: .utf8)
    print("updated the table in \(path)")
}
exit(ratios.allSatisfy(\.pass) && stormPass && tcpPass && tcpStormPass && simulatePass && parallel.pass ? 0 : 1)
