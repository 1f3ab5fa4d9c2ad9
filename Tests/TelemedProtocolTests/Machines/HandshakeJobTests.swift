import XCTest
@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol

/// The handshake jobs of a KEY_VERIFICATION (DoctorMachine+Jobs.swift) and the races of a
/// pool: each test drives `DoctorMachine.frameReceived`, `DoctorMachine.jobFinished` and the
/// inputs that land while a job is out (close, timer, block, revoke, duplicate, shutdown)
/// through the `MachineDriver` with its jobs held and completed in a chosen order.
final class HandshakeJobTests: XCTestCase {
    let crafter = Crafter()

    func held(_ patients: [String] = ["alice"], configuration: DoctorConfiguration = Harness.immediateEpochs) throws -> Harness {
        var h = try Harness(patients: patients, configuration: configuration)
        h.jobMode = .held
        return h
    }

    func request(_ h: inout Harness, _ name: String, seed: UInt64, signer: String? = nil) throws -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        return crafter.encode(try crafter.request(claiming: name, signer: Harness.keyCache.key(signer ?? name),
                                                  ts: h.now.wall, rng: &rng))
    }

    func tokens(_ h: Harness, _ connection: ConnectionID) -> Int {
        h.framesSent(to: connection).filter { crafter.decode($0)?.opcode == .sessionToken }.count
    }

    func rejections(_ h: Harness, on connection: ConnectionID) -> [(RuleID, String)] {
        h.doctorEvents.compactMap {
            if case let .rejected(c, _, rule, reason, _) = $0, c == connection { return (rule, reason) }
            return nil
        }
    }

    /// The connection table's invariants (retired handshakes included) hold.
    func assertTableConsistent(_ h: Harness, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(DoctorIntrospectionTests.connectionTableViolations(h.doctor), [], file: file, line: line)
    }

    func failures(_ h: Harness, _ source: String) throws -> Int {
        h.doctor.securityState.failures[try XCTUnwrapSource(source)]?.count ?? 0
    }

    // MARK: - Inline and by host answer alike

    /// `DoctorMachine.frameReceived` with `.inline` jobs and with `.byHost` jobs run at once by
    /// the host (`jobFinished`), from the same state and generator: the same actions but for
    /// the `.verify` ones, and the same state after.
    func testJobsRunByTheHostAnswerExactlyAsInlineJobs() throws {
        let h = try Harness(patients: ["alice", "bob"])
        var inlineHarness = h
        var host = h.doctor
        var inline = h.doctor
        host.handshakeJobs = .byHost
        inline.handshakeJobs = .inline
        var bodies: [[UInt8]] = []
        for (index, name) in ["alice", "bob", "mallory"].enumerated() {
            bodies.append(try request(&inlineHarness, name, seed: UInt64(index + 1), signer: name == "mallory" ? "alice" : name))
        }
        bodies.append(bodies[0]) // a replay
        var hostRNG = SeededRandom(seed: 5)
        var inlineRNG = SeededRandom(seed: 5)
        for (index, body) in bodies.enumerated() {
            let connection = ConnectionID(UInt64(100 + index))
            let source = try XCTUnwrapSource("192.0.2.\(index + 1)")
            XCTAssertEqual(host.connectionOpened(connection, from: source, now: h.now),
                           inline.connectionOpened(connection, from: source, now: h.now))
            var hostActions = host.frameReceived(body, on: connection, now: h.now, using: &hostRNG)
            var jobs = 0
            while case let .verify(job)? = hostActions.last {
                jobs += 1
                hostActions.removeLast()
                hostActions += host.jobFinished(job.run(using: &hostRNG), now: h.now, using: &hostRNG)
            }
            let inlineActions = inline.frameReceived(body, on: connection, now: h.now, using: &inlineRNG)
            XCTAssertEqual(hostActions, inlineActions, "request \(index)")
            XCTAssertFalse(inlineActions.contains { if case .verify = $0 { return true }; return false })
            XCTAssertEqual(jobs, [2, 2, 1, 0][index], "jobs of request \(index)")
        }
        XCTAssertEqual(host.securityState, inline.securityState)
        XCTAssertEqual(host.replayCacheCount, inline.replayCacheCount)
        XCTAssertEqual(host.pendingHandshakes, inline.pendingHandshakes)
    }

    // MARK: - Duplicates

    /// Two copies of one fresh request verified concurrently: both pass the cache lookup, the
    /// first result applied wins the insert, the other is R-REPLAY (not counted); exactly one
    /// SESSION_TOKEN, whichever finishes first.
    func testConcurrentDuplicatesVerifiedInParallelYieldExactlyOneSessionToken() throws {
        for reversed in [false, true] {
            var h = try held()
            let body = try request(&h, "alice", seed: 7)
            let first = try h.openRaw(from: "192.0.2.1")
            let second = try h.openRaw(from: "192.0.2.2")
            h.inject(body, on: first)
            h.inject(body, on: second)
            XCTAssertEqual(h.heldJobs.map(\.phase), [.signature, .signature], "both verified concurrently")
            h.completeJob(at: reversed ? 1 : 0)
            h.completeJob(at: 0)
            h.completeAllJobs()
            let (winner, loser) = reversed ? (second, first) : (first, second)
            XCTAssertEqual(tokens(h, winner), 1)
            XCTAssertEqual(tokens(h, loser), 0)
            XCTAssertEqual(rejections(h, on: loser).map(\.0), [.replay])
            XCTAssertEqual(rejections(h, on: loser).first?.1, "concurrent duplicate of (id, rn)")
            XCTAssertEqual(try failures(h, reversed ? "192.0.2.1" : "192.0.2.2"), 0, "the lost insert is not counted")
            XCTAssertEqual(h.doctor.replayCacheCount, 1)
        }
    }

    // MARK: - The connection ends while verified

    /// A bad signature whose connection closes before its result comes back is still counted
    /// (five of them block the source): closing at once cannot dodge R-SRC.
    func testClosingWhileVerifiedDoesNotDodgeTheSourceCounter() throws {
        var h = try held()
        for round in 0..<5 {
            let body = try request(&h, "alice", seed: 100 + UInt64(round), signer: "mallory")
            let connection = try h.openRaw(from: "198.51.100.7")
            h.inject(body, on: connection)
            h.transportClosed(connection, .closedByPeer)
            assertTableConsistent(h)
            XCTAssertEqual(h.doctor.retiredHandshakes, 1, "the ended handshake keeps its slot until the result")
            XCTAssertEqual(try failures(h, "198.51.100.7"), round, "the close itself counts nothing")
            h.completeJob(at: 0)
            XCTAssertEqual(h.doctor.retiredHandshakes, 0)
            XCTAssertEqual(rejections(h, on: connection).map(\.0), [.signature])
            XCTAssertTrue(rejections(h, on: connection)[0].1.hasSuffix("(the connection had ended)"))
            XCTAssertTrue(h.heldJobs.isEmpty, "no answer phase for an ended handshake")
        }
        XCTAssertNotNil(h.doctor.sourceBlock(try XCTUnwrapSource("198.51.100.7"), at: h.now.wall))
    }

    /// A valid request whose connection closes while verified enters the replay cache (so it
    /// cannot be replayed for another verification), runs no answer phase and is not counted.
    func testAValidRequestEndedWhileVerifiedEntersTheReplayCache() throws {
        var h = try held()
        let body = try request(&h, "alice", seed: 9)
        let connection = try h.openRaw(from: "192.0.2.1")
        h.inject(body, on: connection)
        h.transportClosed(connection, .cutFrame)
        XCTAssertEqual(rejections(h, on: connection).map(\.0), [.frame])
        XCTAssertEqual(h.doctor.pendingHandshakes, 0)
        XCTAssertEqual(h.doctor.retiredHandshakes, 1)
        h.completeJob(at: 0)
        XCTAssertTrue(h.heldJobs.isEmpty)
        XCTAssertEqual(h.doctor.replayCacheCount, 1)
        XCTAssertEqual(try failures(h, "192.0.2.1"), 0, "a verified request's end is not counted")
        let replay = try h.openRaw(from: "192.0.2.1")
        h.inject(body, on: replay)
        XCTAssertTrue(h.heldJobs.isEmpty, "the replay is refused at the lookup, before any job")
        XCTAssertEqual(rejections(h, on: replay).map(\.0), [.replay])
    }

    /// The handshake timer fires while the request is verified: REJECTED and close at once
    /// (R-STATE, not counted); the result's own outcome comes later.
    func testTheHandshakeTimeoutWhileVerifiedEndsTheHandshakeAtOnce() throws {
        var h = try held()
        let body = try request(&h, "alice", seed: 11, signer: "mallory")
        let connection = try h.openRaw(from: "198.51.100.9")
        h.inject(body, on: connection)
        h.advance(by: Harness.immediateEpochs.handshakeTimeoutMillis)
        h.fireDueTimers()
        XCTAssertEqual(rejections(h, on: connection).map(\.0), [.state])
        XCTAssertEqual(rejections(h, on: connection).first?.1, "the request was still being verified at the handshake timeout")
        XCTAssertEqual(h.framesSent(to: connection).last.flatMap { crafter.decode($0) }, .rejected)
        XCTAssertEqual(try failures(h, "198.51.100.9"), 0)
        h.completeJob(at: 0)
        XCTAssertEqual(rejections(h, on: connection).map(\.0), [.state, .signature])
        XCTAssertEqual(try failures(h, "198.51.100.9"), 1, "the bad signature counts once")
    }

    /// A frame before the SESSION_TOKEN ends a verifying handshake (R-STATE, not counted).
    func testAFrameBeforeTheSessionTokenEndsAVerifyingHandshake() throws {
        var h = try held()
        let body = try request(&h, "alice", seed: 12)
        let connection = try h.openRaw(from: "192.0.2.1")
        h.inject(body, on: connection)
        h.inject(body, on: connection)
        XCTAssertEqual(rejections(h, on: connection).map(\.0), [.state])
        h.completeAllJobs()
        XCTAssertEqual(tokens(h, connection), 0)
        XCTAssertEqual(h.doctor.replayCacheCount, 1)
        XCTAssertEqual(try failures(h, "192.0.2.1"), 0)
    }

    /// Ended handshakes keep their pending slot until their job is back: a source cannot keep
    /// more jobs in flight than its pending limit by closing its connections.
    func testEndedHandshakesHoldTheirPendingSlotUntilTheirResult() throws {
        var h = try held()
        let limit = Harness.immediateEpochs.pendingPerSource
        for round in 0..<limit {
            let connection = try h.openRaw(from: "198.51.100.7")
            h.inject(try request(&h, "alice", seed: 200 + UInt64(round), signer: "mallory"), on: connection)
            h.transportClosed(connection, .closedByPeer)
        }
        XCTAssertEqual(h.heldJobs.count, limit)
        assertTableConsistent(h)
        let refused = try h.openRaw(from: "198.51.100.7")
        XCTAssertEqual(rejections(h, on: refused).map(\.0), [.limit])
        h.completeAllJobs()
        assertTableConsistent(h)
        let admitted = try h.openRaw(from: "198.51.100.7")
        XCTAssertTrue(rejections(h, on: admitted).isEmpty)
    }

    // MARK: - State that changes while verified

    /// A source block that lands while a valid request is verified refuses it (R-BLOCK, not
    /// counted, no SESSION_TOKEN, not in the replay cache).
    func testABlockLandingWhileVerifiedRefusesTheRequest() throws {
        var h = try held()
        let body = try request(&h, "alice", seed: 13)
        let honest = try h.openRaw(from: "198.51.100.7")
        h.inject(body, on: honest)
        for _ in 0..<5 {
            let junk = try h.openRaw(from: "198.51.100.7")
            h.inject([0x7b], on: junk)
        }
        XCTAssertNotNil(h.doctor.sourceBlock(try XCTUnwrapSource("198.51.100.7"), at: h.now.wall))
        h.completeAllJobs()
        XCTAssertEqual(tokens(h, honest), 0)
        XCTAssertEqual(rejections(h, on: honest).map(\.0), [.block])
        XCTAssertEqual(h.doctor.replayCacheCount, 0)
    }

    /// A block landing during the answer phase: the request was applied, the SESSION_TOKEN
    /// goes out, and KEY_CONFIRMATION is refused by the §7.4 re-check.
    func testABlockLandingDuringTheAnswerPhaseIsCaughtAtConfirmation() throws {
        var h = try held()
        let alice = try h.connect("alice", from: "198.51.100.7")
        h.pump()
        h.completeJob(at: 0)
        XCTAssertEqual(h.heldJobs.map(\.phase), [.answer])
        for _ in 0..<5 {
            let junk = try h.openRaw(from: "198.51.100.7")
            h.inject([0x7b], on: junk)
        }
        h.completeJob(at: 0)
        XCTAssertEqual(tokens(h, alice), 1)
        h.pump()
        XCTAssertEqual(rejections(h, on: alice).map(\.0), [.block])
        XCTAssertTrue(h.doctor.activePatients.isEmpty)
    }

    /// Revoked while its signature is checked: R-ID, counted (the unknown-id path). Revoked
    /// during the answer phase: the handshake ends at once (R-ID, not counted) and its answer
    /// is never sent.
    func testARevocationWhileVerifiedRefusesTheRequest() throws {
        var h = try held(["alice", "bob"])
        let early = try h.connect("alice", from: "192.0.2.1")
        let late = try h.connect("bob", from: "192.0.2.2")
        h.pump()
        h.completeJob(at: 1) // bob's signature: the answer phase goes out
        h.applyDoctor(try h.doctor.revoke(try PeerID("alice"), now: h.now, using: &h.rng))
        h.applyDoctor(try h.doctor.revoke(try PeerID("bob"), now: h.now, using: &h.rng))
        XCTAssertEqual(rejections(h, on: late).map(\.0), [.identity], "bob's named handshake ends at once")
        XCTAssertEqual(try failures(h, "192.0.2.2"), 0)
        h.completeAllJobs()
        XCTAssertEqual(tokens(h, late), 0)
        XCTAssertEqual(tokens(h, early), 0)
        XCTAssertEqual(rejections(h, on: early).map(\.0), [.identity])
        XCTAssertEqual(rejections(h, on: early).first?.1, "patient revoked while its request was verified")
        XCTAssertEqual(try failures(h, "192.0.2.1"), 1, "as for a never-enrolled id")
    }

    /// Another handshake of the id confirms while one is in its answer phase: that one ends
    /// (§5 "whatever its stage"); one whose signature is still checked names no id yet and
    /// goes on.
    func testAConfirmationEndsTheOtherHandshakesNamingTheID() throws {
        var h = try held()
        let first = try h.connect("alice", from: "192.0.2.1")
        let answering = try h.connect("alice", from: "192.0.2.2")
        let checking = try h.connect("alice", from: "192.0.2.3")
        h.pump()
        XCTAssertEqual(h.heldJobs.map(\.connection), [first, answering, checking])
        h.completeJob(at: 1) // the second one's signature: its answer phase is out
        h.completeJob(at: 0) // the first one's signature
        let firstAnswer = try XCTUnwrap(h.heldJobs.firstIndex { $0.connection == first && $0.phase == .answer })
        h.completeJob(at: firstAnswer)
        h.pump()
        XCTAssertEqual(h.doctor.connection(of: try PeerID("alice")), first)
        XCTAssertEqual(rejections(h, on: answering).map(\.0), [.state])
        XCTAssertTrue(rejections(h, on: checking).isEmpty)
        h.completeAllJobs()
        h.pump()
        XCTAssertEqual(tokens(h, answering), 0)
        XCTAssertEqual(h.doctor.connection(of: try PeerID("alice")), checking, "the later request replaces the session")
    }

    // MARK: - Results nobody waits for

    /// A result given twice, or to a machine that never emitted the job, changes nothing.
    func testAResultNobodyWaitsForIsIgnored() throws {
        var h = try held()
        _ = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        var rng = SeededRandom(seed: 3)
        let result = h.heldJobs[0].run(using: &rng)
        h.applyDoctor(h.doctor.jobFinished(result, now: h.now, using: &h.rng))
        XCTAssertEqual(h.heldJobs.map(\.phase), [.signature, .answer])
        let state = h.doctor.securityState
        let replay = h.doctor.replayCacheCount
        XCTAssertEqual(h.doctor.jobFinished(result, now: h.now, using: &h.rng), [], "a repeated result")
        XCTAssertEqual(h.doctor.securityState, state)
        XCTAssertEqual(h.doctor.replayCacheCount, replay)
        var other = try Harness(patients: ["alice"]).doctor
        XCTAssertEqual(other.jobFinished(result, now: h.now, using: &rng), [], "a machine that never emitted it")
    }

    /// Shutdown while verified: REJECTED and close at once; the result's accounting later.
    func testShutdownWhileVerifiedClosesAtOnceAndCountsLater() throws {
        var h = try held()
        let connection = try h.openRaw(from: "198.51.100.7")
        h.inject(try request(&h, "alice", seed: 21, signer: "mallory"), on: connection)
        h.applyDoctor(h.doctor.disconnectAll(now: h.now, kind: .shutdown))
        XCTAssertTrue(h.closed.contains(connection))
        XCTAssertEqual(h.doctor.retiredHandshakes, 1)
        h.completeAllJobs()
        XCTAssertEqual(try failures(h, "198.51.100.7"), 1)
        XCTAssertEqual(h.doctor.retiredHandshakes, 0)
    }
}
