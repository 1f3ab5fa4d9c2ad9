import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import Synchronization
import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTCP

// MARK: - patient

/// `patient`: one patient device. Subcommands init, pin and connect (the default: `patient <id>`).
@main
struct PatientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patient",
        abstract: "A patient's device: make its key, pin the doctor, join the doctor's conference.",
        discussion: """
            The device generates its own key pair (`patient init`); only the public key leaves it, \
            in an enrollment request the doctor registers with `doctor enroll --request`. The \
            doctor's card comes back and is pinned (`patient pin`). `patient <id>` then connects, \
            authenticates and prints every broadcast.

            Files in the state directory (mode 0700; every file 0600):
              <id>.key.json       the key pair (never copy it off the device)
              <id>.request.json   the enrollment request for the doctor (no secret)
              pinned-doctor.json  the pinned doctor card

            Setting up a device (compare fingerprints out of band, e.g. read aloud):
              patient init carol --state-dir dev       # prints carol's fingerprint
              (give dev/carol.request.json to the doctor, who runs
               doctor enroll --request carol.request.json)
              patient pin doctor-card.json --state-dir dev
              patient carol --state-dir dev            # connect

            Loopback demo (the doctor's `serve --demo-enroll alice,bob` made the
            keys in the shared ./.telemed): patient alice

            Text from the doctor is printed with control characters escaped (ESC as \\u{1B}, a \
            backslash doubled), so it cannot drive this terminal; times are UTC, ISO 8601.

            \(exitStatusHelp)
            """,
        version: TelemedRelease.version,
        subcommands: [Connect.self, Init.self, Pin.self],
        defaultSubcommand: Connect.self)
}

/// The exit statuses of every patient subcommand, for the end of each `--help`.
let exitStatusHelp = """
    Exit status: 0 done (connect: left, or the doctor closed for good, or restarted with \
    --no-reconnect); 1 failed (a message says what \
    and what to try: a missing or malformed file, a key that exists; connect: the connection was \
    lost or could not be made, with --no-reconnect); 2 connect: refused by the doctor (REJECTED, \
    retries spent) or a protocol violation by the doctor; 3 connect: disconnected by the doctor \
    (kicked, key replaced, revoked); 64 a usage error (an unknown option or an invalid value; the \
    subcommand's usage follows).
    """

/// Log level option shared by the subcommands.
struct LogOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Log level on standard error (trace … critical).", valueName: "level"))
    var logLevel: String = "error"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown log level \"\(logLevel.prefix(40))\" (trace, debug, info, notice, warning, error, critical)")
        }
    }

    @Option(name: .long, help: ArgumentHelp(
        "Log line format on standard error: text, or json (one object per line: ts, level, label, message, source, metadata).",
        valueName: "format"))
    var logFormat: String = "text"

    func bootstrap() throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level \"\(logLevel)\"") }
        guard let format = LogFormat(rawValue: logFormat) else {
            throw ValidationError("unknown log format \"\(logFormat.prefix(40))\" (text or json)")
        }
        LoggingSystem.bootstrap(format.handlerFactory(level: level))
    }
}

/// Parses a patient id given on the command line.
func parsePatientID(_ text: String) throws -> PeerID {
    do {
        return try PeerID(text)
    } catch {
        throw ValidationError("\"\(text.prefix(80))\" is not a valid patient id (1 to 64 characters of A-Z a-z 0-9 . _ -)")
    }
}

// MARK: - connect

