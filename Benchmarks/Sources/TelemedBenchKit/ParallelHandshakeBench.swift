// Parallel handshakes (issue 14, item 2): prepared KEY_VERIFICATIONs through the doctor —
// the production `DoctorService` (its actor feeding one DoctorNode and DoctorMachine, the
// verification jobs on a `HandshakeJobPool`) — with 1 worker and with 2 workers, in one run.
//
// The patients' work (building and signing every request) is done before the clock starts,
// and the transport is a stub inside this process: events are injected into the service's
// event stream as a TCP transport would deliver them, and the doctor's sends are counted. The
// time measured is from the first injected event to the last SESSION_TOKEN sent, so it holds
// everything the doctor does for a request: the serial checks on the actor, both job phases on
// the pool, the hops between them and the encoding. Runs alternate 1 and 2 workers so both see
// the same machine noise. The figure is the ratio of the fastest runs (best of N): the machine
// is shared with other builds, and another process only ever slows a run down, so the fastest
// run of each kind is the closest to the doctor's own cost; the ratio of the medians is
// reported beside it.

import Foundation
import Logging
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport

/// What the parallel-handshake run measured.
public struct ParallelHandshakeFigures: Sendable, Codable {
    /// KEY_VERIFICATIONs per run.
    public var requests: Int
    /// Runs per worker count.
    public var runs: Int
    /// Wall seconds of each run with 1 worker.
    public var oneWorker: [Double]
    /// Wall seconds of each run with 2 workers.
    public var twoWorkers: [Double]
    /// This process's CPU seconds (user + system, from rusage) of each run with 1 worker.
    public var oneWorkerCPU: [Double]
    /// The same with 2 workers: CPU / wall near 2 means both cores worked for the doctor.
    public var twoWorkersCPU: [Double]
    /// min(1 worker) / min(2 workers): the fastest runs (see the theory of operation).
    public var ratio: Double
    /// median(1 worker) / median(2 workers).
    public var medianRatio: Double
    /// The target ratio.
    public var target: Double
    /// Cores online.
    public var cores: Int

    /// Whether the ratio meets the target.
    public var pass: Bool { ratio >= target }

    /// The figure's rows for the report (Markdown).
    public var markdown: [String] {
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let one = median(oneWorker), two = median(twoWorkers)
        let oneCPU = median(oneWorkerCPU), twoCPU = median(twoWorkersCPU)
        let fastestOne = oneWorker.min() ?? one, fastestTwo = twoWorkers.min() ?? two
        return [
            "### Parallel handshakes (DoctorService, telemed-2048-256, accelerated)",
            "",
            "\(requests) prepared KEY_VERIFICATIONs from distinct sources injected at once into one "
                + "`DoctorService` (stub transport, in-memory store), until the last SESSION_TOKEN is sent; "
                + "\(runs) runs per worker count, alternating, after a warm-up pair. \(cores) cores online, "
                + "shared with whatever else runs on the machine, which only ever slows a run: the target is "
                + "judged on the fastest run of each kind (best of \(runs)), the medians are shown beside it.",
            "",
            "| Figure | Value |",
            "|---|---|",
            "| 1 worker: fastest run, median run (handshakes/s); process CPU / wall of the median | \(String(format: "%.3f s", fastestOne)), \(String(format: "%.3f s", one)) (\(String(format: "%.0f", Double(requests) / one))); \(String(format: "%.2f", oneCPU / one)) |",
            "| 2 workers: fastest run, median run (handshakes/s); process CPU / wall of the median | \(String(format: "%.3f s", fastestTwo)), \(String(format: "%.3f s", two)) (\(String(format: "%.0f", Double(requests) / two))); \(String(format: "%.2f", twoCPU / two)) |",
            "| Ratio 1 worker / 2 workers, fastest runs (medians) | \(String(format: "%.2f", ratio)) (\(String(format: "%.2f", medianRatio))) — target ≥ \(String(format: "%.1f", target)): \(pass ? "PASS" : "FAIL") |",
            "",
        ]
    }
}

