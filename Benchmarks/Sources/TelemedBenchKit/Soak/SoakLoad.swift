// The soak's load process: N honest patients that join, stay, leave or drop, and come back,
// each through the real patient runtime (PatientService over its own TCPClientTransport, from
// 127.0.0.1), plus the attacker threads. It runs in its own process so that the doctor's RSS
// is measured alone. It stops on "stop" on standard input: no new sessions or attacks, the
// handshakes in flight finish, then it creates `<report>.quiesced`; the doctor then shuts down
// (DISCONNECT to every member), and the load process writes its report and exits.

import Foundation
import Logging
import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTCP
import TelemedTransport

/// What one honest session saw (filled from the service's observer, any thread).
final class SessionProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var _authEpoch: UInt64?
    private var _maxEpoch: UInt64 = 0
    private var _received: [[UInt64]] = []
    private var _errors: [String] = []
    private var _authenticatedAt: UInt64?
    private var _firstFrame: [UInt8]?
    private var _connection: TelemedTransport.ConnectionID?
    private var ended = false

    var authEpoch: UInt64? { locked { _authEpoch } }
    var maxEpoch: UInt64 { locked { _maxEpoch } }
    var received: [[UInt64]] { locked { _received } }
    var errors: [String] { locked { _errors } }
    var authenticatedAt: UInt64? { locked { _authenticatedAt } }
    var firstFrame: [UInt8]? { locked { _firstFrame } }
    var connection: TelemedTransport.ConnectionID? { locked { _connection } }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    func observe(_ event: PatientServiceEvent) {
        let now = monotonicNanoseconds()
        locked {
            switch event {
            case let .session(.authenticated(epoch, _)):
                _authEpoch = _authEpoch ?? epoch
                _authenticatedAt = _authenticatedAt ?? now
                _maxEpoch = max(_maxEpoch, epoch)
            case let .session(.groupKeyChanged(epoch, _)):
                _maxEpoch = max(_maxEpoch, epoch)
            case let .session(.broadcastReceived(epoch, seq, _, _)):
                _received.append([epoch, seq])
            case let .session(.dropped(rule, reason)):
                _errors.append("frame dropped by the patient: \(rule) \(reason)")
            case .session(.ended):
                ended = true
            case .connecting, .retrying, .refused, .refusedGivingUp:
                break
            }
        }
    }

    func sent(_ body: [UInt8]) { locked { if _firstFrame == nil { _firstFrame = body } } }
    func opened(_ id: TelemedTransport.ConnectionID) { locked { _connection = id } }
    func markEnded() { locked { ended = true } }
    func addError(_ text: String) { locked { _errors.append(text) } }
    var settled: Bool { locked { _authenticatedAt != nil || ended } }
    var isEnded: Bool { locked { ended } }
}

/// A client transport that shows the probe the first frame sent (the KEY_VERIFICATION).
final class CapturingTransport: AsyncTransport, @unchecked Sendable {
    let inner: TCPClientTransport
    let probe: SessionProbe

    init(inner: TCPClientTransport, probe: SessionProbe) {
        self.inner = inner
        self.probe = probe
    }

    var events: TransportEventStream { inner.events }

    func send(_ body: [UInt8], on connection: TelemedTransport.ConnectionID) {
        probe.sent(body)
        inner.send(body, on: connection)
    }

    func close(_ connection: TelemedTransport.ConnectionID) {
        inner.close(connection)
    }
}

/// The load process's shared state.
final class LoadState: @unchecked Sendable {
    private let lock = NSLock()
    private var stop = false
    private var handshakes = 0
    private var active = 0
    private var sessions: [SoakSession] = []
    private var errorCount = 0

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    var stopping: Bool { locked { stop } }
    func requestStop() { locked { stop = true } }
    func handshake(_ delta: Int) { locked { handshakes += delta } }
    var inHandshake: Int { locked { handshakes } }
    func activeSessions(_ delta: Int) { locked { active += delta } }
    func finished(_ session: SoakSession) {
        locked {
            sessions.append(session)
            errorCount += session.errors.count
        }
    }
    var summary: (active: Int, done: Int, errors: Int) { locked { (active, sessions.count, errorCount) } }
    var allSessions: [SoakSession] { locked { sessions } }
}

