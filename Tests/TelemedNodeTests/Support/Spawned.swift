import Foundation
import XCTest

/// A spawned executable with piped stdin, stdout and stderr; its output is collected on a
/// background handler so the test can wait for a line with a bound.
final class Spawned: @unchecked Sendable {
    let process = Process()
    private let stdin = Pipe()
    private let stdout = Pipe()
    private let stderr = Pipe()
    private let lock = NSLock()
    private var collected = ""
    private var collectedErrors = ""
    let name: String

    init(_ executable: URL, _ arguments: [String], directory: String, name: String,
         environment: [String: String] = [:]) throws {
        self.name = name
        process.executableURL = executable
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        stdout.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.collected += String(decoding: data, as: UTF8.self)
            self.lock.unlock()
        }
        stderr.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.collectedErrors += String(decoding: data, as: UTF8.self)
            self.lock.unlock()
        }
        try process.run()
    }

    var output: String {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }

    var errors: String {
        lock.lock()
        defer { lock.unlock() }
        return collectedErrors
    }

    /// Waits up to `seconds` for `text` to appear on standard output.
    func waitFor(_ text: String, seconds: Double = 10) async -> Bool {
        await eventually(within: seconds) { self.output.contains(text) }
    }

    func type(_ line: String) {
        stdin.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    /// Writes raw bytes to standard input (no line feed added): input no String can hold.
    func write(_ bytes: [UInt8]) {
        stdin.fileHandleForWriting.write(Data(bytes))
    }

    func closeInput() {
        try? stdin.fileHandleForWriting.close()
    }

    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// Waits up to `seconds` for the process to exit; returns its status (nil on timeout,
    /// after which the process is killed).
    func waitForExit(seconds: Double = 10) async -> Int32? {
        let exited = await eventually(within: seconds) { !self.process.isRunning }
        guard exited else {
            process.terminate()
            return nil
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Ends the process if a failed test left it running.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Where `swift build` put the executables: the products directory that holds the test bundle.
func builtExecutable(_ name: String) -> URL? {
    var candidates: [URL] = []
    let argument0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    candidates.append(argument0.deletingLastPathComponent())
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        candidates.append(bundle.bundleURL.deletingLastPathComponent())
    }
    for directory in candidates {
        let url = directory.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    return nil
}
