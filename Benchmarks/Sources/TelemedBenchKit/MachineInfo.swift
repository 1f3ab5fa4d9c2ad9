// The machine a run happened on: uname -a, CPU model, core count, GMP version, date.

#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Facts about the machine and the run.
public struct MachineInfo: Sendable, Codable {
    /// `uname -a`.
    public var uname: String
    /// The CPU model from /proc/cpuinfo.
    public var cpu: String
    /// Online cores.
    public var cores: Int
    /// GMP's version.
    public var gmp: String
    /// The run's date (UTC, ISO 8601).
    public var date: String

    /// Reads them now.
    public static func current() -> MachineInfo {
        let uname = (try? shell("/bin/uname", ["-a"])) ?? "unknown"
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? "unknown"
        let formatter = ISO8601DateFormatter()
        return MachineInfo(uname: uname, cpu: model ?? "unknown", cores: ProcessInfo.processInfo.activeProcessorCount,
                           gmp: BaselineBench.gmpVersion, date: formatter.string(from: Date()))
    }

    static func shell(_ path: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