/// The load generator (the `--role load` half of `telemed-soak`).
public enum SoakLoad {
    /// Runs until told to stop on standard input, then writes the report to `reportPath`.
    public static func run(options: SoakOptions, port: Int, reportPath: String) async throws {
        let keys = try SoakKeys(seed: options.seed, patients: options.patients)
        let state = LoadState()
        let board = AttackBoard()
        var logger = Logger(label: "soak.load")
        logger.logLevel = .critical

        // "stop" on standard input (or its end) ends the schedule.
        let stdinReader = Thread {
            while let line = readLine() {
                if line.trimmingCharacters(in: .whitespaces) == "stop" { break }
            }
            state.requestStop()
        }
        stdinReader.start()

        var patientConfiguration = PatientConfiguration()
        patientConfiguration.handshakeTimeoutMillis = options.handshakeTimeoutMillis
        let context = PatientContext(options: options, keys: keys, port: port, configuration: patientConfiguration,
                                     logger: logger, state: state, board: board)
        var patients: [Task<Void, Never>] = []
        for index in 0..<options.patients {
            patients.append(Task.detached { await context.loop(index) })
        }
        var attackerThreads: [Thread] = []
        let finished = AttackersFinished()
        for index in 0..<options.attackers {
            let attacker = SoakAttacker(index: index, options: options, keys: keys, port: port, board: board,
                                        stopping: { state.stopping })
            let thread = Thread {
                attacker.run()
                finished.one()
            }
            thread.stackSize = 1 << 20
            attackerThreads.append(thread)
            thread.start()
        }

        // Progress until stopped.
        let start = monotonicNanoseconds()
        var lastReport = start
        while !state.stopping {
            try await Task.sleep(nanoseconds: 250_000_000)
            if monotonicNanoseconds() - lastReport >= 15_000_000_000 {
                lastReport = monotonicNanoseconds()
                let summary = state.summary
                progress("[load] \(Int(Double(lastReport - start) / 1e9)) s: \(summary.active) patients connected, "
                         + "\(summary.done) sessions done, \(summary.errors) honest errors so far")
            }
        }

        // Quiesce: handshakes in flight finish, attackers end their attempt (bounded).
        let quiesceDeadline = monotonicNanoseconds() + 60_000_000_000
        while (state.inHandshake > 0 || finished.count < options.attackers) && monotonicNanoseconds() < quiesceDeadline {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        if state.inHandshake > 0 {
            progress("[load] \(state.inHandshake) handshakes still in flight after 60 s")
        }
        _ = FileManager.default.createFile(atPath: reportPath + ".quiesced", contents: Data())

        // The doctor shuts down now; every session ends (bounded).
        let endDeadline = monotonicNanoseconds() + 90_000_000_000
        for task in patients {
            while state.summary.active > 0 && monotonicNanoseconds() < endDeadline {
                try await Task.sleep(nanoseconds: 50_000_000)
            }
            if monotonicNanoseconds() >= endDeadline { break }
            await task.value
        }
        var report = SoakLoadReport(sessions: state.allSessions, attempts: [:], outcomes: [:], anomalies: [],
                                    attackerAddresses: [], wrongSKVAttempts: 0, replays: 0)
        if state.summary.active > 0 {
            report.anomalies.append("\(state.summary.active) honest sessions had not ended 90 s after the stop")
        }
        board.fill(&report)
        let encoder = JSONEncoder()
        try encoder.encode(report).write(to: URL(fileURLWithPath: reportPath))
    }

    static func progress(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Counts attacker threads that returned.
final class AttackersFinished: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    func one() {
        lock.lock()
        done += 1
        lock.unlock()
    }
    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return done
    }
}

/// What every honest patient's loop needs.
struct PatientContext: Sendable {
    let options: SoakOptions
    let keys: SoakKeys
    let port: Int
    let configuration: PatientConfiguration
    let logger: Logger
    let state: LoadState
    let board: AttackBoard

