// telemed-soak: a doctor under patient churn and attack for minutes (run it through
// Benchmarks/soak.sh; see --help). Exit 0 only when every check of the verdict passed.

import Foundation
import TelemedBenchKit

let usage = """
    telemed-soak [--minutes M] [--patients N] [--attackers A] [--seed S] [--quick] [--out DIR]

    Runs a doctor (DoctorService, TCP on 127.0.0.1, SQLite state in a temporary directory) for M
    minutes while N honest patients (from 127.0.0.1, in a second process) join, stay, leave or
    drop, and come back, the doctor broadcasts every few seconds, and A attacker threads send bad
    signatures, unknown ids, replayed KEY_VERIFICATIONs, garbage frames, oversize and empty length
    prefixes, half-open connections and wrong SKVs from other loopback addresses (127.0.X.Y).
    Samples the doctor process's RSS and table sizes, then prints the verdict and writes
    DIR/soak-latest.md and DIR/soak-latest.json.

      --minutes M     load phase length (default 5; --quick: 1)
      --patients N    honest patients (default 200)
      --attackers A   attacker threads (default 4)
      --seed S        seed of the keys and of every schedule (default 1)
      --quick         one minute, shorter stays, denser samples
      --out DIR       where the report goes (default: results)

    Exit status: 0 when every check passed, 1 when one failed, 2 on a usage or setup error.
    """

func fail(_ text: String) -> Never {
    FileHandle.standardError.write(Data((text + "\n").utf8))
    exit(2)
}

var options = SoakOptions()
var role = "doctor"
var port = 0
var reportPath = ""
var outDirectory = "results"
var quick = false
var minutes: Double?
let argv = Array(CommandLine.arguments.dropFirst())
var position = 0
@MainActor func value(_ name: String) -> String {
    guard position < argv.count else { fail("\(name) needs a value\n\n\(usage)") }
    position += 1
    return argv[position - 1]
}
while position < argv.count {
    let argument = argv[position]
    position += 1
    switch argument {
    case "--help", "-h":
        print(usage)
        exit(0)
    case "--quick": quick = true
    case "--minutes":
        guard let number = Double(value(argument)), number > 0, number <= 24 * 60 else { fail("--minutes needs a positive number") }
        minutes = number
    case "--patients":
        guard let number = Int(value(argument)), (1...5_000).contains(number) else { fail("--patients needs 1...5000") }
        options.patients = number
    case "--attackers":
        guard let number = Int(value(argument)), (0...64).contains(number) else { fail("--attackers needs 0...64") }
        options.attackers = number
    case "--seed":
        guard let number = UInt64(value(argument)) else { fail("--seed needs a non-negative integer") }
        options.seed = number
    case "--out": outDirectory = value(argument)
    case "--role": role = value(argument)
    case "--port":
        guard let number = Int(value(argument)), (1...65_535).contains(number) else { fail("--port needs 1...65535") }
        port = number
    case "--report": reportPath = value(argument)
    default: fail("unknown argument \(argument)\n\n\(usage)")
    }
}
if quick { options.applyQuick() }
if let minutes { options.minutes = minutes }

func say(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

switch role {
case "load":
    // The second process: honest patients and attackers (started by the doctor side).
    guard port > 0, !reportPath.isEmpty else { fail("--role load needs --port and --report") }
    do {
        try await SoakLoad.run(options: options, port: port, reportPath: reportPath)
        exit(0)
    } catch {
        fail("load process failed: \(error)")
    }
case "doctor":
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        ?? CommandLine.arguments[0]
    let report: SoakReport
    do {
        report = try await SoakRun.run(options: options, executable: executable, progress: say)
    } catch {
        fail("soak run failed: \(error)")
    }
    let markdown = report.markdown
    print(markdown)
    do {
        try FileManager.default.createDirectory(atPath: outDirectory, withIntermediateDirectories: true)
        try markdown.write(toFile: outDirectory + "/soak-latest.md", atomically: true, encoding: .utf8)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report).write(to: URL(fileURLWithPath: outDirectory + "/soak-latest.json"))
    } catch {
        fail("could not write the report to \(outDirectory): \(error)")
    }
    if report.passed {
        say("soak PASSED")
        exit(0)
    }
    say("soak FAILED: " + report.checks.filter { !$0.passed }.map { "\($0.name): \($0.figure)" }.joined(separator: "; "))
    exit(1)
default:
    fail("unknown role \(role)")
}