/// `patient <id>` (`patient connect <id>`): joins the conference.
struct Connect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join the doctor's conference as an enrolled patient and print its broadcasts (the default).",
        discussion: """
            Reads the device key <state-dir>/<id>.key.json (made by `patient init`, or by the \
            doctor's `serve --demo-enroll` in the loopback demo) and the pinned doctor card \
            <state-dir>/pinned-doctor.json (stored by `patient pin`), connects to the doctor it \
            names, authenticates, and prints every group-key epoch and every broadcast with its \
            time; a receipt goes back for each broadcast. A device set up before device-generated \
            keys (a credential <state-dir>/patients/<id>.json written by an older `doctor enroll`) \
            still connects, with a notice to make a new key. \
            Ctrl-C (SIGINT) or SIGTERM leaves cleanly (DISCONNECT) and exits 0, unless the session \
            had already ended for another reason (then that reason's status). A dropped connection, \
            and a doctor that says it is restarting (a restart, its `quit` or `disconnect`), are \
            retried with backoff and full jitter: each wait is random between 0 and a ceiling of \
            0.5 s doubling to 30 s. The patient stops when the doctor says it closed for good \
            ("shutdown"), kicks, replaces or revokes it, or by its own user. A refused login (the doctor sent \
            REJECTED, e.g. after a doctor restart while this device's clock lags, or after the \
            doctor revoked this key) is retried \
            --refusal-retries times within 15 minutes (delays from --refusal-delay, doubling, up to \
            20 % shorter at random), then the patient gives up. --no-reconnect turns both off. A \
            refusal can be a block of this address or device after failed logins; the patient then \
            names what the doctor's operator can do (`blocks`, `unblock …`, trusted sources). \
            A protocol violation by the doctor is never retried.

            Examples:
              patient alice                 # ./.telemed/alice.key.json, pinned-doctor.json
              patient carol --state-dir dev --no-reconnect
              patient carol --port 9000     # override the pinned card's port
              patient connect init          # a patient whose id is a subcommand's name

            \(exitStatusHelp)
            """)

    @Argument(help: ArgumentHelp("The patient id (its device key and a pinned card must exist).", valueName: "id"))
    var id: String

    @Option(name: .long, help: ArgumentHelp("The device's state directory (<id>.key.json, pinned-doctor.json).",
                                            valueName: "path"))
    var stateDir: String = "./.telemed"

    @Option(name: .long, help: ArgumentHelp("Connect to this host instead of the pinned card's.", valueName: "host"))
    var host: String?

    @Option(name: .long, help: ArgumentHelp("Connect to this port instead of the pinned card's.", valueName: "port"))
    var port: Int?

    @Flag(name: .long, help: "Exit after a dropped connection or a refusal instead of reconnecting.")
    var noReconnect = false

    @Option(name: .long, help: ArgumentHelp("Retries of a refused login within 15 minutes (0: none).", valueName: "n"))
    var refusalRetries: Int = 3

    @Option(name: .long, help: ArgumentHelp("Delay before the first retry of a refused login; it doubles.",
                                            valueName: "seconds"))
    var refusalDelay: Double = 30

    @Option(name: .long, help: ArgumentHelp(
        "Speak this protocol version on this run instead of the one recorded in the device key file by "
            + "`patient init` (2, forward secrecy, unless initialised with 1). It never falls back to the other "
            + "(PROTOCOL.md §8.6).", valueName: "1|2"))
    var protocolVersion: Int?

    func validate() throws {
        _ = try parsePatientID(id)
        guard !stateDir.isEmpty else { throw ValidationError("--state-dir is empty; give a directory such as ./.telemed") }
        if let port, !(1...65_535).contains(port) { throw ValidationError("--port \(port) is outside 1...65535") }
        if let protocolVersion, ProtocolVersion(rawValue: protocolVersion) == nil {
            throw ValidationError("--protocol-version must be 1 or 2")
        }
        guard (0...100).contains(refusalRetries) else { throw ValidationError("--refusal-retries must be 0…100") }
        guard refusalDelay.isFinite, (0.001...300).contains(refusalDelay) else {
            throw ValidationError("--refusal-delay must be 0.001…300 seconds")
        }
    }

    @OptionGroup var log: LogOptions

    func run() async throws {
        try log.bootstrap()
        let patientID = try parsePatientID(id)
        let stored = try Self.loadCredential(patientID, stateDir: stateDir)
        let credential = PatientCredential(identity: stored.identity, privateKey: stored.privateKey,
                                           doctorID: stored.doctorID, doctorKey: stored.doctorKey,
                                           host: host ?? stored.host, port: port ?? stored.port,
                                           version: protocolVersion.flatMap(ProtocolVersion.init(rawValue:)) ?? stored.version)
        let client = TCPClientTransport()
        let delayMillis = UInt64((refusalDelay * 1_000).rounded())
        let reconnectPolicy = noReconnect ? ReconnectPolicy.never : ReconnectPolicy(
            refusals: RefusalRetryPolicy(retries: refusalRetries, initialDelayMillis: delayMillis,
                                         maximumDelayMillis: max(delayMillis, 300_000)))
        let name = credential.identity.value
        let target = (credential.host, credential.port)
        var configuration = PatientConfiguration()
        configuration.version = credential.version
        let service = PatientService(
            configuration: configuration, credential: credential, transport: client,
            connect: {
                do throws(TCPTransportError) {
                    return try await client.connect(host: target.0, port: target.1)
                } catch {
                    throw ConnectFailure(error)
                }
            },
            reconnect: reconnectPolicy,
            logger: Logger(label: "telemed.patient.\(name)"),
            observer: { event in PatientConsole.show(event, name: name, doctor: credential.doctorID.value) })
        // SIGINT and SIGTERM are graceful shutdowns of the service group: the patient leaves
        // (DISCONNECT) and the run ends.
        let running = RunningPatient(service: service, client: client)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: running, successTerminationBehavior: .gracefullyShutdownGroup,
                             serviceName: "patient")],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "telemed.patient.lifecycle")))
        try await group.run()
        let (message, status) = PatientConsole.describe(running.outcome.withLock { $0 } ?? .left)
        say("\(name): \(message)")
        Foundation.exit(status)
    }

    /// The device key and the pinned card; a legacy credential (`patients/<id>.json`, written by
    /// the doctor before device-generated keys) when the device has no key of its own.
    static func loadCredential(_ id: PeerID, stateDir: String) throws -> PatientCredential {
        let device = PatientDevice(directory: stateDir)
        let legacy = KeyStore(directory: stateDir)
        if !device.hasKey(id), FileManager.default.fileExists(atPath: legacy.credentialPath(id)) {
            FileHandle.standardError.write(Data(("""
                \(id): using the legacy credential \(legacy.credentialPath(id)), whose private key was made on \
                the doctor's machine; make this device its own key with `patient init` and have it enrolled.

                """).utf8))
            return try legacy.loadCredential(id)
        }
        return try device.credential(id)
    }
}

