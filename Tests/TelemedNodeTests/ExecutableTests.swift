import Foundation
import TelemedCrypto
import TelemedNode
import TelemedProtocol
import XCTest

/// The `doctor` and `patient` executables driven as a person would: a doctor with two
/// patients, `broadcast` typed on the console, stdin closed (the doctor keeps serving), then
/// SIGTERM with `--close-for-good` ends everything cleanly.
final class ExecutableTests: XCTestCase {
    func testDoctorAndTwoPatientsFromTheCommandLine() async throws {
        guard let doctorBinary = builtExecutable("doctor"), let patientBinary = builtExecutable("patient") else {
            throw XCTSkip("the doctor and patient executables are not built (run `swift build` first)")
        }
        let directory = try temporaryDirectory("exec")
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let port = try freeLoopbackPort()
        let doctor = try Spawned(doctorBinary, ["serve", "--demo-enroll", "alice,bob", "--port", String(port), "--state-dir", "state",
                                                "--close-for-good"],
                                 directory: directory, name: "doctor")
        defer { doctor.stop() }
        let listening = await doctor.waitFor("type \"help\" for commands")
        XCTAssertTrue(listening, "doctor output: \(doctor.output)\n\(doctor.errors)")
        XCTAssertTrue(doctor.output.contains("listening on 127.0.0.1:"))

        let alice = try Spawned(patientBinary, ["alice", "--state-dir", "state"], directory: directory, name: "alice")
        defer { alice.stop() }
        let aliceIn = await doctor.waitFor("+ alice authenticated")
        XCTAssertTrue(aliceIn, "doctor: \(doctor.output)\nalice: \(alice.output)\(alice.errors)")
        let bob = try Spawned(patientBinary, ["bob", "--state-dir", "state"], directory: directory, name: "bob")
        defer { bob.stop() }
        let bobIn = await doctor.waitFor("epoch 2: alice, bob")
        XCTAssertTrue(bobIn, "doctor: \(doctor.output)\nbob: \(bob.output)\(bob.errors)")
        let aliceAtTwo = await alice.waitFor("group key epoch 2 (2 members)")
        XCTAssertTrue(aliceAtTwo, alice.output)

        doctor.type("broadcast Clinic closes at 5pm today")
        let aliceGotIt = await alice.waitFor("doctor: Clinic closes at 5pm today")
        let bobGotIt = await bob.waitFor("doctor: Clinic closes at 5pm today")
        XCTAssertTrue(aliceGotIt, alice.output)
        XCTAssertTrue(bobGotIt, bob.output)
        let receipts = await eventually { doctor.output.components(separatedBy: "receipt from").count == 3 }
        XCTAssertTrue(receipts, doctor.output)

        // End of standard input does not stop the doctor.
        doctor.closeInput()
        let noticed = await doctor.waitFor("standard input closed")
        XCTAssertTrue(noticed, doctor.output)
        try await Task.sleep(for: .milliseconds(300))
        XCTAssertTrue(doctor.process.isRunning, "the doctor stopped when its stdin closed")

        // SIGTERM with --close-for-good: DISCONNECT "shutdown" to everyone, every process exits 0.
        doctor.signal(SIGTERM)
        let doctorStatus = await doctor.waitForExit()
        let aliceStatus = await alice.waitForExit()
        let bobStatus = await bob.waitForExit()
        XCTAssertEqual(doctorStatus, 0, doctor.output + doctor.errors)
        XCTAssertEqual(aliceStatus, 0, alice.output + alice.errors)
        XCTAssertEqual(bobStatus, 0, bob.output + bob.errors)
        XCTAssertTrue(doctor.output.contains("doctor stopped (signal; patients were told \"shutdown\")"), doctor.output)
        XCTAssertTrue(alice.output.contains("alice: the doctor closed for good"), alice.output)
        XCTAssertTrue(bob.output.contains("bob: the doctor closed for good"), bob.output)
    }

