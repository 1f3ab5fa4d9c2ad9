import Foundation
import TelemedProtocol

// MARK: - ScenarioRunner

/// Finds, loads and runs scenarios: the one code path shared by the `simulate` executable and
/// the tests.
public enum ScenarioRunner {
    /// Reads and decodes one scenario file.
    public static func load(file: String) throws(ScenarioError) -> Scenario {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ScenarioError(file: file, path: "$", message: "cannot read the file")
        }
        let name = (file as NSString).lastPathComponent.replacingOccurrences(of: ".json", with: "")
        do {
            return try ScenarioDecoder.decode(Array(data), name: name)
        } catch {
            var located = error
            located.file = file
            throw located
        }
    }

    /// Expands folders into their `*.json` scenarios (sorted; skipping `reference/`
    /// subfolders, `*.schema.json` and scenarios that say `"sweep": false`); files are kept as
    /// given.
    public static func scenarioFiles(for paths: [String]) throws(ScenarioError) -> [String] {
        try expand(paths).files
    }

    /// The scenarios a folder in `paths` holds but does not run: those that say
    /// `"sweep": false` (a login storm that takes minutes; run it by naming its file).
    public static func scenariosLeftOutOfFolders(for paths: [String]) throws(ScenarioError) -> [String] {
        try expand(paths).leftOut
    }

    private static func expand(_ paths: [String]) throws(ScenarioError) -> (files: [String], leftOut: [String]) {
        var files: [String] = []
        var leftOut: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ScenarioError(file: path, path: "$", message: "no such file or folder")
            }
            guard isDirectory.boolValue else {
                files.append(path)
                continue
            }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            let base = path.hasSuffix("/") ? String(path.dropLast()) : path
            for name in names.sorted() where name.hasSuffix(".json") && !name.hasSuffix(".schema.json") {
                var nested: ObjCBool = false
                let full = "\(base)/\(name)"
                if FileManager.default.fileExists(atPath: full, isDirectory: &nested), !nested.boolValue {
                    if sweeps(full) { files.append(full) } else { leftOut.append(full) }
                }
            }
        }
        return (files, leftOut)
    }

    /// False when the file is a JSON object whose `sweep` is `false`. Anything else (an
    /// unreadable or malformed file included) is swept, so that loading it reports the problem.
    private static func sweeps(_ file: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: file),
              let document = try? StrictJSONParser.parseDocument(Array(data), maxDepth: ScenarioDecoder.maxNesting),
              case .bool(false)? = document["sweep"] else { return true }
        return false
    }

    /// Runs a scenario with `seed` (or its own). Never throws: a run that cannot go on is
    /// reported as aborted. `workers` threads (default: one per active core) share the
    /// harness's own decryptions and signature checks; the nodes and the event loop always
    /// run on the calling thread, and the report is the same for any number of workers.
    public static func run(_ scenario: Scenario, file: String, seed: UInt64? = nil, workers: Int? = nil) -> ScenarioReport {
        let seed = seed ?? scenario.seed
        let simulation: Simulation
        do {
            simulation = try Simulation(scenario: scenario, seed: seed,
                                        workers: workers ?? ProcessInfo.processInfo.activeProcessorCount)
        } catch {
            return ScenarioReport(name: scenario.name, title: scenario.title, file: file, seed: seed, startWall: scenario.startWall, steps: [],
                                  abort: error.description, rulesExercised: [], virtualMillis: 0, traceLines: [])
        }
        return simulation.runScript(file: file)
    }

    /// Every rule id, for the coverage check of a whole run.
    public static var allRules: [RuleID] { RuleID.allCases }
}
