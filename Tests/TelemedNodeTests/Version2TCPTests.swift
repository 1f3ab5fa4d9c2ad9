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
        let failures = try await cluster.doctor.auditRows(kind: .authFailure)
        XCTAssertTrue(failures.contains { $0.rule == "R-VERSION" && $0.patient == "bob"
                                          && $0.detail.contains("request version 1 below minimum 2") }, "\(failures)")

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

        // The audit of §8.7 (DoctorNode): the minimum at start, each join's version, and the
        // epochs with a version-1 member marked "not forward-secret".
        let starts = try await cluster.doctor.auditRows(kind: .start)
        XCTAssertTrue(starts.contains { $0.detail.contains("minimum protocol version 1") }, "\(starts)")
        let joins = try await cluster.doctor.auditRows(kind: .join).map(\.detail)
        XCTAssertTrue(joins.contains("joined (protocol version 1)") && joins.contains("joined (protocol version 2)"), "\(joins)")
        let epochs = try await cluster.doctor.auditRows(kind: .epoch).map(\.detail)
        XCTAssertTrue(epochs.contains { $0.contains("version-1 members: 1 of 2: GK_2 not forward-secret") }, "\(epochs)")

        // Raising the minimum at run time (the console's `min-version 2`) ends bob's v1 session.
        await cluster.doctor.setMinimumVersion(.v2)
        let bobOutcome = await cluster.runs["bob"]?.value
        XCTAssertEqual(bobOutcome, .disconnectedByDoctor("version"))
        let aliceStays = await eventually { cluster.latestEpoch("alice") == 3 }
        XCTAssertTrue(aliceStays, "alice moves on to a new epoch alone")
        let versions = try await cluster.doctor.auditRows(kind: .version).map(\.detail)
        XCTAssertEqual(versions, ["minimum protocol version 2"])
        await cluster.shutdown()
    }
}