// MARK: - The running patient as a service

/// The patient's run under the service group: ends when the session ends for good, or leaves
/// (DISCONNECT) on a graceful shutdown (SIGINT, SIGTERM). The outcome is kept for the exit status.
final class RunningPatient: Service, Sendable {
    let service: PatientService
    let client: TCPClientTransport
    let outcome = Mutex<PatientOutcome?>(nil)

    init(service: PatientService, client: TCPClientTransport) {
        self.service = service
        self.client = client
    }

    func run() async throws {
        let service = self.service
        let result = await withGracefulShutdownHandler {
            await service.run()
        } onGracefulShutdown: {
            Task { await service.leave() }
        }
        await client.shutdown()
        outcome.withLock { $0 = result }
    }
}

// MARK: - init

/// `patient init <id>`: the device makes its own key pair and an enrollment request.
struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate this device's key pair and an enrollment request for the doctor.",
        discussion: """
            Writes <state-dir>/<id>.key.json (the key pair; mode 0600 in a 0700 directory; it never \
            leaves this device) and <state-dir>/<id>.request.json (id, group, public key and its \
            fingerprint; no secret), and prints the fingerprint: 16 groups of 4 hexadecimal digits. \
            Hand the request file to the doctor (e-mail, USB stick: it is not secret), then read the \
            fingerprint to the doctor over another channel (phone, in person); the doctor's \
            `enroll` prints the fingerprint of the key it received, and the two must be identical. \
            Refuses to replace an existing device key.

            Examples:
              patient init carol --state-dir dev
              patient init dave --group telemed-3072-256   # the doctor's group

            \(exitStatusHelp)
            """)

    @Argument(help: ArgumentHelp("The patient id (1–64 of A-Z a-z 0-9 . _ -), as the doctor will know it.",
                                 valueName: "id"))
    var id: String

    @Option(name: .long, help: ArgumentHelp("The doctor's group: telemed-2048-256 or telemed-3072-256.",
                                            valueName: "name"))
    var group: String = "telemed-2048-256"

    @Option(name: .long, help: ArgumentHelp("The device's state directory.", valueName: "path"))
    var stateDir: String = "./.telemed"

    @Option(name: .long, help: ArgumentHelp(
        "The one protocol version this device will speak, recorded in its key file: 2 (forward secrecy, the "
            + "default) or 1 (only for a doctor still at minimum version 1).", valueName: "1|2"))
    var protocolVersion: Int = 2

    func validate() throws {
        _ = try parsePatientID(id)
        _ = try resolvedGroup()
        guard ProtocolVersion(rawValue: protocolVersion) != nil else { throw ValidationError("--protocol-version must be 1 or 2") }
        guard !stateDir.isEmpty else { throw ValidationError("--state-dir is empty; give a directory such as ./.telemed") }
    }

    func resolvedGroup() throws -> TelemedGroup {
        do {
            return try TelemedGroup.named(group)
        } catch {
            throw ValidationError("unknown group \"\(group.prefix(64))\" (telemed-2048-256 or telemed-3072-256)")
        }
    }

    func run() throws {
        let patientID = try parsePatientID(id)
        let telemedGroup = try resolvedGroup()
        let device = PatientDevice(directory: stateDir)
        var rng = SystemRandom()
        let version = ProtocolVersion(rawValue: protocolVersion) ?? .v2
        let request = try device.create(patientID, group: telemedGroup, version: version, using: &rng)
        say("created \(patientID)'s key pair in \(device.keyPath(patientID)) (keep it on this device)")
        say("enrollment request: \(device.requestPath(patientID)) (give it to the doctor)")
        say("protocol version \(version.rawValue) (recorded in the key file; `patient \(patientID) --protocol-version` overrides it per run)")
        say("group \(request.group.name); fingerprint (read it to the doctor, who must see the same):")
        say("  \(request.fingerprint)")
    }
}

