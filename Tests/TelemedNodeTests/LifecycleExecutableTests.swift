import Foundation
import TelemedNode
import XCTest

/// The `doctor` and `patient` executables' lifecycle (issue 15 items 4 and 5): the state
/// directory's lock (`StateLock` in `doctor`), a lost doctor key (`KeyStore.createDoctor`), a
/// restart that a patient survives (the service group's SIGTERM, DISCONNECT `restarting`,
/// `PatientService`'s backoff), and the addresses written into cards (`--advertise`).
final class LifecycleExecutableTests: XCTestCase {
    private func binaries() throws -> (doctor: URL, patient: URL) {
        guard let doctor = builtExecutable("doctor"), let patient = builtExecutable("patient") else {
            throw XCTSkip("the doctor and patient executables are not built (run `swift build` first)")
        }
        return (doctor, patient)
    }

    /// Runs a command to its end; its status and everything it printed.
    private func run(_ binary: URL, _ arguments: [String], in directory: String) async throws -> (status: Int32?, output: String) {
        let process = try Spawned(binary, arguments, directory: directory, name: arguments.first ?? "")
        let status = await process.waitForExit(seconds: 30)
        try await Task.sleep(for: .milliseconds(50))  // the pipes hand over the last lines
        return (status, process.output + process.errors)
    }

