import Foundation
import TelemedNode
import XCTest

/// The `doctor`, `patient` and `simulate` executables as an operator meets them: state
/// directories given every way, errors in one human line with what to try, the subcommand's
/// own usage on a bad value, `--version`, exit statuses in `--help`, and the doctor's console
/// refusing what it must not broadcast.
final class CommandLineTests: XCTestCase {
    private struct Run {
        let status: Int32?
        let output: String
        let errors: String
    }

    private func binaries() throws -> (doctor: URL, patient: URL) {
        guard let doctor = builtExecutable("doctor"), let patient = builtExecutable("patient") else {
            throw XCTSkip("the doctor and patient executables are not built (run `swift build` first)")
        }
        return (doctor, patient)
    }

    private func run(_ binary: URL, _ arguments: [String], in directory: String) async throws -> Run {
        let process = try Spawned(binary, arguments, directory: directory, name: arguments.first ?? "")
        let status = await process.waitForExit(seconds: 30)
        try await Task.sleep(for: .milliseconds(100))  // the pipes hand over the last lines
        return Run(status: status, output: process.output, errors: process.errors)
    }

    /// `doctor init` and `patient init` (`PrivateFiles.makeDirectory` through `KeyStore` and
    /// `PatientDevice`) with a one-letter state directory (which crashed in
    /// `NSString.deletingLastPathComponent`), `./s`, an absolute path with missing parents,
    /// trailing slashes and a doubled slash: each works, directories 0700, keys 0600.
    func testStateDirectoriesOfEveryShape() async throws {
        let (doctor, patient) = try binaries()
        let directory = try temporaryDirectory("paths")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let shapes = ["s", "./t", directory + "/abs/x/s", "u/", "v//w/"]
        let made = ["s", "t", "abs/x/s", "u", "v/w"]
        for (shape, path) in zip(shapes, made) {
            let result = try await run(doctor, ["init", "--state-dir", shape], in: directory)
            XCTAssertEqual(result.status, 0, "\(shape): \(result.output)\(result.errors)")
            XCTAssertEqual(mode(directory + "/" + path + "/doctor.json"), 0o600, shape)
            XCTAssertEqual(mode(directory + "/" + path), 0o700, shape)
        }
        XCTAssertEqual(mode(directory + "/abs/x"), 0o700, "a missing parent is made 0700")
        let device = try await run(patient, ["init", "carol", "--state-dir", "p"], in: directory)
        XCTAssertEqual(device.status, 0, device.output + device.errors)
        XCTAssertEqual(mode(directory + "/p/carol.key.json"), 0o600)
        XCTAssertTrue(device.output.contains("in p/carol.key.json"), device.output)

        let file = try await run(doctor, ["init", "--state-dir", "s/doctor.json/deeper"], in: directory)
        XCTAssertEqual(file.status, 1, file.output + file.errors)
        XCTAssertTrue(file.errors.contains("s/doctor.json"), file.errors)
        XCTAssertTrue(file.errors.contains("exists and is not a directory"), file.errors)
    }

    /// `doctor serve` on a port in use, and `patient` with nobody listening
    /// (`TCPServerTransport.start` / `TCPClientTransport.connect` errors as `SocketFailure`,
    /// with the executables' hints): one line each, with what, where, the errno name and
    /// what to try; exit status 1.
    func testBindAndConnectFailuresAreOneHumanLine() async throws {
        let (doctorBinary, patientBinary) = try binaries()
        let directory = try temporaryDirectory("socket-errors")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let doctor = try Spawned(doctorBinary, ["serve", "--port", "0", "--state-dir", "one"], directory: directory, name: "doctor")
        defer { doctor.stop() }
        let listening = await doctor.waitFor("type \"help\" for commands")
        XCTAssertTrue(listening, doctor.output + doctor.errors)
        let port = try XCTUnwrap(doctor.output.components(separatedBy: "listening on 127.0.0.1:").last.map { String($0.prefix { $0.isNumber }) })

        let second = try await run(doctorBinary, ["serve", "--port", port, "--state-dir", "two"], in: directory)
        XCTAssertEqual(second.status, 1, second.output + second.errors)
        XCTAssertEqual(second.errors, """
            Error: cannot listen on 127.0.0.1:\(port): address already in use (EADDRINUSE); is another doctor running? \
            choose another --port

            """)

        let card = try await run(doctorBinary, ["card", "--state-dir", "one", "--port", port], in: directory)
        XCTAssertEqual(card.status, 0, card.output + card.errors)
        doctor.type("quit")
        let stopped = await doctor.waitForExit()
        XCTAssertEqual(stopped, 0)
        for arguments in [["init", "zed", "--state-dir", "dev"], ["pin", "doctor-card.json", "--state-dir", "dev"]] {
            let step = try await run(patientBinary, arguments, in: directory)
            XCTAssertEqual(step.status, 0, step.output + step.errors)
        }
        let patient = try await run(patientBinary, ["zed", "--state-dir", "dev", "--no-reconnect"], in: directory)
        XCTAssertEqual(patient.status, 1, patient.output + patient.errors)
        XCTAssertTrue(patient.output.contains("""
            zed: connection lost: cannot connect to 127.0.0.1:\(port): connection refused (ECONNREFUSED); \
            is the doctor running?
            """), patient.output)
        XCTAssertFalse(patient.output.contains("errno:"), patient.output)
        XCTAssertFalse(patient.output.contains("SingleConnectionFailure"), patient.output)
    }

