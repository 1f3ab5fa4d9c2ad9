import Logging
import TelemedProtocol
import TelemedTransport

// MARK: - Outcome and events

/// How a patient's run ended.
public enum PatientOutcome: Sendable, Equatable {
    /// The user left (DISCONNECT sent when a session existed).
    case left
    /// The doctor ended the session with this reason ("shutdown", "kicked", "replaced").
    case disconnectedByDoctor(String)
    /// The doctor answered REJECTED (not retried: the same request would be refused again).
    case rejected
    /// A doctor frame failed a check that closes the session (not retried).
    case protocolViolation(RuleID, String)
    /// The connection dropped (or could not be made) and reconnecting is off or gave up.
    case connectionLost(String)
}

/// What the patient service reports to its console.
public enum PatientServiceEvent: Sendable, Equatable {
    /// Connecting (attempt 1, 2, …).
    case connecting(host: String, port: Int, attempt: Int)
    /// An event of the current session's machine.
    case session(PatientEvent)
    /// The connection dropped; the next attempt starts after this many milliseconds.
    case retrying(afterMillis: UInt64, reason: String)
}

/// When to reconnect after a dropped connection.
public struct ReconnectPolicy: Sendable, Equatable {
    /// Whether to reconnect at all.
    public var enabled: Bool
    /// The first delay; it doubles after each failed attempt.
    public var initialDelayMillis: UInt64
    /// The largest delay.
    public var maximumDelayMillis: UInt64

    /// A policy (defaults: on, 500 ms doubling up to 30 s).
    public init(enabled: Bool = true, initialDelayMillis: UInt64 = 500, maximumDelayMillis: UInt64 = 30_000) {
        self.enabled = enabled
        self.initialDelayMillis = initialDelayMillis
        self.maximumDelayMillis = maximumDelayMillis
    }

    /// Never reconnect.
    public static let never = ReconnectPolicy(enabled: false)
}

// MARK: - PatientService

/// One patient over a live transport: connects, runs a ``PatientNode`` per connection,
/// reconnects with exponential backoff after a dropped connection (never after REJECTED, a
/// protocol violation, or a DISCONNECT from the doctor), and leaves on request. Every input is
/// serialised by the actor.
public actor PatientService {
    private let configuration: PatientConfiguration
    private let credential: PatientCredential
    private let transport: any AsyncTransport
    private let connect: @Sendable () async throws -> TelemedTransport.ConnectionID
    private let policy: ReconnectPolicy
    private let clock: any NodeClock
    private let logger: Logger
    private let observer: @Sendable (PatientServiceEvent) -> Void

    private var node: PatientNode?
    private var timers: TaskTimerScheduler?
    private var pump: Task<Void, Never>?
    private var sawRejected = false
    private var ended: CheckedContinuation<Void, Never>?
    private var leaving = false
    private var backoff: Task<Void, Never>?

    /// A service; `connect` opens one connection on `transport` (e.g. `TCPClientTransport.connect`).
    public init(configuration: PatientConfiguration = PatientConfiguration(), credential: PatientCredential,
                transport: any AsyncTransport,
                connect: @escaping @Sendable () async throws -> TelemedTransport.ConnectionID,
                reconnect: ReconnectPolicy = ReconnectPolicy(), clock: any NodeClock = SystemClock(),
                logger: Logger, observer: @escaping @Sendable (PatientServiceEvent) -> Void) {
        self.configuration = configuration
        self.credential = credential
        self.transport = transport
        self.connect = connect
        self.policy = reconnect
        self.clock = clock
        self.logger = logger
        self.observer = observer
    }

    // MARK: - Running

    /// Connects and keeps the session going until it ends for good; returns why.
    public func run() async -> PatientOutcome {
        startPump()
        var attempt = 0
        var delay = policy.initialDelayMillis
        while true {
            if leaving { return .left }
            attempt += 1
            let outcome = await session(attempt: attempt)
            if leaving { return .left }
            switch outcome {
            case let .finished(result):
                return result
            case let .dropped(reason, wasActive):
                guard policy.enabled else { return .connectionLost(reason) }
                if wasActive { delay = policy.initialDelayMillis }
                observer(.retrying(afterMillis: delay, reason: reason))
                let millis = Int64(clamping: delay)
                let pause = Task { @Sendable in _ = try? await Task.sleep(for: .milliseconds(millis)) }
                backoff = pause
                await pause.value
                backoff = nil
                delay = min(policy.maximumDelayMillis, delay * 2)
            }
        }
    }

    /// Leaves: a sealed DISCONNECT if a session exists, then close; ``run()`` returns `.left`.
    public func leave() {
        leaving = true
        backoff?.cancel()
        if let node, node.end == nil {
            node.leave()
            checkEnded()
        } else {
            ended?.resume()
            ended = nil
        }
    }

    private enum SessionResult {
        case finished(PatientOutcome)
        case dropped(String, wasActive: Bool)
    }

    private func session(attempt: Int) async -> SessionResult {
        let timers = TaskTimerScheduler { [weak self] key, token in await self?.wake(key, token: token) }
        let node: PatientNode
        do {
            node = try PatientNode(configuration: configuration, credential: credential, transport: transport,
                                   connection: nil, clock: clock, timers: timers, rng: .system, logger: logger,
                                   observer: { [observer] event in observer(.session(event)) })
        } catch {
            return .finished(.protocolViolation(.state, "invalid patient configuration: \(error)"))
        }
        self.node = node
        self.timers = timers
        sawRejected = false
        observer(.connecting(host: credential.host, port: credential.port, attempt: attempt))
        do {
            _ = try await connect()
        } catch {
            self.node = nil
            return .dropped("\(error)", wasActive: false)
        }
        if leaving, node.end == nil { node.leave() }
        if node.end == nil {
            await withCheckedContinuation { continuation in ended = continuation }
        }
        timers.cancelAll()
        self.node = nil
        let wasActive = everActive
        everActive = false
        switch node.end {
        case .left?, nil:
            return .finished(.left)
        case let .disconnectedByDoctor(reason)?:
            return .finished(.disconnectedByDoctor(reason))
        case let .protocolViolation(rule, reason)?:
            return .finished(.protocolViolation(rule, reason))
        case .connectionLost?:
            if sawRejected { return .finished(.rejected) }
            return .dropped("connection lost", wasActive: wasActive)
        case .handshakeTimedOut?:
            return .dropped("no group key within the handshake timeout", wasActive: false)
        }
    }

    private var everActive = false

    // MARK: - Inputs

    private func startPump() {
        guard pump == nil else { return }
        let events = transport.events
        pump = Task { [weak self] in
            for await event in events {
                guard let self else { return }
                await self.handle(event)
            }
        }
    }

    private func handle(_ event: TransportEvent) {
        guard let node else { return }
        if case let .frame(id, body) = event, id == node.connection, body.count < 64,
           RejectedFrame.matches(body, group: credential.group) {
            sawRejected = true
        }
        node.handle(event)
        if node.machine.isActive { everActive = true }
        checkEnded()
    }

    private func wake(_ key: NodeTimerKey, token: UInt64) {
        guard let timers, timers.claim(key, token: token) else { return }
        node?.timerFired(key)
        checkEnded()
    }

    private func checkEnded() {
        guard let node, node.end != nil, let continuation = ended else { return }
        ended = nil
        continuation.resume()
    }
}