    /// Join, stay, leave or drop, stay away, again, until the stop.
    func loop(_ index: Int) async {
        var rng = ScheduleRandom(seed: options.seed, stream: UInt64(index))
        var wait = Int.random(in: 0...max(0, options.rampMillis), using: &rng)
        while !state.stopping {
            let until = monotonicNanoseconds() + UInt64(wait) * 1_000_000
            while monotonicNanoseconds() < until && !state.stopping {
                try? await Task.sleep(nanoseconds: 250_000_000)
            }
            if state.stopping { break }
            await session(index, rng: &rng)
            wait = Int.random(in: options.offlineMillis, using: &rng)
        }
    }

    private func session(_ index: Int, rng: inout ScheduleRandom) async {
        // Draw the whole schedule first so it does not depend on timing.
        let stay = Int.random(in: options.stayMillis, using: &rng)
        let drop = Int.random(in: 0..<100, using: &rng) < options.dropPercent
        let probe = SessionProbe()
        let client = TCPClientTransport()
        let transport = CapturingTransport(inner: client, probe: probe)
        let port = self.port
        guard let identity = try? PeerID("p\(index)") else { return }
        let credential = PatientCredential(identity: identity, privateKey: keys.honest[index], doctorID: keys.doctorID,
                                           doctorKey: keys.doctorKey.publicKey, host: "127.0.0.1", port: port)
        let service = PatientService(
            configuration: configuration, credential: credential, transport: transport,
            connect: {
                let id = try await client.connect(host: "127.0.0.1", port: port)
                probe.opened(id)
                return id
            },
            reconnect: .never, logger: logger, observer: { probe.observe($0) })
        state.handshake(1)
        let started = monotonicNanoseconds()
        let run = Task<PatientOutcome, Never> {
            let outcome = await service.run()
            probe.markEnded()
            return outcome
        }
        while !probe.settled {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        state.handshake(-1)
        var ending = "shutdown"
        var handshakeMillis: Double?
        if let at = probe.authenticatedAt {
            handshakeMillis = Double(at - started) / 1e6
            if let frame = probe.firstFrame { board.capture(frame) }
            state.activeSessions(1)
            let until = monotonicNanoseconds() + UInt64(stay) * 1_000_000
            while monotonicNanoseconds() < until && !probe.isEnded {
                try? await Task.sleep(nanoseconds: 250_000_000)
            }
            if !probe.isEnded && !state.stopping {
                if drop, let connection = probe.connection {
                    ending = "dropped"
                    client.close(connection)
                } else {
                    ending = "left"
                    await service.leave()
                }
            }
        }
        let outcome = await run.value
        if probe.authenticatedAt != nil { state.activeSessions(-1) }
        await client.shutdown()
        let expected: PatientOutcome
        switch ending {
        case "left": expected = .left
        case "dropped": expected = .connectionLost("connection lost")
        default: expected = .disconnectedByDoctor("shutdown")
        }
        if probe.authenticatedAt == nil {
            probe.addError("never authenticated: \(outcome)")
        } else if outcome != expected {
            probe.addError("session ended with \(outcome), expected \(expected)")
        } else if ending == "shutdown" && !state.stopping {
            probe.addError("the doctor ended the session before the run's end")
        }
        state.finished(SoakSession(patient: index, authEpoch: probe.authEpoch, maxEpoch: probe.maxEpoch,
                                   received: probe.received, handshakeMillis: handshakeMillis,
                                   end: probe.errors.isEmpty ? ending : "error", byChoice: ending != "shutdown",
                                   errors: probe.errors))
    }
}
