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
        // A process that already exited closed the pipe: the write fails (EPIPE) and is dropped,
        // and the test's own assertions report what the process printed.
        try? stdin.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    /// Writes raw bytes to standard input (no line feed added): input no String can hold.
    func write(_ bytes: [UInt8]) {
        try? stdin.fileHandleForWriting.write(contentsOf: Data(bytes))
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

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read back, closed), for
/// a doctor that must listen on a fixed port (enrollment refuses `--port 0`; a restart reuses
/// the port).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw XCTSkip("no socket") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
        }
    }
    guard bound else { throw XCTSkip("cannot bind a loopback port") }
    return Int(UInt16(bigEndian: address.sin_port))
}
