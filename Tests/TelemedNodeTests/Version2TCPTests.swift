import TelemedNode
import TelemedProtocol
import XCTest

/// Protocol version 2 over real TCP (PROTOCOL.md §8.6): `DoctorService` with a minimum version
/// and `PatientService` with a configured version, end to end through `TCPServerTransport`.
final class Version2TCPTests: XCTestCase {
    /// A minimum-2 doctor: a version-2 patient logs in and receives a broadcast; a version-1
    /// patient is refused with R-VERSION, not counted against its source (the same address
    /// still logs in with version 2 afterwards, under a failure threshold of 1).
    func testVersion2EndToEndAndVersion1RefusedOverTCP() async throws {
        var configuration = DoctorConfiguration()
        configuration.minimumVersion = .v2
        configuration.failureThreshold = 1
        let cluster = try await TCPCluster(enrolling: ["alice", "bob"], configuration: configuration)
        cluster.startPatient("bob", version: .v1)
        let bobOutcome = await cluster.runs["bob"]?.value
        XCTAssertEqual(bobOutcome, .rejected)
        let refused = await eventually {
            cluster.doctorEvents.all.contains { if case .rejected(_, _, .version, _, _) = $0 { return true }; return false }
        }
        XCTAssertTrue(refused, "R-VERSION: \(cluster.doctorEvents.all)")
        XCTAssertFalse(cluster.doctorEvents.all.contains { if case .blocked = $0 { return true }; return false },
                       "not counted: a threshold of 1 would have blocked 127.0.0.1")

        cluster.startPatient("alice", version: .v2)
        let joined = await eventually { cluster.latestEpoch("alice") == 1 }
        XCTAssertTrue(joined)
        try await cluster.doctor.broadcast("forward secret")
        let delivered = await eventually { cluster.broadcasts("alice") == ["forward secret"] }
        XCTAssertTrue(delivered)
        await cluster.shutdown()
    }

    /// A minimum-1 doctor (migration): a version-1 patient still works beside a version-2 one.
    func testAVersion1PatientWorksAgainstAMinimum1DoctorOverTCP() async throws {
        var configuration = DoctorConfiguration()
        configuration.minimumVersion = .v1
        let cluster = try await TCPCluster(enrolling: ["alice", "bob"], configuration: configuration)
        cluster.startPatient("bob", version: .v1)
        let bobIn = await eventually { cluster.latestEpoch("bob") == 1 }
        XCTAssertTrue(bobIn)
        cluster.startPatient("alice", version: .v2)
        let both = await eventually { cluster.latestEpoch("alice") == 2 && cluster.latestEpoch("bob") == 2 }
        XCTAssertTrue(both)
        try await cluster.doctor.broadcast("both versions")
        let delivered = await eventually {
            cluster.broadcasts("alice") == ["both versions"] && cluster.broadcasts("bob") == ["both versions"]
        }
        XCTAssertTrue(delivered)
        await cluster.shutdown()
    }
}
