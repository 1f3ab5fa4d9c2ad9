import Foundation
import XCTest

/// The `doctor` and `patient` executables driven as a person would: a doctor with two
/// patients, `broadcast` typed on the console, stdin closed (the doctor keeps serving), then
/// SIGTERM ends everything cleanly.
final class ExecutableTests: XCTestCase {
    func testDoctorAndTwoPatientsFromTheCommandLine() async throws {
        guard let doctorBinary = builtExecutable("doctor"), let patientBinary = builtExecutable("patient") else {
            throw XCTSkip("the doctor and patient executables are not built (run `swift build` first)")
        }
        let directory = try temporaryDirectory("exec")
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let doctor = try Spawned(doctorBinary, ["serve", "--demo-enroll", "alice,bob", "--port", "0", "--state-dir", "state"],
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

        // SIGTERM: DISCONNECT to everyone, every process exits 0.
        doctor.signal(SIGTERM)
        let doctorStatus = await doctor.waitForExit()
        let aliceStatus = await alice.waitForExit()
        let bobStatus = await bob.waitForExit()
        XCTAssertEqual(doctorStatus, 0, doctor.output + doctor.errors)
        XCTAssertEqual(aliceStatus, 0, alice.output + alice.errors)
        XCTAssertEqual(bobStatus, 0, bob.output + bob.errors)
        XCTAssertTrue(doctor.output.contains("doctor stopped (SIGTERM)"))
        XCTAssertTrue(alice.output.contains("alice: the doctor shut down"), alice.output)
        XCTAssertTrue(bob.output.contains("bob: the doctor shut down"), bob.output)
    }

    func testPatientLeavesOnSIGINTAndARejectedPatientExitsNonZero() async throws {
        guard let doctorBinary = builtExecutable("doctor"), let patientBinary = builtExecutable("patient") else {
            throw XCTSkip("the doctor and patient executables are not built (run `swift build` first)")
        }
        let directory = try temporaryDirectory("exec2")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let doctor = try Spawned(doctorBinary, ["serve", "--demo-enroll", "alice", "--port", "0", "--state-dir", "state"],
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
        doctor.type("quit")
        let doctorStatus = await doctor.waitForExit()
        XCTAssertEqual(doctorStatus, 0)
    }
}