/// The parallel-handshake run (see the theory of operation above).
public enum ParallelHandshakeBench {
    /// Runs `runs` alternating rounds of `requests` handshakes with 1 and with 2 workers.
    public static func run(requests: Int, runs: Int, timeoutSeconds: Double = 120) async throws -> ParallelHandshakeFigures {
        precondition(requests >= 1 && requests <= 1_024, "at most the default pending-handshake table")
        let group = TelemedGroup.telemed2048
        var rng = SeededRandom(seed: Array("parallel-handshakes".utf8))
        let doctorKey = PrivateKey(generatingIn: group, using: &rng)
        let doctorID = try PeerID("doctor")
        // At most 32 requests per id, below the replay quota of 64 live entries per id (§7.3).
        let patientCount = (requests + 31) / 32
        var patients: [(PeerID, PrivateKey)] = []
        for index in 0..<patientCount {
            patients.append((try PeerID("patient-\(index)"), PrivateKey(generatingIn: group, using: &rng)))
        }
        let keys = DoctorKeyMaterial(group: group, identity: doctorID, privateKey: doctorKey,
                                     registry: Dictionary(uniqueKeysWithValues: patients.map { ($0.0, $0.1.publicKey) }))
        var one: [Double] = [], two: [Double] = [], oneCPU: [Double] = [], twoCPU: [Double] = []
        for round in 0..<(runs + 1) {
            for workers in [1, 2] {
                let (seconds, cpu) = try await measure(requests, patients: patients, keys: keys, workers: workers,
                                                       timeoutSeconds: timeoutSeconds, rng: &rng)
                // The first round warms up (threads, caches, the allocator) and is not kept.
                if round > 0 {
                    if workers == 1 {
                        one.append(seconds)
                        oneCPU.append(cpu)
                    } else {
                        two.append(seconds)
                        twoCPU.append(cpu)
                    }
                }
            }
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        return ParallelHandshakeFigures(requests: requests, runs: runs, oneWorker: one, twoWorkers: two,
                                        oneWorkerCPU: oneCPU, twoWorkersCPU: twoCPU,
                                        ratio: (one.min() ?? 0) / (two.min() ?? 1),
                                        medianRatio: median(one) / median(two), target: 1.6,
                                        cores: ProcessInfo.processInfo.activeProcessorCount)
    }

    static func prepare(_ count: Int, patients: [(PeerID, PrivateKey)], doctorID: PeerID, doctorKey: PublicKey,
                        rng: inout SeededRandom) throws -> [[UInt8]] {
        let now = Instant(wall: SystemClock().now().wall, monotonic: 0)
        return try (0..<count).map { index in
            let (id, key) = patients[index % patients.count]
            var patient = try PatientMachine(configuration: PatientConfiguration(), identity: id, privateKey: key,
                                             doctorID: doctorID, doctorKey: doctorKey)
            for case let .send(body) in patient.connected(now: now, using: &rng) { return body }
            throw BenchError.protocolFailure("the patient sent no KEY_VERIFICATION")
        }
    }

    static func measure(_ count: Int, patients: [(PeerID, PrivateKey)], keys: DoctorKeyMaterial, workers: Int,
                        timeoutSeconds: Double, rng: inout SeededRandom) async throws -> (wall: Double, cpu: Double) {
        let transport = StubTransport(expecting: count)
        var logger = Logger(label: "parallel-handshakes")
        logger.logLevel = .error
        let service = DoctorService(configuration: DoctorConfiguration(), keys: keys, databasePath: nil,
                                    transport: transport, logger: logger, handshakeWorkers: workers)
        try await service.start()
        // Fresh requests each run (the replay cache refuses repeated ones), stamped after the
        // doctor recorded its start time T0 (R-START), built before the clock starts.
        let requests = try prepare(count, patients: patients, doctorID: keys.identity,
                                   doctorKey: keys.privateKey.publicKey, rng: &rng)
        let begin = monotonicNanoseconds()
        let cpuBegin = processCPUSeconds()
        for (index, body) in requests.enumerated() {
            // One source per request, each in its own /24: no pending limit is approached.
            guard let ip = IPAddress(bytes: [10, UInt8(index >> 8), UInt8(index & 0xff), 1]) else {
                throw BenchError.setup("source address")
            }
            let connection = TelemedTransport.ConnectionID(rawValue: UInt64(index + 1))
            transport.inject(.opened(connection, PeerAddress(ip: ip, port: 40_000)))
            transport.inject(.frame(connection, body))
        }
        let finished = await transport.waitForAnswers(timeoutSeconds: timeoutSeconds)
        let seconds = Double(monotonicNanoseconds() - begin) / 1e9
        let cpu = processCPUSeconds() - cpuBegin
        // Read before the shutdown, which answers every pending handshake REJECTED.
        let (answered, rejected) = (transport.answered, transport.rejected)
        await service.shutdown(reason: "benchmark run over", kind: .shutdown)
        transport.finish()
        await service.waitUntilTransportEnds()
        guard finished else {
            throw BenchError.protocolFailure("\(answered) of \(requests.count) answered within \(timeoutSeconds) s")
        }
        guard rejected == 0 else {
            throw BenchError.protocolFailure("\(rejected) requests REJECTED")
        }
        return (seconds, cpu)
    }
}

/// User + system CPU seconds of this process so far (getrusage).
func processCPUSeconds() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// A transport inside the process: events are injected, SESSION_TOKENs and REJECTEDs counted.
final class StubTransport: AsyncTransport, @unchecked Sendable {
    let events: TransportEventStream
    private let continuation: AsyncStream<TransportEvent>.Continuation
    private let expected: Int
    private let lock = NSLock()
    private var tokens = 0
    private var refusals = 0
    private var waiter: CheckedContinuation<Bool, Never>?

    init(expecting expected: Int) {
        self.expected = expected
        let (stream, continuation) = AsyncStream<TransportEvent>.makeStream()
        self.events = TransportEventStream(stream) { _ in }
        self.continuation = continuation
    }

    func inject(_ event: TransportEvent) { continuation.yield(event) }
    func finish() { continuation.finish() }

    var answered: Int { lock.withLock { tokens + refusals } }
    var rejected: Int { lock.withLock { refusals } }

    func send(_ body: [UInt8], on connection: TelemedTransport.ConnectionID) {
        // `{"opcode":20,…` is a SESSION_TOKEN, `{"opcode":70}` a REJECTED.
        let opcode = body.count > 12 ? Array(body[10..<12]) : []
        lock.lock()
        if opcode == Array("20".utf8) { tokens += 1 } else if opcode == Array("70".utf8) { refusals += 1 }
        let waiter = tokens + refusals >= expected ? self.waiter : nil
        if waiter != nil { self.waiter = nil }
        lock.unlock()
        waiter?.resume(returning: true)
    }

    func close(_ connection: TelemedTransport.ConnectionID) {}

    /// Waits until every request is answered, or `timeoutSeconds`.
    func waitForAnswers(timeoutSeconds: Double) async -> Bool {
        let timeout = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(timeoutSeconds * 1e9))
            self?.resumeWaiter(false)
        }
        defer { timeout.cancel() }
        return await withCheckedContinuation { continuation in
            lock.lock()
            if tokens + refusals >= expected {
                lock.unlock()
                continuation.resume(returning: true)
                return
            }
            waiter = continuation
            lock.unlock()
        }
    }

    private func resumeWaiter(_ value: Bool) {
        lock.lock()
        let waiter = self.waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume(returning: value)
    }
}