// MARK: - pin

/// `patient pin <card>`: stores the doctor's card on the device.
struct Pin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the doctor's card and pin it on this device.",
        discussion: """
            Checks the card (written by the doctor's `enroll`): its format, the group (the group of \
            every device key in the state directory), the doctor's id, that the public key is a \
            valid group element and that the fingerprint in the card is the key's. Prints the \
            doctor's fingerprint, which the doctor reads to you out of band (`doctor enroll`, \
            `doctor card` and the start of `doctor serve` print it), and stores the card as <state-dir>/pinned-doctor.json. Pinning the \
            same doctor again updates its address; another doctor needs --replace.

            Examples:
              patient pin doctor-card.json --state-dir dev
              patient pin new-clinic-card.json --replace

            \(exitStatusHelp)
            """)

    @Argument(help: ArgumentHelp("The doctor's card (doctor-card.json).", valueName: "file"))
    var file: String

    @Option(name: .long, help: ArgumentHelp("The device's state directory.", valueName: "path"))
    var stateDir: String = "./.telemed"

    @Flag(name: .long, help: "Replace a pinned card of another doctor.")
    var replace = false

    func validate() throws {
        guard !stateDir.isEmpty else { throw ValidationError("--state-dir is empty; give a directory such as ./.telemed") }
    }

    func run() throws {
        let card = try DoctorCard.read(from: file)
        let device = PatientDevice(directory: stateDir)
        let outcome = try device.pin(card, replace: replace)
        say("doctor \"\(card.identity)\" at \(card.host):\(card.port), group \(card.group.name)")
        say("doctor's fingerprint (the doctor reads it to you; it must be the same):")
        say("  \(card.fingerprint)")
        switch outcome {
        case .pinned: say("pinned in \(device.pinnedCardPath)")
        case .refreshed: say("already pinned; card rewritten in \(device.pinnedCardPath)")
        case let .replaced(previous): say("replaced the doctor with fingerprint \(previous); pinned in \(device.pinnedCardPath)")
        }
    }
}

// MARK: - Connection failures

