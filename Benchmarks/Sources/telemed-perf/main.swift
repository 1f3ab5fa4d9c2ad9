// telemed-perf: the performance suite (run it through Benchmarks/run.sh).
//
//   telemed-perf [--quick] [--patients N] [--tcp-patients N] [--fixtures DIR] [--out DIR] [--splice FILE]…
//
// Prints, and writes to DIR/latest.md and DIR/latest.json: the machine, the table of
// operations (median and p99 per row), the doctor-side handshake against the plain-GMP limit
// baseline measured in the same run (interleaved, so both see the same machine noise) with
// PASS/FAIL per target ratio, the system figures at N active patients (0 skips them), the
// TCP load figures with --tcp-patients N concurrent patients on loopback (0 skips them), and
// the wall time of every scenario under --fixtures DIR through the simulator (in-process).
// Each --splice FILE that holds the markers `<!-- perf-results:begin -->` and
// `<!-- perf-results:end -->` gets the same Markdown between them (the README's table).

import Foundation
import TelemedBenchKit
import TelemedCrypto
import TelemedSimulation

// MARK: - Arguments

var quick = false
var patients = 10_000
var tcpPatients = 1_000
var fixtures: String?
var outDirectory = "results"
var spliceTargets: [String] = []
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--quick": quick = true
    case "--patients":
        guard let text = arguments.next(), let value = Int(text), value >= 0 else {
            FileHandle.standardError.write(Data("--patients needs a non-negative count\n".utf8))
            exit(2)
        }
        patients = value
    case "--tcp-patients":
        guard let text = arguments.next(), let value = Int(text), value >= 0 else {
            FileHandle.standardError.write(Data("--tcp-patients needs a non-negative count\n".utf8))
            exit(2)
        }
        tcpPatients = value
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
        FileHandle.standardError.write(Data("unknown argument \(argument)\nusage: telemed-perf [--quick] [--patients N] [--tcp-patients N] [--fixtures DIR] [--out DIR]\n".utf8))
        exit(2)
    }
}
let plan: SamplingPlan = quick ? .quick : .standard
let rounds = quick ? 30 : 200

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
    var system: SystemFigures?
    var tcp: TCPLoadFigures?
    var simulateSeconds: Double?
    var scenarios: Int?
    var parallel: ParallelHandshakeFigures? = nil
}

var markdown: [String] = []
@MainActor func emit(_ line: String = "") {
    print(line)
    markdown.append(line)
}

func tableRow(_ row: Row) -> String {
    "| \(row.operation) | \(row.group) | \(row.variant) | \(format(row.summary.median)) | \(format(row.summary.p99)) | \(row.summary.count) |"
}

// MARK: - Machine

let machine = MachineInfo.current()
emit("### Machine")
emit()
emit("- `uname -a`: `\(machine.uname)`")
emit("- CPU: \(machine.cpu) (\(machine.cores) cores online)")
emit("- GMP \(machine.gmp); release build; \(quick ? "quick sampling" : "standard sampling"); \(machine.date)")
emit()

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
let groups = [TelemedGroup.telemed2048, TelemedGroup.telemed3072]
for group in groups {
    measure(MicroWorkloads.asymmetric(group, .accelerated))
    measure(MicroWorkloads.asymmetric(group, .reference))
    measure(MicroWorkloads.exponentiation(group))
}
measure(MicroWorkloads.symmetric())
emit()

// MARK: - Handshake against the limit baseline

let counts = BaselineBench.counts
let baselineCalls = "\(counts.public) × mpz_powm + \(counts.secret) × mpz_powm_sec"
emit("### Doctor-side handshake against the plain-GMP limit baseline")
emit()
emit("Baseline: a C function doing only the exponentiations one doctor-side handshake needs "
     + "(\(baselineCalls): element checks of sig_r, c1, c2 and K; g^e, y^r', r^s; c1^(q−x); "
     + "g^u; g^k, y^k; g^k and k^(q−2) mod q), on prepared mpz_t values. "
     + "Handshake: `DoctorMachine.connectionOpened` + `frameReceived(KEY_VERIFICATION)` → SESSION_TOKEN "
     + "(decode, checks, verify, decrypt, re-encrypt, sign, encode). "
     + "\(rounds) rounds, the three interleaved in each round.")
