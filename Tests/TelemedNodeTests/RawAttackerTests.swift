@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport
import TelemedTestSupport
import XCTest

/// A raw TCP attacker on 127.0.0.2 against a live doctor on 127.0.0.1 while an honest patient
/// (from 127.0.0.1) stays connected: every misbehaviour is refused, the attacker's source is
/// blocked at the configured count, and the honest patients keep being served.
final class RawAttackerTests: XCTestCase {
    private let codec = MessageCodec(groupName: TestKeys.group.name, elementLength: TestKeys.group.elementLength)

    private var rejectedFrame: [UInt8] { Framing.frame(codec.encode(.rejected)) }

    /// A fresh, correctly signed KEY_VERIFICATION body for `name`, stamped with the wall clock.
    private func keyVerification(_ name: String, seed: UInt64) throws -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        var machine = try PatientMachine(configuration: .version1, identity: TestKeys.id(name),
                                         privateKey: TestKeys.key(name), doctorID: TestKeys.id("doctor"),
                                         doctorKey: TestKeys.key("doctor").publicKey)
        for case let .send(body) in machine.connected(now: SystemClock().now(), using: &rng) { return body }
        XCTFail("the patient machine sent no KEY_VERIFICATION")
        return []
    }

    /// The same request with one bit of s flipped (a bad signature).
    private func badSignature(_ name: String, seed: UInt64) throws -> [UInt8] {
        guard case let .keyVerification(request) = try codec.decode(try keyVerification(name, seed: seed)) else {
            XCTFail("not a KEY_VERIFICATION")
            return []
        }
        var s = request.sigS.bytes
        s[31] ^= 0x01
        let forged = KeyVerification(group: request.group, idI: request.idI, idGWN: request.idGWN, tsI: request.tsI,
                                     rnI: request.rnI, c1: request.c1, c2: request.c2, sigR: request.sigR,
                                     sigS: try Bytes32(s))
        return codec.encode(.keyVerification(forged))
    }

    private func attack(_ port: Int, _ bytes: [UInt8], halfClose: Bool = false) throws -> [UInt8] {
        let socket = try RawSocket(port: port, from: "127.0.0.2")
        if !bytes.isEmpty { try socket.write(bytes) }
        if halfClose { socket.shutdownWrite() }
        return try socket.readUntilEndOfStream()
    }

    func testRawAttackerIsRejectedAndBlockedWhileHonestPatientsAreServed() async throws {
        var configuration = DoctorConfiguration.acceptingVersion1
        configuration.failureThreshold = 6
        let cluster = try await TCPCluster(enrolling: ["alice", "bob", "dave"], configuration: configuration)
        let port = cluster.port
        cluster.startPatient("alice")
        let aliceIn = await eventually { cluster.latestEpoch("alice") == 1 }
        XCTAssertTrue(aliceIn)

        // 1. Garbage in a well-formed frame: REJECTED, then the stream ends.
        XCTAssertEqual(try attack(port, Framing.frame(Array("GET / HTTP/1.1\r\n\r\n".utf8))), rejectedFrame)
        // 2. A 2^31 length prefix: refused before any body byte is read, REJECTED, closed.
        XCTAssertEqual(try attack(port, [0x80, 0x00, 0x00, 0x00]), rejectedFrame)
        // 3. A truncated frame (100 announced, 10 sent, then FIN).
        XCTAssertEqual(try attack(port, [0, 0, 0, 100] + [UInt8](repeating: 0x7b, count: 10), halfClose: true), [])
        // 4. A replayed KEY_VERIFICATION: the first copy is answered (not a failure), the copy is not.
        let captured = Framing.frame(try keyVerification("dave", seed: 41))
        do {
            let first = try RawSocket(port: port, from: "127.0.0.2")
            try first.write(captured)
            let answer = try codec.decode(try first.readFrame())
            guard case .sessionToken = answer else { return XCTFail("expected SESSION_TOKEN, got \(answer.opcode)") }
        }
        XCTAssertEqual(try attack(port, captured), rejectedFrame)
        // 5, 6. Repeated bad signatures; the sixth failure blocks the source.
        XCTAssertEqual(try attack(port, Framing.frame(try badSignature("dave", seed: 42))), rejectedFrame)
        XCTAssertEqual(try attack(port, Framing.frame(try badSignature("dave", seed: 43))), rejectedFrame)
        let blocked = await eventually { await cluster.doctor.blocks().contains { $0.target == "source 127.0.0.2" } }
        let blockList = await cluster.doctor.blocks()
        XCTAssertTrue(blocked, "blocks: \(blockList)")

        // 7. Blocked now: even a valid request is refused on accept.
        XCTAssertEqual(try attack(port, Framing.frame(try keyVerification("dave", seed: 44))), rejectedFrame)

        // The honest side never noticed: alice gets a broadcast, bob joins from 127.0.0.1.
        try await cluster.doctor.broadcast("still here")
        let aliceGotIt = await eventually { cluster.broadcasts("alice") == ["still here"] }
        XCTAssertTrue(aliceGotIt)
        cluster.startPatient("bob")
        let bobIn = await eventually { cluster.latestEpoch("bob") == 2 }
        XCTAssertTrue(bobIn)

        let failures = try await cluster.doctor.auditRows(kind: .authFailure)
        XCTAssertTrue(failures.allSatisfy { $0.source == "127.0.0.2" }, "\(failures)")
        XCTAssertEqual(failures.map { $0.rule ?? "-" },
                       ["R-FRAME", "R-FRAME", "R-FRAME", "R-REPLAY", "R-SIG", "R-SIG", "R-BLOCK"])
        let blocks = try await cluster.doctor.auditRows(kind: .block)
        XCTAssertEqual(blocks.map { $0.rule ?? "-" }, ["R-SRC"])
        await cluster.shutdown()
    }
}