    func testPatientLeavesOnSIGINTAndARejectedPatientExitsNonZero() async throws {
        guard let doctorBinary = builtExecutable("doctor"), let patientBinary = builtExecutable("patient") else {
            throw XCTSkip("the doctor and patient executables are not built (run `swift build` first)")
        }
        let directory = try temporaryDirectory("exec2")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let doctor = try Spawned(doctorBinary, ["serve", "--demo-enroll", "alice", "--port", String(try freeLoopbackPort()),
                                                "--state-dir", "state"],
                                 directory: directory, name: "doctor")
        defer { doctor.stop() }
        let listening = await doctor.waitFor("type \"help\" for commands")
        XCTAssertTrue(listening, doctor.output + doctor.errors)

        let alice = try Spawned(patientBinary, ["alice", "--state-dir", "state"], directory: directory, name: "alice")
        defer { alice.stop() }
        let aliceIn = await alice.waitFor("authenticated")
        XCTAssertTrue(aliceIn, alice.output + alice.errors)
        alice.signal(SIGINT)
        let aliceStatus = await alice.waitForExit()
        XCTAssertEqual(aliceStatus, 0)
        let left = await doctor.waitFor("- alice left (disconnected)")
        XCTAssertTrue(left, doctor.output)

        // A device whose key the doctor does not know (made with `patient init`, never enrolled,
        // this doctor's card pinned): REJECTED on every attempt. The patient retries twice (short
        // delays from the command line), says so, gives up, exits 2.
        let made = try Spawned(patientBinary, ["init", "mallory", "--state-dir", "forged"], directory: directory, name: "x")
        let madeStatus = await made.waitForExit()
        XCTAssertEqual(madeStatus, 0, made.output + made.errors)
        let pinned = try Spawned(patientBinary, ["pin", "state/pinned-doctor.json", "--state-dir", "forged"],
                                 directory: directory, name: "y")
        let pinnedStatus = await pinned.waitForExit()
        XCTAssertEqual(pinnedStatus, 0, pinned.output + pinned.errors)
        let mallory = try Spawned(patientBinary, ["mallory", "--state-dir", "forged", "--refusal-retries", "2",
                                                  "--refusal-delay", "0.05"], directory: directory, name: "mallory")
        defer { mallory.stop() }
        let malloryStatus = await mallory.waitForExit()
        XCTAssertEqual(malloryStatus, 2, mallory.output + mallory.errors)
        for line in ["refused by the doctor; retrying in", "(attempt 1 of 2)", "(attempt 2 of 2)",
                     "mallory: refused by the doctor 3 times in 15 min; giving up",
                     "mallory: refused by the doctor (REJECTED)"] {
            XCTAssertTrue(mallory.output.contains(line), "\(line) missing from: \(mallory.output)")
        }
        // The refusal is explained: it can be a block, and the operator's remedies are named
        // (at the first refusal and at exit).
        XCTAssertEqual(mallory.output.components(separatedBy: "note: a refusal can be a block").count, 3, mallory.output)
        for remedy in ["`blocks`", "`unblock <ip>`", "`unblock <id>@<ip>`", "--trusted-sources"] {
            XCTAssertTrue(mallory.output.contains(remedy), "\(remedy) missing from: \(mallory.output)")
        }
        doctor.type("quit")
        let doctorStatus = await doctor.waitForExit()
        XCTAssertEqual(doctorStatus, 0)
    }

