import Foundation
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import XCTest

/// `HandshakeJobPool` (the production `HandshakeJobRunner` of `DoctorService`) running the jobs
/// a real `DoctorMachine` emits, on real threads, with the results applied through
/// `DoctorMachine.jobFinished` in whatever order the workers finish.
final class HandshakeJobPoolTests: XCTestCase {
    /// Collects results from the workers' threads.
    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var results: [HandshakeJobResult] = []
        private var waiting: (count: Int, semaphore: DispatchSemaphore)?

        func add(_ result: HandshakeJobResult) {
            lock.lock()
            results.append(result)
            if let waiting, results.count >= waiting.count { waiting.semaphore.signal() }
            lock.unlock()
        }

        /// Waits until `count` results arrived (bounded), then takes them all.
        func take(_ count: Int) -> [HandshakeJobResult] {
            let semaphore = DispatchSemaphore(value: 0)
            lock.lock()
            let ready = results.count >= count
            if !ready { waiting = (count, semaphore) }
            lock.unlock()
            if !ready { _ = semaphore.wait(timeout: .now() + 60) }
            lock.lock()
            defer { lock.unlock() }
            waiting = nil
            let taken = results
            results = []
            return taken
        }
    }

    /// Twelve logins through a 2-worker pool: every job runs once, each result is applied by
    /// the machine as it arrives (any order), and every request gets its SESSION_TOKEN.
    func testThePoolRunsEveryJobOnceAndTheMachineAppliesTheResultsInAnyOrder() throws {
        let names = (0..<4).map { "p\($0)" }
        let keys = TestKeys.doctor(enrolling: names)
        var configuration = DoctorConfiguration()
        configuration.epochWindowMillis = 0
        var doctor = try DoctorMachine(configuration: configuration, group: keys.group, identity: keys.identity,
                                       privateKey: keys.privateKey, registry: keys.registry)
        doctor.handshakeJobs = .byHost
        let now = Instant(wall: 1_764_000_000_000, monotonic: 0)
        var rng = SeededRandom(seed: 11)
        _ = doctor.start(now: now)
        let results = Results()
        let pool = HandshakeJobPool(workers: 2) { results.add($0) }
        defer { pool.stop() }
        XCTAssertEqual(pool.workers, 2)

        var submitted: [HandshakeJob] = []
        for index in 0..<12 {
            let name = names[index % names.count]
            var patient = try PatientMachine(configuration: PatientConfiguration(), identity: TestKeys.id(name),
                                             privateKey: TestKeys.key(name), doctorID: keys.identity,
                                             doctorKey: keys.privateKey.publicKey)
            let request = try XCTUnwrap(patient.connected(now: now, using: &rng).compactMap { action -> [UInt8]? in
                if case let .send(body) = action { return body }
                return nil
            }.first)
            let connection = ConnectionID(UInt64(index + 1))
            guard let source = SourceAddress(addressBytes: [192, 0, 2, UInt8(index + 1)]) else { return XCTFail("source") }
            _ = doctor.connectionOpened(connection, from: source, now: now)
            for case let .verify(job) in doctor.frameReceived(request, on: connection, now: now, using: &rng) {
                submitted.append(job)
                pool.submit(job)
            }
        }
        XCTAssertEqual(submitted.map(\.phase), Array(repeating: .signature, count: 12))
        var tokens = 0
        var answers: [HandshakeJob] = []
        for result in results.take(12) {
            for action in doctor.jobFinished(result, now: now, using: &rng) {
                if case let .verify(job) = action { answers.append(job) }
                if case .send = action { XCTFail("no frame before the answer phase") }
            }
        }
        XCTAssertEqual(answers.count, 12, "every signature verified; every answer phase went out")
        XCTAssertEqual(Set(answers.map(\.connection)).count, 12)
        for job in answers { pool.submit(job) }
        let finished = results.take(12)
        XCTAssertEqual(Set(finished.map(\.number)).count, 12, "each job ran once")
        for result in finished {
            tokens += doctor.jobFinished(result, now: now, using: &rng).filter {
                if case .send = $0 { return true }
                return false
            }.count
            XCTAssertEqual(doctor.jobFinished(result, now: now, using: &rng), [], "a repeated result is ignored")
        }
        XCTAssertEqual(tokens, 12)
        XCTAssertEqual(doctor.replayCacheCount, 12)
        XCTAssertEqual(pool.backlog, 0)
    }

    /// After `stop` the pool takes no more jobs and delivers nothing for them.
    func testAStoppedPoolTakesNoJobs() throws {
        let keys = TestKeys.doctor(enrolling: ["alice"])
        var doctor = try DoctorMachine(configuration: DoctorConfiguration(), group: keys.group, identity: keys.identity,
                                       privateKey: keys.privateKey, registry: keys.registry)
        doctor.handshakeJobs = .byHost
        let now = Instant(wall: 1_764_000_000_000, monotonic: 0)
        var rng = SeededRandom(seed: 12)
        _ = doctor.start(now: now)
        var patient = try PatientMachine(configuration: PatientConfiguration(), identity: TestKeys.id("alice"),
                                         privateKey: TestKeys.key("alice"), doctorID: keys.identity,
                                         doctorKey: keys.privateKey.publicKey)
        let request = try XCTUnwrap(patient.connected(now: now, using: &rng).compactMap { action -> [UInt8]? in
            if case let .send(body) = action { return body }
            return nil
        }.first)
        guard let source = SourceAddress(addressBytes: [192, 0, 2, 1]) else { return XCTFail("source") }
        _ = doctor.connectionOpened(ConnectionID(1), from: source, now: now)
        let job = try XCTUnwrap(doctor.frameReceived(request, on: ConnectionID(1), now: now, using: &rng).compactMap {
            if case let .verify(job) = $0 { return job }
            return nil
        }.first)
        let results = Results()
        let pool = HandshakeJobPool(workers: 1) { results.add($0) }
        pool.stop()
        pool.submit(job)
        XCTAssertEqual(pool.backlog, 0)
        let live = HandshakeJobPool(workers: 1) { results.add($0) }
        defer { live.stop() }
        live.submit(job)
        let delivered = results.take(1)
        XCTAssertEqual(delivered.count, 1, "only the live pool's result")
        XCTAssertEqual(delivered.first?.connection, ConnectionID(1))
    }
}