/// A failed connect in one line with what to try: `cannot connect to 127.0.0.1:8000: connection
/// refused (ECONNREFUSED); is the doctor running?`.
struct ConnectFailure: Error, CustomStringConvertible {
    let description: String

    init(_ error: TCPTransportError) {
        let hint: String
        switch error.errno {
        case ECONNREFUSED?: hint = "is the doctor running? (the pinned card names its address; --host and --port override it)"
        case ETIMEDOUT?, EHOSTUNREACH?, ENETUNREACH?: hint = "is the doctor's address right and reachable from here?"
        default: hint = "check the doctor's address (the pinned card, --host, --port)"
        }
        description = "\(error); \(hint)"
    }
}

// MARK: - Output

/// Writes one line to standard output at once, unbuffered, so a pipe sees it immediately.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

enum PatientConsole {
    static func show(_ event: PatientServiceEvent, name: String, doctor: String) {
        switch event {
        case let .connecting(host, port, attempt):
            say("\(name): connecting to \(doctor) at \(host):\(port)\(attempt > 1 ? " (attempt \(attempt))" : "")")
        case let .retrying(afterMillis, reason):
            say("\(name): \(reason); reconnecting in \(seconds(afterMillis)) s")
        case let .refused(afterMillis, attempt, retries):
            say("\(name): refused by the doctor; retrying in \(seconds(afterMillis)) s (attempt \(attempt) of \(retries))")
            if attempt == 1 { say(refusalHint) }
        case let .refusedGivingUp(times, windowMillis):
            say("\(name): refused by the doctor \(times) times in \(span(windowMillis)); giving up")
        case let .session(.authenticated(epoch, members)):
            say("\(name): authenticated; group key epoch \(epoch) (\(members) member\(members == 1 ? "" : "s"))")
        case let .session(.groupKeyChanged(epoch, members)):
            say("\(name): group key epoch \(epoch) (\(members) member\(members == 1 ? "" : "s"))")
        case let .session(.broadcastReceived(_, _, ts, text)):
            say("[\(ConsoleText.time(ts))] \(doctor): \(ConsoleText.escaped(text))")
        case let .session(.dropped(rule, reason)):
            FileHandle.standardError.write(Data("\(name): dropped a doctor frame (\(rule): \(ConsoleText.escaped(reason)))\n".utf8))
        case .session(.ended):
            return
        }
    }

    /// What a refusal can mean and what the doctor's operator can do about it.
    static let refusalHint = """
        note: a refusal can be a block: after repeated failed logins from this address (R-SRC) or a \
        failed key confirmation of this device (R-SKV) the doctor refuses it for a while. The doctor's \
        operator can list blocks with `blocks` and lift one with `unblock <ip>` or `unblock <id>@<ip>` \
        on the doctor's console, and can exempt a trusted network from source blocks with \
        `doctor serve --trusted-sources <ip or network>` (see `doctor config --help`).
        """

    static func describe(_ outcome: PatientOutcome) -> (String, Int32) {
        switch outcome {
        case .left: return ("left", 0)
        case .disconnectedByDoctor("shutdown"): return ("the doctor closed for good (shutdown)", 0)
        case .disconnectedByDoctor("restarting"): return ("the doctor is restarting (not reconnecting: --no-reconnect)", 0)
        case let .disconnectedByDoctor(reason): return ("disconnected by the doctor: \(ConsoleText.escaped(reason))", 3)
        case .rejected: return ("refused by the doctor (REJECTED)\n" + refusalHint, 2)
        case let .protocolViolation(rule, reason): return ("closed: the doctor broke \(rule): \(ConsoleText.escaped(reason))", 2)
        case let .connectionLost(reason): return ("connection lost: \(reason)", 1)
        }
    }

    /// `0.5`, `30`, `1.2`: seconds with one decimal, none when whole.
    static func seconds(_ millis: UInt64) -> String {
        millis % 1_000 == 0 ? "\(millis / 1_000)" : String(format: "%.1f", Double(millis) / 1_000)
    }

    /// `15 min`, `90 s`.
    static func span(_ millis: UInt64) -> String {
        millis % 60_000 == 0 ? "\(millis / 60_000) min" : "\(seconds(millis)) s"
    }
}
