import Logging
import TelemedProtocol
import TelemedTransport

// MARK: - Outcome and events

/// How a patient's run ended: what ended its last session, or the leave that ended the run.
public enum PatientOutcome: Sendable, Equatable {
    /// The user left: the leave ended the session, or came while a reconnect or a retry was
    /// pending (DISCONNECT sent when a session existed).
    case left
    /// The doctor ended the session with this reason ("shutdown", "kicked", "replaced",
    /// "revoked"; "restarting" only when reconnecting is off).
    case disconnectedByDoctor(String)
    /// The doctor answered REJECTED, and retrying is off or its budget is spent.
    case rejected
    /// A doctor frame failed a check that closes the session (not retried).
    case protocolViolation(RuleID, String)
    /// The connection dropped (or could not be made) and reconnecting is off.
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
    /// The doctor refused the login (REJECTED); retry `attempt` of `of` starts after this many
    /// milliseconds.
    case refused(retryAfterMillis: UInt64, attempt: Int, of: Int)
    /// The doctor refused `times` logins within `windowMillis`: the service gives up and
    /// ``PatientService/run()`` returns ``PatientOutcome/rejected``.
    case refusedGivingUp(times: Int, windowMillis: UInt64)
}

// MARK: - PatientService

/// One patient over a live transport: connects, runs a ``PatientNode`` per connection,
/// reconnects with exponential backoff and full jitter (``ReconnectBackoff``) after a dropped
/// connection and after the doctor's DISCONNECT `restarting`, retries a refused login a bounded
/// number of times (``RefusalRetryPolicy``), never reconnects after a protocol violation or any
/// other DISCONNECT from the doctor (`shutdown`: closed for good; `kicked`, `replaced`,
/// `revoked`, or a reason it does not know), and leaves on request. Every input is serialised
/// by the actor.
///
/// The outcome is what ended the last session, as its machine reports it
/// (`PatientMachine.end`); a leave requested after that end does not change it. Only when a
/// reconnect or a retry was due does a leave end the run as ``PatientOutcome/left``.
public actor PatientService {
    private let configuration: PatientConfiguration
    private let credential: PatientCredential
    private let transport: any AsyncTransport
    private let connect: @Sendable () async throws -> TelemedTransport.ConnectionID
    private let policy: ReconnectPolicy
    private let clock: any NodeClock
    private var jitter: NodeRandom
    private let logger: Logger
    private let observer: @Sendable (PatientServiceEvent) -> Void

    private var node: PatientNode?
    private var timers: TaskTimerScheduler?
    private var pump: Task<Void, Never>?
    private var ended: CheckedContinuation<Void, Never>?
    private var leaving = false
    private var backoff: Task<Void, Never>?
    private var everActive = false

    /// A service; `connect` opens one connection on `transport` (e.g. `TCPClientTransport.connect`).
    /// `jitter` draws the random part of reconnect and refusal delays (tests pass a seeded
    /// generator).
    public init(configuration: PatientConfiguration = PatientConfiguration(), credential: PatientCredential,
                transport: any AsyncTransport,
                connect: @escaping @Sendable () async throws -> TelemedTransport.ConnectionID,
                reconnect: ReconnectPolicy = ReconnectPolicy(), clock: any NodeClock = SystemClock(),
                jitter: NodeRandom = .system,
                logger: Logger, observer: @escaping @Sendable (PatientServiceEvent) -> Void) {
        self.configuration = configuration
        self.credential = credential
        self.transport = transport
        self.connect = connect
        self.policy = reconnect
        self.clock = clock
        self.jitter = jitter
        self.logger = logger
        self.observer = observer
    }

    // MARK: - Running

    /// Connects and keeps the session going until it ends for good; returns why.
    public func run() async -> PatientOutcome {
        startPump()
        var attempt = 0
        var backoff = ReconnectBackoff(policy: policy)
        var refusals = RefusalBudget(policy: policy.refusals)
        while true {
            if leaving { return .left }
            attempt += 1
            let pause: UInt64
            switch await session(attempt: attempt) {
            case let .finished(outcome):
                return outcome
            case .restarting:
                // The doctor said it is coming back (DISCONNECT "restarting"): reconnect like
                // after a drop of an active session, unless reconnecting is off.
                if leaving { return .left }
                guard policy.enabled else { return .disconnectedByDoctor(ShutdownKind.restarting.reason) }
                backoff.reset()
                pause = backoff.nextDelay(using: &jitter)
                observer(.retrying(afterMillis: pause, reason: "the doctor is restarting"))
            case let .dropped(reason, wasActive):
                if leaving { return .left }
                guard policy.enabled else { return .connectionLost(reason) }
                if wasActive { backoff.reset() }
                pause = backoff.nextDelay(using: &jitter)
                observer(.retrying(afterMillis: pause, reason: reason))
            case .refused:
                guard policy.enabled, policy.refusals.retries > 0 else { return .rejected }
                switch refusals.refused(atMonotonic: clock.now().monotonic, using: &jitter) {
                case let .giveUp(times, window):
                    logger.notice("refused by the doctor; giving up", metadata: ["refusals": "\(times)"])
                    observer(.refusedGivingUp(times: times, windowMillis: window))
                    return .rejected
                case let .retry(after, retry, retries):
                    if leaving { return .left }
                    logger.notice("refused by the doctor; retrying",
                                  metadata: ["afterMillis": "\(after)", "attempt": "\(retry)"])
                    observer(.refused(retryAfterMillis: after, attempt: retry, of: retries))
                    pause = after
                }
            }
            await sleep(millis: pause)
        }
    }

    /// Leaves: a sealed DISCONNECT if a session exists, then close. ``run()`` returns `.left`
    /// unless the session had already ended for another reason.
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
        case restarting
        case dropped(String, wasActive: Bool)
        case refused
    }

    private func sleep(millis: UInt64) async {
        let duration = Int64(clamping: millis)
        let pause = Task { @Sendable in _ = try? await Task.sleep(for: .milliseconds(duration)) }
        backoff = pause
        await pause.value
        backoff = nil
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
        observer(.connecting(host: credential.host, port: credential.port, attempt: attempt))
        let connection: TelemedTransport.ConnectionID
        do {
            connection = try await connect()
        } catch {
            self.node = nil
            return .dropped("\(error)", wasActive: false)
        }
        if leaving, node.end == nil { node.leave() }
        // Ended before the connection was adopted (a leave during the connect): the node will
        // never speak on it, so close it here.
        if node.end != nil, node.connection == nil { transport.close(connection) }
        if node.end == nil {
            await withCheckedContinuation { continuation in ended = continuation }
        }
        timers.cancelAll()
        self.node = nil
        let wasActive = everActive
        everActive = false
        switch node.end {
        case .left?:
            return .finished(.left)
        case nil:
            // Only a leave wakes the wait without an end; it has ended the node already, so
            // this is not reached. Treat it as the leave it was.
            return .finished(.left)
        case let .disconnectedByDoctor(reason)? where ShutdownKind(reason: reason) == .restarting:
            return .restarting
        case let .disconnectedByDoctor(reason)?:
            return .finished(.disconnectedByDoctor(reason))
        case let .protocolViolation(rule, reason)?:
            return .finished(.protocolViolation(rule, reason))
        case .connectionLost(.refusedByDoctor)?:
            return .refused
        case .connectionLost(.dropped)?:
            return .dropped("connection lost", wasActive: wasActive)
        case .handshakeTimedOut?:
            return .dropped("no group key within the handshake timeout", wasActive: false)
        }
    }

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