    /// A bad value is reported by the subcommand's `validate()`, so ArgumentParser prints the
    /// subcommand's own usage (not `doctor <subcommand>`) and exits 64; nothing is created.
    func testValidationErrorsShowTheSubcommandsUsage() async throws {
        let (doctor, patient) = try binaries()
        let directory = try temporaryDirectory("usage")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cases: [(URL, [String], error: String, usage: String)] = [
            (doctor, ["serve", "--port", "70000", "--state-dir", "s"], "--port 70000 is outside 0...65535", "Usage: doctor serve "),
            (doctor, ["--port", "70000", "--state-dir", "s"], "--port 70000 is outside 0...65535", "Usage: doctor serve "),
            (doctor, ["serve", "--log-level", "loud", "--state-dir", "s"], "unknown log level \"loud\"", "Usage: doctor serve "),
            (doctor, ["serve", "--demo-enroll", "al ice", "--state-dir", "s"], "\"al ice\" is not a valid id", "Usage: doctor serve "),
            (doctor, ["init", "--group", "telemed-1024", "--state-dir", "s"], "unknown group \"telemed-1024\"", "Usage: doctor init "),
            (doctor, ["init", "--state-dir", ""], "--state-dir is empty", "Usage: doctor init "),
            (doctor, ["revoke", "a b", "--state-dir", "s"], "\"a b\" is not a valid id", "Usage: doctor revoke "),
            (doctor, ["card", "--port", "0", "--state-dir", "s"], "--port 0 is outside 1...65535", "Usage: doctor card "),
            (doctor, ["enroll", "--request", "r.json", "--fingerprint", "12", "--state-dir", "s"],
             "--fingerprint \"12\" is not a fingerprint", "Usage: doctor enroll "),
            (patient, ["init", "bad!", "--state-dir", "p"], "\"bad!\" is not a valid patient id", "Usage: patient init "),
            (patient, ["alice", "--port", "0", "--state-dir", "p"], "--port 0 is outside 1...65535", "Usage: patient connect "),
            (patient, ["pin", "card.json", "--state-dir", ""], "--state-dir is empty", "Usage: patient pin "),
        ]
        for (binary, arguments, error, usage) in cases {
            let result = try await run(binary, arguments, in: directory)
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.output)\(result.errors)")
            XCTAssertTrue(result.errors.hasPrefix("Error: "), "\(arguments): \(result.errors)")
            XCTAssertTrue(result.errors.contains(error), "\(arguments): \(result.errors)")
            XCTAssertTrue(result.errors.contains(usage), "\(arguments): \(result.errors)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [], "a usage error creates nothing")
    }

    /// `--version` of the three executables prints `TelemedRelease.version`; every `--help`
    /// (each executable and each subcommand) lists the exit statuses.
    func testVersionAndExitStatusesInHelp() async throws {
        let (doctor, patient) = try binaries()
        let simulate = try XCTUnwrap(builtExecutable("simulate"), "the simulate executable is not built")
        let directory = try temporaryDirectory("help")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for binary in [doctor, patient, simulate] {
            let version = try await run(binary, ["--version"], in: directory)
            XCTAssertEqual(version.status, 0)
            XCTAssertEqual(version.output, TelemedRelease.version + "\n", binary.lastPathComponent)
        }
        let helps: [(URL, [String])] = [
            (doctor, []), (doctor, ["serve"]), (doctor, ["init"]), (doctor, ["enroll"]), (doctor, ["revoke"]),
            (doctor, ["patients"]), (doctor, ["card"]), (patient, []), (patient, ["connect"]), (patient, ["init"]),
            (patient, ["pin"]), (simulate, []),
        ]
        for (binary, subcommand) in helps {
            let help = try await run(binary, subcommand + ["--help"], in: directory)
            XCTAssertEqual(help.status, 0)
            let text = help.output.replacingOccurrences(of: "\n", with: " ")
            XCTAssertTrue(text.contains("Exit status: 0"), "\(binary.lastPathComponent) \(subcommand): \(help.output)")
            XCTAssertTrue(text.contains(" 64 a usage error"), "\(binary.lastPathComponent) \(subcommand)")
        }
    }

    /// The console of a serving doctor (`Console` reading raw bytes through
    /// `ConsoleLineReader` and `ConsoleCommand.parse(_:)`): invalid UTF-8, an escape sequence
    /// with a bell, and a text over 16 KiB are refused with the reason and never reach the
    /// patient; `unblock 999.1.1.1` is an invalid address; a clean broadcast arrives as typed.
    func testConsoleRefusesWhatItMustNotBroadcast() async throws {
        let (doctorBinary, patientBinary) = try binaries()
        let directory = try temporaryDirectory("console")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = String(try freeLoopbackPort())
        let doctor = try Spawned(doctorBinary, ["serve", "--demo-enroll", "alice", "--port", port, "--state-dir", "state"],
                                 directory: directory, name: "doctor")
        defer { doctor.stop() }
        let listening = await doctor.waitFor("type \"help\" for commands")
        XCTAssertTrue(listening, doctor.output + doctor.errors)
        let alice = try Spawned(patientBinary, ["alice", "--state-dir", "state"], directory: directory, name: "alice")
        defer { alice.stop() }
        let joined = await alice.waitFor("alice: authenticated")
        XCTAssertTrue(joined, alice.output + alice.errors)

        doctor.write(Array("broadcast caf".utf8) + [0xE9] + Array(" au lait\n".utf8))
        let notUTF8 = await doctor.waitFor("refused: the line is not valid UTF-8 (byte 13 is not); nothing was done")
        XCTAssertTrue(notUTF8, doctor.output)
        doctor.type("broadcast \u{1B}[2J\u{1B}]0;owned\u{07}wiped")
        let escape = await doctor.waitFor("refused: control character U+001B (ESC) at byte 10")
        XCTAssertTrue(escape, doctor.output)
        doctor.type("broadcast " + String(repeating: "x", count: 16_385))
        let long = await doctor.waitFor("refused: the broadcast text is 16385 bytes; the limit is 16384 bytes (16 KiB)")
        XCTAssertTrue(long, doctor.output)
        doctor.type("broadcast " + String(repeating: "y", count: 40_000))
        let longer = await doctor.waitFor("refused: the line is 40010 bytes")
        XCTAssertTrue(longer, doctor.output)
        doctor.type("unblock 999.1.1.1")
        let address = await doctor.waitFor("unblock: \"999.1.1.1\" is not a valid IP address")
        XCTAssertTrue(address, doctor.output)
        doctor.type("unblock 192.0.2.7")
        let taken = await doctor.waitFor("unblock: taking it as IP address 192.0.2.7")
        XCTAssertTrue(taken, doctor.output)
        doctor.type("help")
        let help = await doctor.waitFor("16 KiB")
        XCTAssertTrue(help, doctor.output)

        doctor.type("broadcast Café — Grüße, 東京 ✓")
        let arrived = await alice.waitFor("doctor: Café — Grüße, 東京 ✓")
        XCTAssertTrue(arrived, alice.output)
        let sent = doctor.output.components(separatedBy: "sent to 1 patient(s)").count - 1
        XCTAssertEqual(sent, 1, "only the clean broadcast was sent: \(doctor.output)")
        XCTAssertFalse(alice.output.contains("\u{FFFD}"))
        XCTAssertFalse(alice.output.unicodeScalars.contains { ConsoleText.isControl($0) && $0 != "\n" })
        XCTAssertTrue(alice.output.range(of: #"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\] doctor: Caf"#, options: .regularExpression) != nil,
                      "UTC ISO 8601 time: \(alice.output)")
        doctor.type("quit")
        let status = await doctor.waitForExit()
        XCTAssertEqual(status, 0)
    }

    private func mode(_ path: String) -> UInt16? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let permissions = attributes[.posixPermissions] as? NSNumber else { return nil }
        return permissions.uint16Value
    }
}