    /// Name, size and contents of every file under `path` (the lock file excepted).
    private func snapshot(_ path: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.subpathsOfDirectory(atPath: path) where name != "doctor.lock" {
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory)
            if !isDirectory.boolValue { files[name] = FileManager.default.contents(atPath: path + "/" + name) }
        }
        return files
    }

    /// Two real `doctor serve` on one state directory: the second exits 75 with a message naming
    /// the first (its pid), binds nothing and changes no file; `init`, `enroll` and `revoke` on
    /// that directory are refused the same way. Once the first has stopped, a new `serve` runs.
    func testASecondServeOnOneStateDirectoryExits75AndChangesNothing() async throws {
        let (doctorBinary, patientBinary) = try binaries()
        let directory = try temporaryDirectory("lock")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try Spawned(doctorBinary, ["serve", "--port", String(try freeLoopbackPort()), "--state-dir", "state",
                                               "--demo-enroll", "alice"], directory: directory, name: "first")
        defer { first.stop() }
        let listening = await first.waitFor("type \"help\" for commands")
        XCTAssertTrue(listening, first.output + first.errors)
        let before = try snapshot(directory + "/state")
        XCTAssertNotNil(before["doctor.json"])

        let secondPort = try freeLoopbackPort()
        let second = try await run(doctorBinary, ["serve", "--port", String(secondPort), "--state-dir", "state",
                                                  "--demo-enroll", "bob"], in: directory)
        XCTAssertEqual(second.status, 75, second.output)
        XCTAssertTrue(second.output.contains("the state directory state is in use by another doctor process "
                                               + "(pid \(first.process.processIdentifier): doctor serve); nothing was changed"),
                      second.output)
        XCTAssertFalse(second.output.contains("listening"), second.output)

        _ = try await run(patientBinary, ["init", "carol", "--state-dir", "dev"], in: directory)
        for arguments in [["init", "--state-dir", "state"],
                          ["enroll", "--request", "dev/carol.request.json", "--state-dir", "state", "--card-out", "x.json"],
                          ["revoke", "alice", "--state-dir", "state"]] {
            let refused = try await run(doctorBinary, arguments, in: directory)
            XCTAssertEqual(refused.status, 75, "\(arguments): \(refused.output)")
            XCTAssertTrue(refused.output.contains("in use by another doctor process"), refused.output)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/x.json"))
        XCTAssertEqual(try snapshot(directory + "/state").keys.sorted(), before.keys.sorted())
        XCTAssertEqual(try snapshot(directory + "/state")["doctor.json"], before["doctor.json"])
        XCTAssertFalse(first.output.contains("bob"), "the second doctor enrolled nobody: \(first.output)")

        first.type("close")
        let firstStatus = await first.waitForExit()
        XCTAssertEqual(firstStatus, 0, first.output + first.errors)
        let revoked = try await run(doctorBinary, ["revoke", "alice", "--state-dir", "state"], in: directory)
        XCTAssertEqual(revoked.status, 0, "the lock died with its holder: \(revoked.output)")
    }

    /// A deleted `doctor.json` next to an existing security store: `serve` and `init` exit 1
    /// saying the key was lost and how to recover, and create no key.
    func testALostDoctorKeyIsAnErrorNeverANewKey() async throws {
        let (doctorBinary, _) = try binaries()
        let directory = try temporaryDirectory("lost")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let made = try await run(doctorBinary, ["init", "--state-dir", "state"], in: directory)
        XCTAssertEqual(made.status, 0, made.output)
        // The first serve creates the security store; `close` ends it.
        let doctor = try Spawned(doctorBinary, ["serve", "--port", String(try freeLoopbackPort()), "--state-dir", "state"],
                                 directory: directory, name: "doctor")
        defer { doctor.stop() }
        let listening = await doctor.waitFor("type \"help\" for commands")
        XCTAssertTrue(listening, doctor.output + doctor.errors)
        doctor.type("close")
        _ = await doctor.waitForExit()
        try FileManager.default.removeItem(atPath: directory + "/state/doctor.json")

        for arguments in [["serve", "--port", String(try freeLoopbackPort()), "--state-dir", "state"],
                          ["init", "--state-dir", "state"]] {
            let refused = try await run(doctorBinary, arguments, in: directory)
            XCTAssertEqual(refused.status, 1, "\(arguments): \(refused.output)")
            XCTAssertTrue(refused.output.contains("the doctor key was lost"), refused.output)
            XCTAssertTrue(refused.output.contains("Restore doctor.json from a backup"), refused.output)
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/state/doctor.json"))
        }
    }

    /// A doctor restart that a patient process survives: SIGTERM (DISCONNECT `restarting`), the
    /// patient says it reconnects and keeps trying while nothing listens, a new `doctor serve`
    /// on the same state directory and port, the patient logs in again by itself and receives a
    /// broadcast. Then the console's `close` (DISCONNECT `shutdown`) ends the patient, exit 0.
    func testAPatientSurvivesADoctorRestart() async throws {
        let (doctorBinary, patientBinary) = try binaries()
        let directory = try temporaryDirectory("restart")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = String(try freeLoopbackPort())
        let first = try Spawned(doctorBinary, ["serve", "--demo-enroll", "alice", "--port", port, "--state-dir", "state"],
                                directory: directory, name: "first")
        defer { first.stop() }
        let listening = await first.waitFor("type \"help\" for commands")
        XCTAssertTrue(listening, first.output + first.errors)
        let alice = try Spawned(patientBinary, ["alice", "--state-dir", "state"], directory: directory, name: "alice")
        defer { alice.stop() }
        let joined = await alice.waitFor("alice: authenticated")
        XCTAssertTrue(joined, alice.output + alice.errors)

        first.signal(SIGTERM)
        let firstStatus = await first.waitForExit()
        XCTAssertEqual(firstStatus, 0, first.output + first.errors)
        XCTAssertTrue(first.output.contains("doctor stopped (signal; patients were told \"restarting\")"), first.output)
        let told = await alice.waitFor("alice: the doctor is restarting; reconnecting in")
        XCTAssertTrue(told, alice.output + alice.errors)
        // Nothing listens for a while: the patient keeps retrying instead of exiting.
        try await Task.sleep(for: .milliseconds(1_500))
        XCTAssertTrue(alice.process.isRunning, alice.output + alice.errors)

        let second = try Spawned(doctorBinary, ["serve", "--port", port, "--state-dir", "state"],
                                 directory: directory, name: "second")
        defer { second.stop() }
        let back = await second.waitFor("+ alice authenticated", seconds: 40)
        XCTAssertTrue(back, second.output + second.errors + alice.output)
        let twice = await eventually(within: 10) { alice.output.components(separatedBy: "alice: authenticated").count == 3 }
        XCTAssertTrue(twice, alice.output)
        second.type("broadcast back after the restart")
        let received = await alice.waitFor("doctor: back after the restart")
        XCTAssertTrue(received, alice.output)

        second.type("close")
        let secondStatus = await second.waitForExit()
        let aliceStatus = await alice.waitForExit()
        XCTAssertEqual(secondStatus, 0, second.output + second.errors)
        XCTAssertEqual(aliceStatus, 0, alice.output + alice.errors)
        XCTAssertTrue(alice.output.contains("alice: the doctor closed for good"), alice.output)
    }

    /// `doctor serve --advertise`: the card a demo enrollment pins names the advertised address;
    /// `--port 0` with enrollment and no `--advertise` is a usage error (64) that creates nothing;
    /// a bad `--advertise` is one too; 0.0.0.0 without `--advertise` is a warning; the console's
    /// `enroll` on `--port 0` is refused with the same reason.
    func testAdvertisedAddressesGoIntoCards() async throws {
        let (doctorBinary, patientBinary) = try binaries()
        let directory = try temporaryDirectory("advertise")
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let ephemeral = try await run(doctorBinary, ["serve", "--port", "0", "--demo-enroll", "alice", "--state-dir", "state"],
                                      in: directory)
        XCTAssertEqual(ephemeral.status, 64, ephemeral.output)
        XCTAssertTrue(ephemeral.output.contains("--advertise HOST:PORT"), ephemeral.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/state"))
        for bad in ["clinic.example", "clinic.example:0", "2001:db8::1:9000", "0.0.0.0:9000", ":9000"] {
            let refused = try await run(doctorBinary, ["serve", "--advertise", bad, "--state-dir", "state"], in: directory)
            XCTAssertEqual(refused.status, 64, "\(bad): \(refused.output)")
            XCTAssertTrue(refused.output.contains("--advertise"), refused.output)
        }

        let doctor = try Spawned(doctorBinary, ["serve", "--host", "0.0.0.0", "--port", String(try freeLoopbackPort()),
                                                "--advertise", "clinic.example:9443", "--demo-enroll", "alice",
                                                "--state-dir", "state"], directory: directory, name: "doctor")
        defer { doctor.stop() }
        let listening = await doctor.waitFor("type \"help\" for commands")
        XCTAssertTrue(listening, doctor.output + doctor.errors)
        XCTAssertTrue(doctor.output.contains("advertised to patients as clinic.example:9443"), doctor.output)
        XCTAssertFalse(doctor.output.contains("warning: listening on"), doctor.output)
        let card = try DoctorCard.read(from: directory + "/state/pinned-doctor.json")
        XCTAssertEqual(card.host, "clinic.example")
        XCTAssertEqual(card.port, 9443)
        doctor.type("close")
        _ = await doctor.waitForExit()

        let wildcard = try Spawned(doctorBinary, ["serve", "--host", "0.0.0.0", "--port", "0", "--state-dir", "state"],
                                   directory: directory, name: "wildcard")
        defer { wildcard.stop() }
        let up = await wildcard.waitFor("type \"help\" for commands")
        XCTAssertTrue(up, wildcard.output + wildcard.errors)
        XCTAssertTrue(wildcard.output.contains("warning: listening on 0.0.0.0 without --advertise"), wildcard.output)
        _ = try await run(patientBinary, ["init", "carol", "--state-dir", "dev"], in: directory)
        wildcard.type("enroll dev/carol.request.json")
        let refused = await wildcard.waitFor("enroll: --port 0 picks a new port on every start")
        XCTAssertTrue(refused, wildcard.output)
        wildcard.type("patients")
        let nobody = await wildcard.waitFor("1 enrolled, 0 revoked")
        XCTAssertTrue(nobody, "only the demo's alice is enrolled: \(wildcard.output)")
        wildcard.type("close")
        _ = await wildcard.waitForExit()
    }
}
