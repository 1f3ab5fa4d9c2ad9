// The lines between the two `readme-example` markers are README.md's "Embedding the library"
// example, character for character: README.md mirrors this file, and
// `ReadmeExampleTests.testReadmeShowsThisFilesExample` fails when the two differ. Edit here first,
// then paste the region into the README.

// readme-example:begin
import Logging
import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTCP

/// A doctor's gateway on TCP, its security state and audit log in the SQLite file at
/// `databasePath` (blocks and enrollments survive a restart).
func startDoctor(host: String, port: Int, databasePath: String,
                 doctorKey: PrivateKey) async throws -> (DoctorService, TCPServerTransport) {
    let configuration = DoctorConfiguration()  // the protocol's defaults
    let server = try await TCPServerTransport.start(
        configuration: .init(host: host, port: port, bounds: configuration.transportBounds))
    let keys = DoctorKeyMaterial(group: doctorKey.group, identity: try PeerID("doctor"),
                                 privateKey: doctorKey, registry: [:])
    let doctor = DoctorService(configuration: configuration, keys: keys, databasePath: databasePath,
                               transport: server, logger: Logger(label: "doctor"))
    try await doctor.start()  // restores blocks, records its start time durably, then serves
    return (doctor, server)
}

/// A patient's device; `run()` connects, keeps the session and returns how it ended.
func makePatient(_ credential: PatientCredential,
                 onEvent: @escaping @Sendable (PatientServiceEvent) -> Void) -> PatientService {
    let client = TCPClientTransport()
    return PatientService(credential: credential, transport: client,
                          connect: { try await client.connect(host: credential.host, port: credential.port) },
                          logger: Logger(label: credential.identity.value), observer: onEvent)
}

// Enrolling a public key (persisted and audited before the doctor uses it) and broadcasting:
//     try await doctor.enroll(try PeerID("alice"), publicKey: aliceRequestKey)
//     try await doctor.broadcast("Clinic closes at 5pm today")
//     await doctor.shutdown(reason: "closing", kind: .shutdown); await server.shutdown()
// readme-example:end

import Foundation
import XCTest

/// README.md's embedding example, compiled and run: a doctor over TCP on loopback, one patient
/// whose key pair is made on "its device" and enrolled by public key, a broadcast, a shutdown.
final class ReadmeExampleTests: XCTestCase {
    /// Exercises `startDoctor` and `makePatient` above, hence `TCPServerTransport.start`,
    /// `DoctorService.init(configuration:keys:databasePath:…)`, `start()`, `enroll(_:publicKey:replace:)`,
    /// `broadcast(_:)`, `shutdown(reason:)` and `PatientService.run()` over `TCPClientTransport`.
    func testTheReadmeExampleRunsADoctorAndAPatientOverTCP() async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("readme-example-\(UInt64.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let databasePath = directory.appendingPathComponent("doctor.sqlite").path

        var rng = SystemRandom()
        let doctorKey = PrivateKey(generatingIn: .telemed2048, using: &rng)
        let aliceKey = PrivateKey(generatingIn: .telemed2048, using: &rng)  // on alice's device
        let (doctor, server) = try await startDoctor(host: "127.0.0.1", port: 0, databasePath: databasePath,
                                                     doctorKey: doctorKey)
        let alice = try PeerID("alice")
        let kind = try await doctor.enroll(alice, publicKey: aliceKey.publicKey)
        XCTAssertEqual(kind, .enrolled)

        let credential = PatientCredential(identity: alice, privateKey: aliceKey, doctorID: try PeerID("doctor"),
                                           doctorKey: doctorKey.publicKey, host: "127.0.0.1", port: server.boundPort)
        let events = Recorder<PatientServiceEvent>()
        let patient = makePatient(credential) { events.append($0) }
        let run = Task { await patient.run() }

        let authenticated = await eventually(within: 20) {
            events.all.contains { if case .session(.authenticated) = $0 { return true }; return false }
        }
        XCTAssertTrue(authenticated, "events: \(events.all)")
        try await doctor.broadcast("Clinic closes at 5pm today")
        let received = await eventually(within: 20) {
            events.all.contains {
                if case let .session(.broadcastReceived(_, _, _, text)) = $0 { return text == "Clinic closes at 5pm today" }
                return false
            }
        }
        XCTAssertTrue(received, "events: \(events.all)")

        // The enrollment and the login went to the audit log in the database file.
        // (Rows that change no security state ride with the next commit, so this may take a moment.)
        let audited = try await eventually(within: 20) {
            let kinds = try await doctor.auditRows().map(\.kind)
            return kinds.contains(.enroll) && kinds.contains(.authSuccess)
        }
        let kinds = try await doctor.auditRows().map(\.kind)
        XCTAssertTrue(audited, "audit kinds: \(kinds)")

        await doctor.shutdown(reason: "closing", kind: .shutdown)
        await server.shutdown()
        let outcome = await run.value
        XCTAssertEqual(outcome, .disconnectedByDoctor("shutdown"))  // what every patient is told
        XCTAssertTrue(FileManager.default.fileExists(atPath: databasePath))
    }

    /// Exercises README.md itself: its "Embedding the library" block must be this file's marked
    /// region, so the example a reader copies is the one `testTheReadmeExampleRunsADoctorAndAPatientOverTCP`
    /// compiles and runs.
    func testReadmeShowsThisFilesExample() throws {
        let thisFile = URL(fileURLWithPath: #filePath)
        let readmeURL = thisFile.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let source = try String(contentsOf: thisFile, encoding: .utf8).components(separatedBy: "\n")
        guard let begin = source.firstIndex(of: "// readme-example:begin"),
              let end = source.firstIndex(of: "// readme-example:end"), begin < end else {
            return XCTFail("the readme-example markers are missing from \(thisFile.path)")
        }
        let region = Array(source[(begin + 1)..<end])

        let readme = try String(contentsOf: readmeURL, encoding: .utf8).components(separatedBy: "\n")
        let anchor = "<!-- readme-example: Tests/TelemedNodeTests/ReadmeExampleTests.swift -->"
        guard let marker = readme.firstIndex(of: anchor), marker + 1 < readme.count, readme[marker + 1] == "```swift",
              let close = readme[(marker + 2)...].firstIndex(of: "```") else {
            return XCTFail("README.md has no ```swift block right after \(anchor)")
        }
        let block = Array(readme[(marker + 2)..<close])
        guard block != region else { return }
        let line = zip(block, region).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(block.count, region.count)
        let inReadme = line < block.count ? block[line] : "<end of block>"
        let inTest = line < region.count ? region[line] : "<end of region>"
        XCTFail("README.md's embedding example differs from the marked region of \(thisFile.lastPathComponent) "
                + "at its line \(line + 1): README has \"\(inReadme)\", the test \"\(inTest)\"")
    }
}