    /// The issue's done-when through the `doctor` and `patient` executables: `patient init` →
    /// `doctor enroll --request` → `patient pin` → `doctor serve` → the patient authenticates →
    /// the console's `revoke carol` ends her session within a second → her next login is
    /// refused (REJECTED) → the doctor's state directory holds no patient private key. On the
    /// way: the old `doctor enroll <id>` is refused and changes nothing, a second enrollment of
    /// the same id is refused naming the file and the field, offline `revoke` refuses while the
    /// doctor serves, and `patients` lists carol's fingerprint.
    func testDeviceEnrollmentPinServeAndLiveRevocation() async throws {
        guard let doctorBinary = builtExecutable("doctor"), let patientBinary = builtExecutable("patient") else {
            throw XCTSkip("the doctor and patient executables are not built (run `swift build` first)")
        }
        let directory = try temporaryDirectory("exec-enroll")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func run(_ binary: URL, _ arguments: [String]) async throws -> (status: Int32?, output: String) {
            let process = try Spawned(binary, arguments, directory: directory, name: arguments.first ?? "")
            let status = await process.waitForExit()
            try await Task.sleep(for: .milliseconds(50))  // the pipes hand over the last lines
            return (status, process.output + process.errors)
        }

        // The old path is gone and leaves nothing behind.
        let old = try await run(doctorBinary, ["enroll", "carol", "--state-dir", "state"])
        XCTAssertEqual(old.status, 64, old.output)
        XCTAssertTrue(old.output.contains("patient init carol"), old.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/state"))

        let made = try await run(patientBinary, ["init", "carol", "--state-dir", "dev"])
        XCTAssertEqual(made.status, 0, made.output)
        let device = PatientDevice(directory: directory + "/dev")
        let carol = try PeerID("carol")
        let fingerprint = try device.loadKey(carol).publicKey.fingerprint
        XCTAssertTrue(made.output.contains("\(fingerprint)"), made.output)

        let enrolled = try await run(doctorBinary, ["enroll", "--request", "dev/carol.request.json", "--port", "0",
                                                    "--state-dir", "state", "--fingerprint", "\(fingerprint)"])
        XCTAssertEqual(enrolled.status, 64, "port 0 is not an address for the card: \(enrolled.output)")
        // Serve first on any free port, read it back, then enroll offline once it is stopped.
        let probe = try Spawned(doctorBinary, ["serve", "--port", "0", "--state-dir", "state"], directory: directory,
                                name: "probe")
        let probed = await probe.waitFor("type \"help\" for commands")
        XCTAssertTrue(probed, probe.output + probe.errors)
        let port = try XCTUnwrap(probe.output.components(separatedBy: "listening on 127.0.0.1:").last?.prefix { $0.isNumber })
        let whileServing = try await run(doctorBinary, ["enroll", "--request", "dev/carol.request.json", "--state-dir", "state"])
        XCTAssertEqual(whileServing.status, 75, whileServing.output)
        XCTAssertTrue(whileServing.output.contains("the state directory state is in use by another doctor process"),
                      whileServing.output)
        probe.type("quit")
        let probeStatus = await probe.waitForExit()
        XCTAssertEqual(probeStatus, 0)

        let enroll = try await run(doctorBinary, ["enroll", "--request", "dev/carol.request.json", "--port", String(port),
                                                  "--state-dir", "state", "--fingerprint", "\(fingerprint)"])
        XCTAssertEqual(enroll.status, 0, enroll.output)
        XCTAssertTrue(enroll.output.contains("  \(fingerprint)"), enroll.output)
        XCTAssertTrue(enroll.output.contains("enrolled carol"), enroll.output)
        let again = try await run(doctorBinary, ["enroll", "--request", "dev/carol.request.json", "--state-dir", "state",
                                                 "--card-out", "second-card.json"])
        XCTAssertEqual(again.status, 1, again.output)
        XCTAssertTrue(again.output.contains(#"dev/carol.request.json: field "id" carol is already enrolled"#), again.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/second-card.json"))

        let pin = try await run(patientBinary, ["pin", "doctor-card.json", "--state-dir", "dev"])
        XCTAssertEqual(pin.status, 0, pin.output)
        let doctorKey = try DoctorCard.read(from: directory + "/doctor-card.json").fingerprint
        XCTAssertTrue(pin.output.contains("\(doctorKey)"), pin.output)

        let doctor = try Spawned(doctorBinary, ["serve", "--port", String(port), "--state-dir", "state"],
                                 directory: directory, name: "doctor")
        defer { doctor.stop() }
        let listening = await doctor.waitFor("type \"help\" for commands")
        XCTAssertTrue(listening, doctor.output + doctor.errors)
        XCTAssertTrue(doctor.output.contains("enrolled: carol"), doctor.output)
        let patient = try Spawned(patientBinary, ["carol", "--state-dir", "dev", "--refusal-retries", "0"],
                                  directory: directory, name: "carol")
        defer { patient.stop() }
        let authenticated = await patient.waitFor("carol: authenticated")
        XCTAssertTrue(authenticated, patient.output + patient.errors + doctor.output)
        doctor.type("patients")
        let listed = await doctor.waitFor("connected  \(fingerprint)")
        XCTAssertTrue(listed, doctor.output)

        let offline = try await run(doctorBinary, ["revoke", "carol", "--state-dir", "state"])
        XCTAssertEqual(offline.status, 75, offline.output)
        XCTAssertTrue(offline.output.contains("revoke carol"), offline.output)

        let typed = ContinuousClock.now
        doctor.type("revoke carol")
        let ended = await patient.waitFor("carol: disconnected by the doctor: revoked", seconds: 1)
        let elapsed = ContinuousClock.now - typed
        XCTAssertTrue(ended, "not ended within a second: \(patient.output)\n\(doctor.output)")
        XCTAssertLessThan(elapsed, .seconds(1))
        let carolStatus = await patient.waitForExit()
        XCTAssertEqual(carolStatus, 3, patient.output)
        let left = await doctor.waitFor("- carol left (revoked)")
        XCTAssertTrue(left, doctor.output)

        let refused = try await run(patientBinary, ["carol", "--state-dir", "dev", "--refusal-retries", "0", "--no-reconnect"])
        XCTAssertEqual(refused.status, 2, refused.output)
        XCTAssertTrue(refused.output.contains("carol: refused by the doctor (REJECTED)"), refused.output)
        let rejected = await doctor.waitFor("claiming carol: R-ID")
        XCTAssertTrue(rejected, doctor.output)

        doctor.type("quit")
        let doctorStatus = await doctor.waitForExit()
        XCTAssertEqual(doctorStatus, 0, doctor.output + doctor.errors)
        let listing = try await run(doctorBinary, ["patients", "--state-dir", "state"])
        XCTAssertTrue(listing.output.contains("carol  revoked"), listing.output)

        // The doctor's side (its state directory and the card it wrote) holds no patient private key.
        let secret = try device.loadKey(carol).scalarBytes
        XCTAssertEqual(try EnrollmentFileTests.filesHolding(secret, under: directory + "/state"), [])
        XCTAssertEqual(try EnrollmentFileTests.filesHolding(secret, under: directory),
                       [directory + "/dev/carol.key.json"])
    }
}
