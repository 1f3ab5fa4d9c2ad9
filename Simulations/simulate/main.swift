// The `simulate` executable: runs scenario files through the deterministic simulator.
//
//   simulate FILE... | FOLDER   [--seed N] [--workers N] [--trace out.jsonl] [--quiet | --verbose]
//                               [--quiet-glossary]
//   simulate --explain
//
// Exit status: 0 when every expectation and invariant held, 1 when one did not (the command
// that reproduces the run is printed), 2 for a malformed scenario (a file without steps
// included) or a path that does not exist, 64 for bad arguments.

import ArgumentParser
import Foundation
import TelemedNode
import TelemedProtocol
import TelemedSimulation

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run telemedicine protocol scenarios in a deterministic simulation.",
        discussion: """
            Each scenario runs the real doctor and patient nodes over an in-memory network with a \
            virtual clock; one seed drives every random choice. A folder runs every *.json in it \
            (not reference/, *.schema.json or a scenario that says "sweep": false, such as the \
            10,000-patient login storm, which runs when named) and also checks that every security \
            rule was exercised.

            Reading the story: each step prints its virtual time (since the scenario began), the \
            true UTC time and its number (#3 is the fourth step of the file), then what the step \
            does, the file's note (“…”), what happened (·) and each expectation (✓ met, ✗ not). \
            The first time a symbol of the spec (ΔTS, ts_i, SKV, T0, K_GWN, GK_e …) or a rule id \
            (R-SIG …) appears, a line starting ⓘ says what it means; --quiet-glossary leaves those \
            lines out and --explain prints all of them at once. Protocol timestamps are \
            milliseconds since 1970 and are followed by their UTC time in brackets. The same seed \
            prints the same story and trace, byte for byte.

            Exit status: 0 when every expectation and invariant held (and, for a folder, every \
            security rule was exercised); 1 when one did not (the command that reproduces the run \
            is printed); 2 when a scenario is malformed — not valid JSON, an unknown key or name, \
            or no steps (a file holding {} is refused) — or no scenario was found; 64 a usage \
            error (an unknown option or an invalid value; the usage follows).

            `swift run simulate` builds the package first: on a cold checkout SwiftPM prints its \
            own build progress (several hundred lines) before the story starts.
            """,
        version: TelemedRelease.version)

    @Argument(help: "Scenario files or folders.")
    var paths: [String] = []

    @Option(help: "Override every scenario's seed.")
    var seed: UInt64?

    @Option(help: "Threads for the harness's own decryptions and signature checks (default: one per core). The output is the same for any value.")
    var workers: Int?

    @Option(help: "Write every event as JSON lines to this file.")
    var trace: String?

    @Flag(help: "Print only one line per scenario.")
    var quiet = false

    @Flag(help: "Also print every trace event.")
    var verbose = false

    @Flag(help: "Leave out the ⓘ lines that explain each symbol and rule id the first time it appears.")
    var quietGlossary = false

    @Flag(help: "Print the meaning of every symbol and rule id the story uses, then exit.")
    var explain = false

    func validate() throws {
        if quiet && verbose { throw ValidationError("--quiet and --verbose exclude each other") }
        if !explain && paths.isEmpty { throw ValidationError("name at least one scenario file or folder (or ask for --explain)") }
        if let workers, !(1...256).contains(workers) { throw ValidationError("--workers is 1 to 256") }
    }

    func run() throws {
        if explain {
            for line in Glossary.reference { print(line) }
            return
        }
        let scenarios: [(file: String, scenario: Scenario)]
        do {
            let files = try ScenarioRunner.scenarioFiles(for: paths)
            guard !files.isEmpty else {
                throw ScenarioError(path: "$", message: "no scenario files in \(paths.joined(separator: " "))")
            }
            var loaded: [(file: String, scenario: Scenario)] = []
            for file in files { loaded.append((file, try ScenarioRunner.load(file: file))) }
            scenarios = loaded
            for file in try ScenarioRunner.scenariosLeftOutOfFolders(for: paths) {
                print("(left out of the folder run: \(file) says \"sweep\": false; run it by name: swift run -c release simulate \(file))")
            }
        } catch let error as ScenarioError {
            FileHandle.standardError.write(Data("simulate: \(error)\n".utf8))
            throw ExitCode(2)
        }
        var output = Printer(quiet: quiet, verbose: verbose, glossary: !quietGlossary)
        var reports: [ScenarioReport] = []
        for (file, scenario) in scenarios {
            let report = ScenarioRunner.run(scenario, file: file, seed: seed, workers: workers)
            output.print(report)
            reports.append(report)
        }
        if let trace { try writeTrace(reports, to: trace) }
        let coverageRequired = paths.contains { isDirectory($0) }
        let covered = Set(reports.flatMap(\.rulesExercised))
        let missing = RuleID.allCases.filter { !covered.contains($0) }
        output.printTotals(reports, covered: covered, missing: coverageRequired ? missing : [])
        if reports.contains(where: { !$0.passed }) || (coverageRequired && !missing.isEmpty) {
            throw ExitCode(1)
        }
    }

    private func isDirectory(_ path: String) -> Bool {
        var flag: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &flag) && flag.boolValue
    }

    private func writeTrace(_ reports: [ScenarioReport], to path: String) throws {
        var text = ""
        for report in reports {
            for line in report.traceLines {
                text += line
                text += "\n"
            }
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            FileHandle.standardError.write(Data("simulate: cannot write the trace to \(path)\n".utf8))
            throw ExitCode(2)
        }
    }
}

Simulate.main()