emit()
emit("| Step | Group | Exponentiation | Median | p99 | Samples |")
emit("|---|---|---|---|---|---|")
var handshakeRows: [Row] = []
var ratios: [RatioRow] = []
for group in groups {
    let baseline = try BaselineBench(group: group)
    var fast = try HandshakeBench(group: group, strategy: .accelerated)
    var slow = try HandshakeBench(group: group, strategy: .reference)
    for _ in 0..<3 {
        baseline.run()
        _ = try fast.step()
        _ = try slow.step()
    }
    var base: [UInt64] = [], fastRequest: [UInt64] = [], fastConfirm: [UInt64] = []
    var slowRequest: [UInt64] = [], slowConfirm: [UInt64] = []
    for _ in 0..<rounds {
        let t0 = monotonicNanoseconds()
        let ok = baseline.run()
        base.append(monotonicNanoseconds() - t0)
        precondition(ok != 0, "the baseline's checks must pass")
        let f = try fast.step()
        fastRequest.append(f.request)
        fastConfirm.append(f.confirmation)
        let s = try slow.step()
        slowRequest.append(s.request)
        slowConfirm.append(s.confirmation)
    }
    let name = group.name
    let new = [
        Row(operation: "limit baseline (plain GMP)", group: name, variant: "—", summary: Summary(base)),
        Row(operation: "open + KEY_VERIFICATION → SESSION_TOKEN", group: name, variant: "reference", summary: Summary(slowRequest)),
        Row(operation: "open + KEY_VERIFICATION → SESSION_TOKEN", group: name, variant: "accelerated", summary: Summary(fastRequest)),
        Row(operation: "KEY_CONFIRMATION → join, GROUP_KEY", group: name, variant: "reference", summary: Summary(slowConfirm)),
        Row(operation: "KEY_CONFIRMATION → join, GROUP_KEY", group: name, variant: "accelerated", summary: Summary(fastConfirm)),
    ]
    for row in new { emit(tableRow(row)) }
    handshakeRows += new
    let baseMedian = new[0].summary.median
    ratios.append(RatioRow(group: name, name: "before (reference) / baseline", ratio: new[1].summary.median / baseMedian,
                           target: 1.15, pass: new[1].summary.median / baseMedian <= 1.15))
    ratios.append(RatioRow(group: name, name: "after (accelerated) / baseline", ratio: new[2].summary.median / baseMedian,
                           target: 0.75, pass: new[2].summary.median / baseMedian <= 0.75))
}
emit()
emit("| Ratio of medians | Group | Ratio | Target | Result |")
emit("|---|---|---|---|---|")
for ratio in ratios {
    emit("| \(ratio.name) | \(ratio.group) | \(String(format: "%.3f", ratio.ratio)) | ≤ \(String(format: "%.2f", ratio.target)) | \(ratio.pass ? "PASS" : "FAIL") |")
}
emit()

// MARK: - System figures

var system: SystemFigures?
if patients > 0 {
    emit("### System figures (DoctorMachine only, telemed-2048-256, accelerated)")
    emit()
    let figures = try SystemBench.run(patients: patients, group: .telemed2048) { count in
        FileHandle.standardError.write(Data("  … \(count) patients active\n".utf8))
    }
    system = figures
    let kib = figures.rssPerPatient / 1024
    emit("| Figure | Value |")
    emit("|---|---|")
    emit("| Active patients | \(figures.patients) |")
    emit("| Fill: \(figures.patients) complete handshakes, each join a rekey (both sides' work) | \(String(format: "%.1f s", figures.fillSeconds)) |")
    emit("| Join at \(figures.patients) members (KEY_CONFIRMATION + GK + \(figures.patients) GROUP_KEY seals), median of last \(figures.joinAtSize.count) | \(format(figures.joinAtSize.median)) (p99 \(format(figures.joinAtSize.p99))) |")
    emit("| Rekey after a leave (GK + \(figures.patients - 1)…\(figures.patients - 5) GROUP_KEY seals), median of \(figures.leaveRekey.count) | \(format(figures.leaveRekey.median)) (p99 \(format(figures.leaveRekey.p99))) |")
    emit("| Doctor RSS growth per active patient | \(String(format: "%.0f B (%.2f KiB)", figures.rssPerPatient, kib)) — target ≤ 4 KiB: \(kib <= 4 ? "PASS" : "FAIL") |")
    emit("| Doctor malloc'd bytes per active patient | \(String(format: "%.0f B", figures.heapPerPatient)) |")
    emit()
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
         + "share the 2 cores with the doctor's DoctorService; every join starts a new epoch, so "
         + "the doctor seals one GROUP_KEY per member per join. Settings: \(figures.settings).")
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
                    baselineCalls: baselineCalls, system: system, tcp: tcp, simulateSeconds: simulateSeconds,
                    scenarios: scenarioCount, parallel: parallel)
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
exit(ratios.allSatisfy(\.pass) && tcpPass && simulatePass && parallel.pass ? 0 : 1)
