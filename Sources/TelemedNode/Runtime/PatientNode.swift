// Theory of operation
// ===================
// `PatientNode` runs one `PatientMachine` over one connection to the doctor. Like the doctor
// node it is synchronous and single-threaded, reads the injected clock once per input, and
// applies the machine's actions in order (send, close, timers, events). It adopts the first
// connection that opens (or the one it was given) and ignores events of any other
// connection. A new connection needs a new node: the machine ends with its connection.
//
// Broadcast texts reach the observer (the console prints them) but never the logger (R-NOLEAK).

import Logging
import TelemedCrypto
import TelemedProtocol
import TelemedTransport

/// One patient's runtime for one connection. Not thread-safe: one caller at a time.
public final class PatientNode {
    /// The machine (read-only introspection: epoch, active, end).
    public private(set) var machine: PatientMachine
    /// The connection this node speaks on (nil until one opens).
    public private(set) var connection: TelemedTransport.ConnectionID?
    let transport: any Transport
    let clock: any NodeClock
    let timers: any TimerScheduler
    var rng: NodeRandom
    let logger: Logger
    let observer: ((PatientEvent) -> Void)?

    /// A node for one connection. With `connection` nil it adopts the first `.opened` it sees.
    public init(configuration: PatientConfiguration, credential: PatientCredential, transport: any Transport,
                connection: TelemedTransport.ConnectionID?, clock: any NodeClock, timers: any TimerScheduler,
                rng: NodeRandom, logger: Logger, observer: ((PatientEvent) -> Void)? = nil) throws(ConfigurationError) {
        machine = try PatientMachine(configuration: configuration, identity: credential.identity,
                                     privateKey: credential.privateKey, doctorID: credential.doctorID,
                                     doctorKey: credential.doctorKey)
        self.connection = connection
        self.transport = transport
        self.clock = clock
        self.timers = timers
        self.rng = rng
        self.logger = logger
        self.observer = observer
    }

    /// How the session ended, once it has.
    public var end: PatientEnd? { machine.end }

    // MARK: - Inputs

    /// Feeds one transport event (events of other connections are ignored).
    public func handle(_ event: TransportEvent) {
        let now = clock.now()
        switch event {
        case let .opened(id, peer):
            guard connection == nil || connection == id, machine.end == nil, !opened else { return }
            connection = id
            opened = true
            logger.info("connected", metadata: ["doctor": "\(peer)", "conn": "\(id.rawValue)"])
            apply(machine.connected(now: now, using: &rng))
        case let .frame(id, body):
            guard id == connection, opened else { return }
            apply(machine.frameReceived(body, now: now, using: &rng))
        case let .closed(id, reason):
            guard id == connection else { return }
            if machine.end == nil { logger.info("connection closed", metadata: ["reason": "\(reason)"]) }
            apply(machine.connectionLost())
        case let .frameRefused(id, error):
            guard id == connection, opened else { return }
            apply(machine.frameRefused(declaredLength: error.declaredLength))
        case .frameStarted, .refused:
            return
        }
    }

    /// A timer scheduled through the ``TimerScheduler`` is due.
    public func timerFired(_ key: NodeTimerKey) {
        guard case let .patient(timer) = key else { return }
        apply(machine.timerFired(timer, now: clock.now()))
    }

    /// Leaves: a sealed DISCONNECT when a session key exists, then close.
    public func leave() {
        apply(machine.leave())
    }

    // MARK: - Applying actions

    private var opened = false

    private func apply(_ actions: [PatientAction]) {
        for action in actions {
            switch action {
            case let .send(body):
                if let connection { transport.send(body, on: connection) }
            case .close:
                if let connection { transport.close(connection) }
            case let .scheduleTimer(timer, afterMillis):
                timers.schedule(.patient(timer), afterMillis: afterMillis)
            case let .cancelTimer(timer):
                timers.cancel(.patient(timer))
            case let .event(event):
                log(event)
                observer?(event)
            }
        }
    }

    private func log(_ event: PatientEvent) {
        switch event {
        case let .authenticated(epoch, members):
            logger.info("authenticated", metadata: ["epoch": "\(epoch)", "members": "\(members)"])
        case let .groupKeyChanged(epoch, members):
            logger.info("new group key", metadata: ["epoch": "\(epoch)", "members": "\(members)"])
        case let .broadcastReceived(epoch, seq, ts, _):
            logger.info("broadcast received", metadata: ["epoch": "\(epoch)", "seq": "\(seq)", "ts": "\(ConsoleText.time(ts))"])
        case let .dropped(rule, reason):
            logger.notice("dropped a doctor frame", metadata: ["rule": "\(rule)", "reason": "\(reason)"])
        case let .ended(end):
            logger.info("session ended", metadata: ["end": "\(end)"])
        }
    }
}
