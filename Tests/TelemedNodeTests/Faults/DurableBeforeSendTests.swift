import Foundation
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTestSupport
import TelemedTransport
import XCTest

/// Group commit and the rule that a change is durable before any frame that depends on it is
/// sent: `DoctorNode` with `StoreCommitMode.background` (the mode `DoctorService` runs in) over a
/// real SQLite file behind a gate the test holds, fails or opens. Production entry points:
/// `DoctorNode.handle(_:)` (its `apply` and the `Outbox`), `DoctorNode.storeProgressed()`,
/// `DoctorNode.waitForStore()`, the `CommitPipeline` writer thread, `SecurityStore.commit`,
/// and over TCP `DoctorService` (its progress hop and back-pressure counters).
final class DurableBeforeSendTests: XCTestCase {
    private let codec = MessageCodec(groupName: TestKeys.group.name, elementLength: TestKeys.group.elementLength)
    private var rejected: [UInt8] { codec.encode(.rejected) }
    private let garbage = Array("not a KEY_VERIFICATION".utf8)

    /// Set from the writer thread when commits complete.
    private final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.withLock { value = true } }
        func take() -> Bool { lock.withLock { defer { value = false }; return value } }
    }

    /// The doctor's transport, checking every frame as it is handed to the network: for a
    /// REJECTED to a source, the failures of that source already in the database file (read
    /// through a second connection) must cover every REJECTED that source was sent so far.
    private final class CheckingTransport: Transport {
        let base: InMemoryEndpoint
        let reader: SecurityStore
        var sourceOf: [TelemedTransport.ConnectionID: SourceAddress] = [:]
        var rejectedSent: [SourceAddress: Int] = [:]
        var violations: [String] = []
        var checked = 0
        let rejected: [UInt8]

        init(_ base: InMemoryEndpoint, reader: SecurityStore, rejected: [UInt8]) {
            self.base = base
            self.reader = reader
            self.rejected = rejected
        }

        func send(_ body: [UInt8], on connection: TelemedTransport.ConnectionID) {
            if body == rejected, let source = sourceOf[connection] {
                rejectedSent[source, default: 0] += 1
                let durable = (try? reader.load().failures[source]?.count) ?? -1
                checked += 1
                if durable < rejectedSent[source] ?? 0 {
                    violations.append("REJECTED #\(rejectedSent[source] ?? 0) to \(source) sent with \(durable) durable failures")
                }
            }
            base.send(body, on: connection)
        }

        func close(_ connection: TelemedTransport.ConnectionID) {
            base.close(connection)
        }
    }

    private struct Rig {
        let cluster: InMemoryCluster
        let store: GatedStore
        let checker: CheckingTransport
        let progress: Flag
        let path: String
    }

    private func rig(_ directory: String, threshold: Int = 5) throws -> Rig {
        let path = directory + "/doctor.sqlite"
        let store = GatedStore(try SecurityStore(path: path))
        let reader = try SecurityStore(path: path)
        let progress = Flag()
        var checker: CheckingTransport?
        var configuration = DoctorConfiguration.acceptingVersion1
        configuration.failureThreshold = threshold
        let rejected = self.rejected
        let cluster = try InMemoryCluster(enrolling: ["alice"], store: store, configuration: configuration,
                                          commits: .background(progress: { progress.set() }),
                                          doctorTransport: { endpoint in
                                              let made = CheckingTransport(endpoint, reader: reader, rejected: rejected)
                                              checker = made
                                              return made
                                          })
        let made = try XCTUnwrap(checker)
        cluster.doctorInputTap = { event in
            if case let .opened(connection, peer) = event { made.sourceOf[connection] = SourceAddress(ipText: peer.host) }
        }
        return Rig(cluster: cluster, store: store, checker: made, progress: progress, path: path)
    }

    /// An attacker endpoint connected from `host` (its `.opened` delivered).
    private func attacker(_ rig: Rig, _ host: String, _ name: String) throws -> (InMemoryEndpoint, TelemedTransport.ConnectionID) {
        let endpoint = rig.cluster.network.addEndpoint(named: name, host: host)
        let connection = endpoint.connect(to: rig.cluster.listenAddress)
        rig.cluster.run()
        return (endpoint, connection)
    }

    private func rejections(_ cluster: InMemoryCluster) -> [String] {
        cluster.events.compactMap { event in
            guard case let .rejected(_, source, rule, _, _) = event else { return nil }
            return "\(source) \(rule)"
        }
    }

    private func waitForProgress(_ rig: Rig) async -> Bool {
        await eventually { rig.progress.take() }
    }

    // MARK: - A slow store holds the dependent frame

    func testARejectionWaitsForTheCommitOfItsFailureCount() async throws {
        let directory = try temporaryDirectory("held")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try rig(directory)
        let source = try XCTUnwrap(SourceAddress(ipText: "10.0.0.66"))
        let (mallory, connection) = try attacker(rig, "10.0.0.66", "mallory")

        rig.store.hold()
        mallory.send(garbage, on: connection)
        rig.cluster.run()
        XCTAssertTrue(rig.store.waitUntilEntered(2), "the commit never reached the store")  // start + this one

        // The count is not durable: no REJECTED, the connection stays open, nothing reported.
        XCTAssertEqual(rig.cluster.frames(for: mallory), [])
        XCTAssertTrue(rig.cluster.network.isOpen(connection))
        XCTAssertNil(try rig.store.base.load().failures[source])
        XCTAssertEqual(rig.cluster.doctor.heldEffects, 3)   // REJECTED, close, the report
        XCTAssertEqual(rig.cluster.doctor.uncommittedInputs, 1)
        XCTAssertEqual(rejections(rig.cluster), [])

        // The store catches up: the writer thread says so, the host calls storeProgressed.
        rig.store.release()
        let progressed = await waitForProgress(rig)
        XCTAssertTrue(progressed)
        rig.cluster.doctor.storeProgressed()
        rig.cluster.run()
        XCTAssertEqual(rig.cluster.frames(for: mallory), [rejected])
        XCTAssertFalse(rig.cluster.network.isOpen(connection))
        XCTAssertEqual(rejections(rig.cluster), ["10.0.0.66 R-FRAME"])
        XCTAssertEqual(try rig.store.base.load().failures[source]?.count, 1)
        XCTAssertEqual(rig.checker.checked, 1)
        XCTAssertEqual(rig.checker.violations, [])
        XCTAssertEqual(try rig.store.auditRows(kind: .authFailure, limit: 10).map(\.rule), ["R-FRAME"])
        XCTAssertEqual(rig.cluster.doctor.heldEffects, 0)
    }

    /// A later input that only reads a change still in flight waits for it too: the source is
    /// blocked by one input (commit held), and a new connection from it, refused on accept
    /// (R-BLOCK, which writes no change of its own), is not told so before the block is durable.
    func testARefusalOnAcceptWaitsForTheBlockItReveals() throws {
        let directory = try temporaryDirectory("reveal")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try rig(directory, threshold: 1)
        let source = try XCTUnwrap(SourceAddress(ipText: "10.0.0.66"))
        let (mallory, connection) = try attacker(rig, "10.0.0.66", "mallory")

        rig.store.hold()
        mallory.send(garbage, on: connection)
        rig.cluster.run()
        XCTAssertTrue(rig.store.waitUntilEntered(2))
        XCTAssertNotNil(rig.cluster.doctor.activeBlocks().first { $0.target == .source(source) })

        let (again, _) = try attacker(rig, "10.0.0.66", "mallory-again")
        XCTAssertEqual(rig.cluster.frames(for: again), [], "the block was revealed before it was durable")
        XCTAssertEqual(rig.cluster.frames(for: mallory), [])

        rig.store.release()
        rig.cluster.doctor.waitForStore()
        rig.cluster.run()
        XCTAssertEqual(rig.cluster.frames(for: mallory), [rejected])
        XCTAssertEqual(rig.cluster.frames(for: again), [rejected])
        XCTAssertNotNil(try rig.store.base.load().sourceBlocks[source])
        XCTAssertEqual(rejections(rig.cluster), ["10.0.0.66 R-FRAME", "10.0.0.66 R-BLOCK"])
    }

    /// A failed commit fails its inputs closed: the dependent REJECTED is never sent, the
    /// connection is still closed, the event is still reported, `storeFailed` is set; an honest
    /// patient from another source logs in meanwhile, and later inputs commit again.
    func testAFailedCommitSendsNothingThatDependsOnIt() throws {
        let directory = try temporaryDirectory("failed")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try rig(directory)
        let source = try XCTUnwrap(SourceAddress(ipText: "10.0.0.66"))
        let (mallory, connection) = try attacker(rig, "10.0.0.66", "mallory")

        rig.store.fail(true)
        mallory.send(garbage, on: connection)
        rig.cluster.run()
        rig.cluster.doctor.waitForStore()
        rig.cluster.run()
        XCTAssertEqual(rig.cluster.frames(for: mallory), [])
        XCTAssertFalse(rig.cluster.network.isOpen(connection))
        XCTAssertTrue(rig.cluster.doctor.storeFailed)
        XCTAssertNil(try rig.store.base.load().failures[source])
        XCTAssertEqual(rejections(rig.cluster), ["10.0.0.66 R-FRAME"])
        XCTAssertEqual(rig.cluster.doctor.commitStatistics.failedCommits, 1)

        // Nothing alice is sent depends on a change: she gets in while commits still fail.
        try rig.cluster.connect("alice")
        XCTAssertEqual(rig.cluster.doctor.machine.activePatients.map(\.value), ["alice"])
        XCTAssertTrue(rig.cluster.patientEvents["alice", default: []].contains {
            if case .authenticated = $0 { return true }
            return false
        })

        // The store works again: the next attempt is counted, durable, and answered.
        rig.store.fail(false)
        let (again, second) = try attacker(rig, "10.0.0.66", "mallory-again")
        again.send(garbage, on: second)
        rig.cluster.run()
        rig.cluster.doctor.waitForStore()
        rig.cluster.run()
        XCTAssertEqual(rig.cluster.frames(for: again), [rejected])
        XCTAssertEqual(try rig.store.base.load().failures[source]?.count, 1)
        XCTAssertEqual(rig.checker.violations, [])
    }

    // MARK: - Frames that depend on nothing do not wait

    /// While a flood's commit hangs, an honest patient from another source completes her
    /// login (her frames depend on no change); the doctor's reports wait for their audit rows
    /// and come out in order once the store catches up.
    func testAnHonestLoginIsNotHeldBehindAFloodsCommit() throws {
        let directory = try temporaryDirectory("honest")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try rig(directory)
        let (mallory, connection) = try attacker(rig, "10.0.0.66", "mallory")

        rig.store.hold()
        mallory.send(garbage, on: connection)
        rig.cluster.run()
        XCTAssertTrue(rig.store.waitUntilEntered(2))

        try rig.cluster.connect("alice")
        XCTAssertEqual(rig.cluster.doctor.machine.activePatients.map(\.value), ["alice"])
        XCTAssertTrue(rig.cluster.patientEvents["alice", default: []].contains {
            if case .authenticated = $0 { return true }
            return false
        }, "alice's login waited for the attacker's commit")
        XCTAssertEqual(rig.cluster.frames(for: mallory), [], "the attacker's REJECTED went out before its count was durable")
        XCTAssertEqual(rig.cluster.events, [], "an event was reported before its audit row was committed")

        rig.store.release()
        rig.cluster.doctor.waitForStore()
        rig.cluster.run()
        XCTAssertEqual(rig.cluster.frames(for: mallory), [rejected])
        let reported = rig.cluster.events.map { event -> String in
            switch event {
            case .rejected: return "rejected"
            case .patientAuthenticated: return "authenticated"
            case .epochStarted: return "epoch"
            default: return "other"
            }
        }
        XCTAssertEqual(reported, ["rejected", "authenticated", "epoch"])
        let audited = try rig.store.auditRows(kind: nil, limit: 100).map(\.kind)
        XCTAssertEqual(audited, [.enroll, .start, .authFailure, .authSuccess, .join, .epoch])
    }

    // MARK: - Group commit

    /// Inputs arriving while a commit is in flight are committed together in the next one:
    /// eight counted failures from eight sources, two commits (one fsync each).
    func testInputsArrivingDuringACommitShareTheNextOne() throws {
        let directory = try temporaryDirectory("group")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try rig(directory)
        var attackers: [(InMemoryEndpoint, TelemedTransport.ConnectionID)] = []
        for index in 0..<8 {
            attackers.append(try attacker(rig, "10.0.2.\(index + 1)", "mallory-\(index)"))
        }
        let before = rig.cluster.doctor.commitStatistics

        rig.store.hold()
        attackers[0].0.send(garbage, on: attackers[0].1)
        rig.cluster.run()
        XCTAssertTrue(rig.store.waitUntilEntered(2))
        for (endpoint, connection) in attackers.dropFirst() { endpoint.send(garbage, on: connection) }
        rig.cluster.run()
        XCTAssertEqual(rig.cluster.doctor.uncommittedInputs, 8)
        for (endpoint, _) in attackers { XCTAssertEqual(rig.cluster.frames(for: endpoint), []) }

        rig.store.release()
        rig.cluster.doctor.waitForStore()
        rig.cluster.run()
        let after = rig.cluster.doctor.commitStatistics
        XCTAssertEqual(after.batches - before.batches, 8)
        XCTAssertEqual(after.commits - before.commits, 2)
        XCTAssertEqual(after.durableCommits - before.durableCommits, 2)
        XCTAssertEqual(after.largestGroup, 7)
        XCTAssertEqual(Array(rig.store.groups.suffix(2)), [1, 7])
        for (endpoint, _) in attackers { XCTAssertEqual(rig.cluster.frames(for: endpoint), [rejected]) }
        XCTAssertEqual(rig.checker.checked, 8)
        XCTAssertEqual(rig.checker.violations, [])
        XCTAssertEqual(try rig.store.base.load().failures.count, 8)
    }

    // MARK: - Registry commands

    /// An enrollment while an earlier input's commit is in flight waits for it: the audit log
    /// keeps the attacker's failure before the enrollment, and the held REJECTED goes out.
    /// Production entry points: `DoctorNode.enroll(_:publicKey:replace:)` (its wait for the
    /// pipeline) and `SecurityStore.enroll`.
    func testAnEnrollmentWaitsForEarlierInputsSoTheAuditLogStaysInOrder() throws {
        let directory = try temporaryDirectory("enroll")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try rig(directory)
        let (mallory, connection) = try attacker(rig, "10.0.0.66", "mallory")
        rig.store.hold()
        mallory.send(garbage, on: connection)
        rig.cluster.run()
        XCTAssertTrue(rig.store.waitUntilEntered(2))
        let store = rig.store
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { store.release() }
        try rig.cluster.doctor.enroll(TestKeys.id("carol"), publicKey: TestKeys.key("carol").publicKey)
        rig.cluster.run()
        let kinds = try rig.store.auditRows(kind: nil, limit: 100).map(\.kind).filter { $0 == .authFailure || $0 == .enroll }
        XCTAssertEqual(kinds, [.enroll, .authFailure, .enroll], "alice's import, the failure, then carol")
        XCTAssertEqual(rig.cluster.frames(for: mallory), [rejected])
        XCTAssertEqual(rig.cluster.doctor.machine.enrolledPatients.map(\.value), ["alice", "carol"])
    }

    // MARK: - A crash between commit and send

    /// Seeded schedules of counted failures from four sources, with the store held, released
    /// and caught up at random; the run ends in a "crash" right after commits completed and
    /// before the node sent what waited for them. Every REJECTED a peer ever received has its
    /// failure in the file (checked at each send and again after the crash, on a new store),
    /// and the frames lost in the crash are frames nobody received.
    func testACrashBetweenCommitAndSendLosesNothingThatWasSent() throws {
        let seed = try ReplaySeed.current() ?? 0x5EED_0014
        var lostInCrash = 0
        for round in 0..<4 {
            let directory = try temporaryDirectory("crash-\(round)")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var rng = SplitMix64(seed: seed &+ UInt64(round))
            let hosts = ["10.0.3.1", "10.0.3.2", "10.0.4.1", "10.0.4.2"]
            var received: [String: Int] = [:]
            var sent = 0
            do {
                let rig = try rig(directory, threshold: 100)
                var endpoints: [(host: String, endpoint: InMemoryEndpoint)] = []
                func collect() {
                    for (host, endpoint) in endpoints {
                        received[host, default: 0] += rig.cluster.frames(for: endpoint).filter { $0 == rejected }.count
                    }
                }
                for step in 0..<40 {
                    switch rng.next() % 8 {
                    case 0:
                        rig.store.hold()
                    case 1:
                        rig.store.release()
                    case 2:
                        rig.cluster.doctor.storeProgressed()
                    default:
                        let host = hosts[Int(rng.next() % UInt64(hosts.count))]
                        let (endpoint, connection) = try attacker(rig, host, "m-\(round)-\(step)")
                        endpoints.append((host, endpoint))
                        endpoint.send(garbage, on: connection)
                        sent += 1
                    }
                    rig.cluster.run()
                    collect()
                }
                // The crash: the last attempts are committed, and the doctor dies before it
                // sends what waited for them.
                rig.store.hold()
                for index in 0..<2 {
                    let (endpoint, connection) = try attacker(rig, hosts[index], "last-\(round)-\(index)")
                    endpoints.append((hosts[index], endpoint))
                    endpoint.send(garbage, on: connection)
                    sent += 1
                }
                rig.cluster.run()
                let committed = rig.cluster.doctor.uncommittedInputs
                rig.store.release()
                let deadline = Date().addingTimeInterval(5)
                while rig.cluster.doctor.uncommittedInputs > 0 && Date() < deadline { usleep(2_000) }
                XCTAssertGreaterThan(committed, 0)
                XCTAssertEqual(rig.cluster.doctor.uncommittedInputs, 0)
                rig.cluster.run()
                collect()
                lostInCrash += rig.cluster.doctor.heldEffects
                XCTAssertEqual(rig.checker.violations, [], "round \(round)")
            }
            // After the crash, on a fresh store over the same file.
            let restarted = try SecurityStore(path: directory + "/doctor.sqlite")
            let durable = try restarted.load().failures
            var durableTotal = 0
            for host in hosts {
                let count = durable[try XCTUnwrap(SourceAddress(ipText: host))]?.count ?? 0
                durableTotal += count
                XCTAssertLessThanOrEqual(received[host] ?? 0, count, "round \(round): \(host) got a REJECTED whose failure was lost")
            }
            XCTAssertEqual(durableTotal, sent, "round \(round): every attempt is counted durably")
            XCTAssertLessThan(received.values.reduce(0, +), sent, "round \(round): the crash lost no unsent frame")
        }
        XCTAssertGreaterThan(lostInCrash, 0)
    }

    // MARK: - The sync level SQLite commits with

    /// `SecurityStore(path:)` commits security changes with `synchronous = FULL` on its writer
    /// connection (GRDB's `DatabasePool` resets it to NORMAL when it enables WAL, after
    /// `prepareDatabase`), and a relaxed commit of audit rows puts FULL back once it is done, so
    /// the next block and every registry write are fsynced. Production entry points:
    /// `DoctorDatabase.open`, `SecurityStore.commit(_:durability:)`.
    func testSecurityChangesCommitWithFullSyncAndAuditRowsAloneDoNotChangeIt() throws {
        let directory = try temporaryDirectory("sync")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SecurityStore(path: directory + "/doctor.sqlite")
        XCTAssertEqual(try store.writerSynchronousLevel(), 2, "a fresh store does not fsync its commits")
        let source = try XCTUnwrap(SourceAddress(ipText: "10.0.0.66"))
        try store.commit([StoreBatch(wall: 1_000, audit: [AuditRow(wall: 1_000, kind: .refused, detail: "cap")])],
                         durability: .relaxed)
        XCTAssertEqual(try store.writerSynchronousLevel(), 2)
        try store.commit([StoreBatch(wall: 1_001, changes: [.failureCounted(source, at: 1_001)])], durability: .durable)
        XCTAssertEqual(try store.writerSynchronousLevel(), 2)
        XCTAssertEqual(try store.load().failures[source], [1_001])
        XCTAssertEqual(try store.auditRows(kind: .refused, limit: 10).map(\.detail), ["cap"])
        let reopened = try SecurityStore(path: directory + "/doctor.sqlite")
        XCTAssertEqual(try reopened.writerSynchronousLevel(), 2)
    }

    // MARK: - Over TCP

    /// `DoctorService` over TCP with a slow store: the raw attacker's REJECTED waits for the
    /// commit of its count (the service's counters show it held), then arrives.
    func testTheServiceHoldsARejectionUntilTheStoreCatchesUp() async throws {
        let store = GatedStore(try SecurityStore.inMemory())
        let cluster = try await TCPCluster(enrolling: ["alice"], store: store)
        defer { Task { await cluster.shutdown() } }
        store.hold()
        let socket = try RawSocket(port: cluster.port, from: "127.0.0.2")
        try socket.write(Framing.frame(garbage))
        XCTAssertTrue(store.waitUntilEntered(2))
        let held = await eventually { await cluster.doctor.counters().heldEffects == 3 }
        XCTAssertTrue(held)
        let counters = await cluster.doctor.counters()
        XCTAssertEqual(counters.uncommittedInputs, 1)
        XCTAssertNil(try store.base.load().failures[try XCTUnwrap(SourceAddress(ipText: "127.0.0.2"))])

        store.release()
        XCTAssertEqual(try socket.readUntilEndOfStream(), Framing.frame(rejected))
        XCTAssertEqual(try store.base.load().failures[try XCTUnwrap(SourceAddress(ipText: "127.0.0.2"))]?.count, 1)
        let statistics = await cluster.doctor.commitStatistics()
        XCTAssertGreaterThanOrEqual(statistics.durableCommits, 1)
        let drained = await eventually { await cluster.doctor.counters().heldEffects == 0 }
        XCTAssertTrue(drained)
    }

    /// Back-pressure: with the store stalled, `DoctorService` stops taking transport events
    /// once its limit of uncommitted inputs is reached (so the transport stops reading), and
    /// takes the rest once the store catches up. Production entry point: the service's event
    /// pump (`handle` waiting on `storeProgressed`).
    func testTheServiceStopsReadingWhileTooManyInputsWaitForTheStore() async throws {
        let store = GatedStore(try SecurityStore.inMemory())
        let cluster = try await TCPCluster(enrolling: ["alice"], store: store)
        defer { Task { await cluster.shutdown() } }
        await cluster.doctor.setUncommittedLimit(2)
        store.hold()
        var sockets: [RawSocket] = []
        for index in 0..<5 {
            let socket = try RawSocket(port: cluster.port, from: "127.0.0.\(10 + index)")
            try socket.write(Framing.frame(garbage))
            sockets.append(socket)
        }
        let reachedLimit = await eventually { await cluster.doctor.counters().uncommittedInputs == 2 }
        XCTAssertTrue(reachedLimit)
        try await Task.sleep(for: .milliseconds(300))
        let stalled = await cluster.doctor.counters()
        XCTAssertEqual(stalled.uncommittedInputs, 2, "the service kept taking inputs past its limit")
        XCTAssertEqual(try store.base.load().failures.count, 0)

        store.release()
        for socket in sockets { XCTAssertEqual(try socket.readUntilEndOfStream(), Framing.frame(rejected)) }
        XCTAssertEqual(try store.base.load().failures.count, 5)
    }
}
