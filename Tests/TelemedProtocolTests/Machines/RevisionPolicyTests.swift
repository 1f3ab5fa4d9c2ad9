import XCTest
@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol

/// Regression tests for spec revision 1.1 items 2, 3, 4, 5 and 7 (PROTOCOL.md §7) and for the
/// target named by an operator unblock. Each drives the production entry points
/// (`DoctorMachine.frameReceived`, `.start`, `.unblock`) through the Harness and checks the
/// audited rule, the REJECTED frame, the counters and the persisted changes.
final class RevisionPolicyTests: XCTestCase {
    let crafter = Crafter()

    func answeredRejected(_ h: Harness, _ connection: ConnectionID) -> Bool {
        h.framesSent(to: connection).last.flatMap { crafter.decode($0) } == .rejected
    }

    func persisted(_ actions: [DoctorAction]) -> [SecurityChange] {
        actions.compactMap { if case let .persist(change) = $0 { return change }; return nil }
    }

    func signedRequest(_ h: Harness, _ name: String, ts: UInt64, seed: UInt64,
                       c1: ElementBytes? = nil) throws -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        let key = try XCTUnwrap(h.keys[try PeerID(name)])
        return crafter.encode(try crafter.request(claiming: name, signer: key, ts: ts, c1: c1, rng: &rng))
    }

    // MARK: - §7.2 R-TIME and R-START do not count against the source

    func testTimeAndStartRefusalsOfAFirstFrameAreNotCounted() throws {
        var state = SecurityState()
        state.startTime = 1_764_000_000_000 + 20_000   // T0 ahead of the clock, within ΔTS
        var h = try Harness(patients: ["alice"], state: state)
        let source = try XCTUnwrapSource("198.51.100.20")
        let before = h.doctorLog.count
        var connections: [ConnectionID] = []
        // Ten refusals, twice the threshold: five stale, five before T0.
        for index in 0..<5 {
            let stale = try signedRequest(h, "alice", ts: h.now.wall - 31_000, seed: UInt64(100 + index))
            let early = try signedRequest(h, "alice", ts: h.now.wall, seed: UInt64(200 + index))
            for body in [stale, early] {
                let connection = try h.openRaw(from: "198.51.100.20")
                h.inject(body, on: connection)
                connections.append(connection)
            }
        }
        XCTAssertEqual(h.rejections.map(\.rule), Array(repeating: [RuleID.time, .start], count: 5).flatMap { $0 })
        XCTAssertTrue(connections.allSatisfy { answeredRejected(h, $0) })
        XCTAssertNil(h.doctor.securityState.failures[source], "R-TIME and R-START are not counted (§7.2)")
        XCTAssertNil(h.doctor.sourceBlock(source, at: h.now.wall))
        XCTAssertEqual(persisted(Array(h.doctorLog[before...])), [], "nothing is persisted")
        // Every other rule of "Sources and counters" stands: a malformed frame still counts.
        let connection = try h.openRaw(from: "198.51.100.20")
        h.inject(Array("not json".utf8), on: connection)
        XCTAssertEqual(h.rejections.last?.rule, .frame)
        XCTAssertEqual(h.doctor.securityState.failures[source]?.count, 1)
    }

    // MARK: - §7.3 the per-id replay quota

    func testAnIDOverItsReplayQuotaIsRefusedWithRLimitAndNothingChanges() throws {
        var configuration = Harness.immediateEpochs
        configuration.replayQuotaPerID = 2
        var h = try Harness(patients: ["alice", "bob"], configuration: configuration)
        var tokens: [ConnectionID] = []
        for index in 0..<2 {
            let connection = try h.openRaw(from: "192.0.2.\(index + 1)")
            h.inject(try signedRequest(h, "alice", ts: h.now.wall, seed: UInt64(300 + index)), on: connection)
            tokens.append(connection)
        }
        for connection in tokens {
            XCTAssertEqual(crafter.decode(h.framesSent(to: connection)[0])?.opcode, .sessionToken)
        }
        XCTAssertEqual(h.doctor.replayCacheCount, 2)
        let pendingBefore = h.doctor.pendingHandshakes
        let before = h.doctorLog.count
        let third = try h.openRaw(from: "192.0.2.3")
        h.inject(try signedRequest(h, "alice", ts: h.now.wall, seed: 302), on: third)
        XCTAssertEqual(h.rejections.last?.rule, .limit)
        XCTAssertTrue(h.rejections.last?.reason.contains("quota") ?? false)
        XCTAssertTrue(answeredRejected(h, third))
        XCTAssertEqual(h.doctor.replayCacheCount, 2, "a refused insert changes nothing")
        XCTAssertEqual(h.doctor.pendingHandshakes, pendingBefore)
        XCTAssertTrue(h.doctor.securityState.failures.isEmpty, "not counted against the source")
        XCTAssertEqual(persisted(Array(h.doctorLog[before...])), [])
        // Another id is untouched by alice's quota.
        let bob = try h.openRaw(from: "192.0.2.4")
        h.inject(try signedRequest(h, "bob", ts: h.now.wall, seed: 303), on: bob)
        XCTAssertEqual(crafter.decode(h.framesSent(to: bob)[0])?.opcode, .sessionToken)
        // Once alice's entries have lived 2·ΔTS her quota is free again.
        h.advance(by: 2 * configuration.timeWindowMillis)
        let later = try h.openRaw(from: "192.0.2.5")
        h.inject(try signedRequest(h, "alice", ts: h.now.wall, seed: 304), on: later)
        XCTAssertEqual(crafter.decode(h.framesSent(to: later)[0])?.opcode, .sessionToken)
    }

    func testAFullReplayCacheIsRLimitNotRReplay() throws {
        var configuration = Harness.immediateEpochs
        configuration.replayCacheCapacity = 1
        var h = try Harness(patients: ["alice", "bob"], configuration: configuration)
        let first = try h.openRaw(from: "192.0.2.1")
        h.inject(try signedRequest(h, "alice", ts: h.now.wall, seed: 310), on: first)
        let second = try h.openRaw(from: "192.0.2.2")
        h.inject(try signedRequest(h, "bob", ts: h.now.wall, seed: 311), on: second)
        XCTAssertEqual(h.rejections.map(\.rule), [.limit])
        XCTAssertTrue(answeredRejected(h, second))
        XCTAssertEqual(h.doctor.replayCacheCount, 1)
        XCTAssertTrue(h.doctor.securityState.failures.isEmpty)
    }

    func testTheReplayCacheChecksDuplicateThenQuotaThenCapacityAndReleasesQuotaOnExpiry() throws {
        let alice = try PeerID("alice"), bob = try PeerID("bob")
        var rng = SeededRandom(seed: 5)
        var cache = ReplayCache(capacity: 3, quotaPerID: 2, lifetime: 100)
        let a1 = Bytes32(random: &rng), a2 = Bytes32(random: &rng), a3 = Bytes32(random: &rng)
        XCTAssertEqual(cache.insert(alice, a1, now: 0), .inserted)
        XCTAssertEqual(cache.insert(alice, a2, now: 10), .inserted)
        XCTAssertEqual(cache.insert(alice, a1, now: 20), .duplicate, "a duplicate is named before the quota")
        XCTAssertEqual(cache.insert(alice, a3, now: 20), .quotaExceeded)
        XCTAssertEqual(cache.insert(bob, Bytes32(random: &rng), now: 20), .inserted)
        XCTAssertEqual(cache.insert(bob, Bytes32(random: &rng), now: 20), .full)
        XCTAssertEqual(cache.count, 3)
        // a1 expires at 100: alice holds one live entry and may insert again.
        XCTAssertEqual(cache.insert(alice, a3, now: 100), .inserted)
        XCTAssertEqual(cache.count(of: alice), 2)
        cache.purge(now: 1_000)
        XCTAssertEqual(cache.count, 0)
        XCTAssertEqual(cache.count(of: alice), 0)
        XCTAssertEqual(cache.count(of: bob), 0)
    }

    func testTheQuotaIsValidatedLikeTheOtherBounds() {
        var c = Harness.immediateEpochs
        XCTAssertEqual(c.replayQuotaPerID, 64)
        c.replayQuotaPerID = 0
        XCTAssertThrowsError(try c.validated())
        c.replayQuotaPerID = 1_000_001
        XCTAssertThrowsError(try c.validated())
        c.replayQuotaPerID = 1
        XCTAssertNoThrow(try c.validated())
    }

    // MARK: - §7.7 a verified request enters the replay cache before its elements are checked

    func testASignedRequestWithBadElementsIsCachedSoItsReplayStopsBeforeTheSignature() throws {
        var h = try Harness(patients: ["alice"])
        let body = try signedRequest(h, "alice", ts: h.now.wall, seed: 320, c1: crafter.element(BigInt(1)))
        let first = try h.openRaw(from: "198.51.100.30")
        h.inject(body, on: first)
        XCTAssertEqual(h.rejections.last?.rule, .element)
        XCTAssertTrue(answeredRejected(h, first))
        XCTAssertEqual(h.doctor.replayCacheCount, 1, "inserted right after the signature verified")
        XCTAssertTrue(h.doctor.securityState.failures.isEmpty, "R-ELEM after a verified signature is not counted")
        let second = try h.openRaw(from: "198.51.100.31")
        h.inject(body, on: second)
        XCTAssertEqual(h.rejections.last?.rule, .replay)
        XCTAssertEqual(h.rejections.last?.reason, "(id, rn) seen within the replay window",
                       "refused at the replay lookup, before any signature work")
        XCTAssertTrue(answeredRejected(h, second))
        XCTAssertEqual(h.doctor.replayCacheCount, 1)
    }

    // MARK: - §7.4 blocks are re-checked at KEY_CONFIRMATION

    /// Runs alice's handshake from `source` up to her KEY_CONFIRMATION, which is held back.
    func pendingConfirmation(_ h: inout Harness, from source: String) throws -> (ConnectionID, [UInt8]) {
        h.hook = { flight in
            guard flight.direction == .toDoctor, case .keyConfirmation? = Crafter().decode(flight.body) else { return .deliver }
            return .drop
        }
        let connection = try h.connect("alice", from: source)
        h.pump()
        h.hook = nil
        let confirmation = try XCTUnwrap(h.framesFromPatient(connection).last)
        guard case .keyConfirmation? = crafter.decode(confirmation) else { throw HarnessError(message: "no confirmation") }
        return (connection, confirmation)
    }

    func testADeviceBlockedWhileItsHandshakeWasPendingIsRefusedAtConfirmation() throws {
        var h = try Harness(patients: ["alice"])
        let (held, confirmation) = try pendingConfirmation(&h, from: "192.0.2.1")
        // A second handshake of the same device ends in a wrong SKV: the device is blocked.
        let (other, _) = try pendingConfirmation(&h, from: "192.0.2.1")
        let wrong = KeyConfirmation(idI: try PeerID("alice"), ts: h.now.wall, skv: Bytes32(random: &h.rng))
        h.inject(crafter.codec.encode(.keyConfirmation(wrong)), on: other)
        XCTAssertEqual(h.rejections.last?.rule, .skv)
        let device = DeviceKey(patient: try PeerID("alice"), source: try XCTUnwrapSource("192.0.2.1"))
        let until = try XCTUnwrap(h.doctor.deviceBlock(device, at: h.now.wall))
        // The held, correct confirmation now arrives.
        h.advance(by: 1_000)
        let before = h.doctorLog.count
        h.deliver(Harness.Flight(connection: held, direction: .toDoctor, body: confirmation))
        let actions = Array(h.doctorLog[before...])
        XCTAssertEqual(h.rejections.last?.rule, .block)
        XCTAssertTrue(answeredRejected(h, held))
        XCTAssertTrue(actions.contains(.close(held)))
        XCTAssertEqual(h.doctor.activePatients, [])
        XCTAssertEqual(persisted(actions), [], "no new block, nothing counted")
        XCTAssertEqual(h.doctor.deviceBlock(device, at: h.now.wall), until, "the block is not extended")
        XCTAssertFalse(actions.contains { if case .event(.blocked) = $0 { return true }; return false })
    }

    func testASourceBlockedWhileAHandshakeWasPendingRefusesTheConfirmationBeforeParsing() throws {
        var h = try Harness(patients: ["alice"])
        let (held, _) = try pendingConfirmation(&h, from: "198.51.100.40")
        // Five malformed first frames from the same address block it.
        for _ in 0..<5 {
            let connection = try h.openRaw(from: "198.51.100.40")
            h.inject(Array("not json".utf8), on: connection)
        }
        let source = try XCTUnwrapSource("198.51.100.40")
        XCTAssertNotNil(h.doctor.sourceBlock(source, at: h.now.wall))
        let before = h.doctorLog.count
        // Even garbage is refused as R-BLOCK: the block check comes before the parse.
        h.inject(Array("not json either".utf8), on: held)
        XCTAssertEqual(h.rejections.last?.rule, .block)
        XCTAssertTrue(answeredRejected(h, held))
        XCTAssertEqual(persisted(Array(h.doctorLog[before...])), [])
        XCTAssertNil(h.doctor.securityState.failures[source])
    }

    func testASaturatedBlockTableDoesNotRefuseAPendingConfirmation() throws {
        var configuration = Harness.immediateEpochs
        configuration.sourceBlockCapacity = 1
        configuration.failureThreshold = 1
        var h = try Harness(patients: ["alice"], configuration: configuration)
        let (held, confirmation) = try pendingConfirmation(&h, from: "192.0.2.1")
        for source in ["203.0.113.1", "198.51.100.1"] {
            let connection = try h.openRaw(from: source)
            h.inject(Array("x".utf8), on: connection)
        }
        XCTAssertTrue(h.doctor.refusesUnauthenticated)
        h.deliver(Harness.Flight(connection: held, direction: .toDoctor, body: confirmation))
        h.pump()
        XCTAssertEqual(h.doctor.activePatients.map(\.value), ["alice"])
        XCTAssertEqual(h.patients[held]?.isActive, true)
    }

    // MARK: - §7.5 saturation is recomputed from the persisted tables at start

    func testADoctorRestartingWithAFullSourceBlockTableIsSaturatedAtOnceAndAlerts() throws {
        let start: UInt64 = 1_764_000_000_000
        var configuration = Harness.immediateEpochs
        configuration.sourceBlockCapacity = 2
        var state = SecurityState()
        state.sourceBlocks[try XCTUnwrapSource("203.0.113.1")] = start + 3_600_000
        state.prefixBlocks[try XCTUnwrapSource("198.51.100.1").prefix] = start + 3_600_000
        let h = try Harness(patients: ["alice"], configuration: configuration, state: state, start: start)
        XCTAssertTrue(h.doctor.refusesUnauthenticated)
        let startActions = h.doctorLog
        XCTAssertEqual(startActions.last, .event(.alert(.sourceBlockTableSaturated)))
        let firstEvent = startActions.firstIndex { if case .event = $0 { return true }; return false }
        let lastPersist = startActions.lastIndex { if case .persist = $0 { return true }; return false }
        XCTAssertLessThan(lastPersist ?? -1, firstEvent ?? 0, "every change is persisted before the alert")
        var running = h
        let refused = try running.openRaw(from: "192.0.2.9")
        XCTAssertEqual(running.rejections.last?.rule, .limit)
        XCTAssertTrue(answeredRejected(running, refused))
        // Once a block expires, the table has room again.
        running.advance(by: 3_600_000)
        let a = try running.connect("alice", from: "192.0.2.9")
        running.pump()
        XCTAssertEqual(running.patients[a]?.isActive, true)
    }

    func testExpiredBlocksAreDroppedBeforeSaturationIsJudgedAtStart() throws {
        let start: UInt64 = 1_764_000_000_000
        var configuration = Harness.immediateEpochs
        configuration.sourceBlockCapacity = 2
        var state = SecurityState()
        state.sourceBlocks[try XCTUnwrapSource("203.0.113.1")] = start + 3_600_000
        state.sourceBlocks[try XCTUnwrapSource("203.0.113.2")] = start - 1
        let h = try Harness(patients: ["alice"], configuration: configuration, state: state, start: start)
        XCTAssertFalse(h.doctor.refusesUnauthenticated)
        XCTAssertFalse(h.doctorLog.contains(.event(.alert(.sourceBlockTableSaturated))))
        XCTAssertTrue(h.doctorLog.contains(.persist(.unblocked(.source(try XCTUnwrapSource("203.0.113.2")), reason: .expired))))
    }

    // MARK: - Issue 11 item 5: an unblock names the block it lifted

    func testUnblockingAnAddressCoveredByAPrefixNamesThePrefix() throws {
        var state = SecurityState()
        let prefix = try XCTUnwrapSource("198.51.100.2").prefix
        state.prefixBlocks[prefix] = 1_764_000_000_000 + 3_600_000
        var h = try Harness(patients: ["alice"], state: state)
        let actions = try h.doctor.unblock(.source(try XCTUnwrapSource("198.51.100.2")))
        XCTAssertEqual(actions, [.persist(.unblocked(.prefix(prefix), reason: .operatorUnblock)),
                                 .event(.unblocked(.prefix(prefix)))])
        XCTAssertEqual(BlockTarget.prefix(prefix).description, "prefix 198.51.100.0/24")
        XCTAssertNil(h.doctor.sourceBlock(try XCTUnwrapSource("198.51.100.77"), at: h.now.wall), "lifted as a whole")
        // An address with its own block still names itself.
        var own = SecurityState()
        let source = try XCTUnwrapSource("203.0.113.5")
        own.sourceBlocks[source] = 1_764_000_000_000 + 3_600_000
        var g = try Harness(patients: ["alice"], state: own)
        let lifted = try g.doctor.unblock(.source(source))
        XCTAssertEqual(lifted.last, .event(.unblocked(.source(source))))
    }
}
