import XCTest
@testable import TelemedProtocol
import TelemedCrypto

/// Sequence numbers (GCM nonces) as the production machines use them: every sending key is a
/// SealingKey that numbers its messages, every receiving key an OpeningKey that refuses a seq
/// not above the last one it accepted (PROTOCOL.md §4 "Nonces and sequence numbers").
final class NonceDisciplineTests: XCTestCase {
    private func seqs(_ frames: [[UInt8]]) -> [String] {
        frames.compactMap { body -> String? in
            switch Crafter().decode(body) {
            case let .groupKey(m)?: return "GROUP_KEY \(m.seq)"
            case let .disconnect(m)?: return "DISCONNECT \(m.seq)"
            case let .decMsg(m)?: return "DEC_MSG \(m.seq)"
            case let .encMsg(m)?: return "ENC_MSG \(m.epoch)/\(m.seq)"
            default: return nil
            }
        }
    }

    /// DoctorMachine: GROUP_KEYs and the DISCONNECT of a kick share k_d2p's counter.
    func testTheDoctorsDisconnectAfterGroupKeysUsesTheNextSeq() throws {
        var h = try Harness(patients: ["alice", "bob"])
        let a = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        _ = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        h.applyDoctor(try h.doctor.rekey(now: h.now, using: &h.rng))
        h.pump()
        h.applyDoctor(try h.doctor.kick(try PeerID("alice"), now: h.now, using: &h.rng))
        XCTAssertEqual(seqs(h.framesSent(to: a)), ["GROUP_KEY 0", "GROUP_KEY 1", "GROUP_KEY 2", "DISCONNECT 3"])
        h.pump()
        XCTAssertEqual(h.patients[a]?.end, .disconnectedByDoctor("kicked"))
    }

    /// PatientMachine: receipts and the leaving DISCONNECT share k_p2d's counter; DoctorMachine:
    /// broadcasts are numbered per epoch from 0.
    func testReceiptsAndThePatientsDisconnectShareACounterAndBroadcastsRestartPerEpoch() throws {
        var h = try Harness(patients: ["alice"])
        let a = try h.connect("alice")
        h.pump()
        try h.broadcast("one")
        try h.broadcast("two")
        h.pump()
        h.applyDoctor(try h.doctor.rekey(now: h.now, using: &h.rng))
        h.pump()
        try h.broadcast("three")
        h.pump()
        XCTAssertEqual(h.received(a), ["one", "two", "three"])
        h.leave(a)
        XCTAssertEqual(seqs(h.framesFromPatient(a)), ["DEC_MSG 0", "DEC_MSG 1", "DEC_MSG 2", "DISCONNECT 3"])
        XCTAssertEqual(seqs(h.framesSent(to: a)).filter { $0.hasPrefix("ENC_MSG") }, ["ENC_MSG 1/0", "ENC_MSG 1/1", "ENC_MSG 2/0"])
    }

    /// DoctorMachine refuses a replayed DEC_MSG (its k_p2d opening key), and the member leaves.
    func testTheDoctorRefusesAReplayedReceipt() throws {
        var h = try Harness(patients: ["alice"])
        let a = try h.connect("alice")
        h.pump()
        try h.broadcast("hello")
        h.pump()
        let receipt = try XCTUnwrap(h.framesFromPatient(a).last)
        XCTAssertEqual(seqs([receipt]), ["DEC_MSG 0"])
        h.inject(receipt, on: a)
        XCTAssertTrue(h.doctorEvents.contains {
            if case let .rejected(_, _, rule, reason, _) = $0 { return rule == .aead && reason.contains("not above") }
            return false
        })
        XCTAssertTrue(h.doctor.activePatients.isEmpty)
    }

    /// PatientMachine drops a replayed GROUP_KEY of the current epoch (its k_d2p opening key)
    /// and a replayed broadcast (its GK_e opening key), and stays.
    func testThePatientDropsReplayedGroupKeysAndBroadcasts() throws {
        var h = try Harness(patients: ["alice"])
        let a = try h.connect("alice")
        h.pump()
        try h.broadcast("hello")
        h.pump()
        let sent = h.framesSent(to: a)
        let groupKey = try XCTUnwrap(sent.first { seqs([$0]).first?.hasPrefix("GROUP_KEY") == true })
        let broadcast = try XCTUnwrap(sent.first { seqs([$0]).first?.hasPrefix("ENC_MSG") == true })
        h.deliver(Harness.Flight(connection: a, direction: .toPatient, body: groupKey))
        h.deliver(Harness.Flight(connection: a, direction: .toPatient, body: broadcast))
        let drops = h.patientEvents(a).compactMap { event -> RuleID? in
            if case let .dropped(rule, _) = event { return rule }
            return nil
        }
        XCTAssertEqual(drops, [.aead, .broadcast])
        XCTAssertTrue(h.patients[a]?.isActive == true)
        XCTAssertEqual(h.received(a), ["hello"])
    }
}
