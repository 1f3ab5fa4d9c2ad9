import struct TelemedTransport.FrameDecoder
import XCTest
@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol

// MARK: - FuzzFindingsRegressionTests
//
// One test per finding of the libFuzzer targets (Fuzz/RESULTS.md). Each replays the input
// libFuzzer saved (Regression/Inputs/, committed) through the fuzz driver, and asserts the
// corrected behaviour directly.

final class FuzzFindingsRegressionTests: XCTestCase {
    /// fuzz-frame, out-of-memory: a length prefix of 2^32−1 under a decoder allowing it made
    /// `finishHeader` reserve the declared 4 GiB before any body byte arrived. Memory must
    /// follow the bytes received, never the length the peer declared.
    func testFrameDecoderDoesNotReserveThePeerDeclaredLength() throws {
        let input = try FuzzFiles.input("frame-declared-4gib-length-reserved.bin")
        XCTAssertNoThrow(try FrameDecoderCheck.run(input))

        var decoder = FrameDecoder(maxBodyLength: Int(UInt32.max))
        decoder.append([0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertEqual(try decoder.nextFrame(), nil)
        XCTAssertTrue(decoder.hasPartialFrame)
        XCTAssertLessThanOrEqual(decoder.partialBodyCapacity, 64, "capacity reserved before any body byte")
        decoder.append([UInt8](repeating: 7, count: 1_000))
        XCTAssertEqual(decoder.partialByteCount, 1_000)
        XCTAssertLessThanOrEqual(decoder.partialBodyCapacity, 4_096, "capacity out of proportion to 1,000 received bytes")

        // The default limit behaves the same: 4 header bytes reserve nothing.
        var standard = FrameDecoder()
        standard.append([0x00, 0x01, 0x00, 0x00])
        XCTAssertLessThanOrEqual(standard.partialBodyCapacity, 64)
    }

    /// fuzz-doctor, "close of closed connection": an active patient's DISCONNECT made the
    /// doctor emit `.close` for its connection twice (once itself, once in `leave`).
    func testMemberDisconnectClosesTheConnectionOnce() throws {
        let input = try FuzzFiles.input("doctor-member-disconnect-closed-twice.bin")
        XCTAssertNoThrow(try DoctorScript.run(input))

        var harness = try Harness(patients: ["alice", "bob"])
        let alice = try harness.connect("alice")
        harness.pump()
        _ = try harness.connect("bob")
        harness.pump()
        XCTAssertEqual(harness.doctor.activePatients.count, 2)
        harness.leave(alice)
        harness.pump()
        let closes = harness.doctorLog.filter { $0 == .close(alice) }.count
        XCTAssertEqual(closes, 1, "the doctor closed alice's connection \(closes) times")
        XCTAssertTrue(harness.doctorEvents.contains(.patientLeft(try PeerID("alice"), alice, reason: .disconnected)))
        XCTAssertEqual(harness.doctor.activePatients, [try PeerID("bob")])
    }

    /// fuzz-doctor, "close of closed connection": when the transport reported an active
    /// member's connection closed, the doctor still asked the host to close it. It now
    /// records the leave and starts the new epoch without acting on the dead connection.
    func testPeerClosedMemberConnectionIsNotClosedAgain() throws {
        let input = try FuzzFiles.input("doctor-close-after-peer-closed-member.bin")
        XCTAssertNoThrow(try DoctorScript.run(input))

        var harness = try Harness(patients: ["alice", "bob"])
        let alice = try harness.connect("alice")
        harness.pump()
        let bob = try harness.connect("bob")
        harness.pump()
        let epoch = harness.doctor.epoch
        var rng = SeededRandom(seed: 7)
        let actions = harness.doctor.connectionClosed(alice, .closedByPeer, now: harness.now, using: &rng)
        XCTAssertFalse(actions.contains(.close(alice)), "close emitted for a connection the transport reported closed")
        XCTAssertTrue(actions.contains(.event(.patientLeft(try PeerID("alice"), alice, reason: .connectionClosed))))
        XCTAssertEqual(harness.doctor.epoch, epoch + 1)
        XCTAssertTrue(actions.contains { if case .send(bob, _) = $0 { return true }; return false },
                      "bob gets the new epoch's GROUP_KEY")
    }
}
