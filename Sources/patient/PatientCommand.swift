import ArgumentParser
import Dispatch
import Foundation
import Logging
import TelemedNode
import TelemedProtocol
import TelemedTCP

// MARK: - patient

/// `patient <id>`: one patient device.
@main
struct PatientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patient",
        abstract: "Join the doctor's conference as an enrolled patient and print its broadcasts.",
        discussion: """
            Reads the credential <state-dir>/patients/<id>.json (written by `doctor enroll` or \
            `doctor serve --enroll`), connects to the doctor it names, authenticates, and prints every \
            group-key epoch and every broadcast with its time; a receipt goes back for each broadcast. \
            Ctrl-C (SIGINT) or SIGTERM leaves cleanly (DISCONNECT) and exits 0, unless the session \
            had already ended for another reason (then that reason's status). A dropped connection \
            is retried with backoff (0.5 s doubling to 30 s). A refused login (the doctor sent \
            REJECTED, e.g. after a doctor restart while this device's clock lags) is retried \
            --refusal-retries times within 15 minutes (delays from --refusal-delay, doubling, up to \
            20 % shorter at random), then the patient gives up. --no-reconnect turns both off. \
            A protocol violation by the doctor is never retried.

            Exit status: 0 left, or the doctor shut down; 1 connection lost (with --no-reconnect); \
            2 refused by the doctor (REJECTED, retries spent) or a protocol violation by the doctor; \
            3 disconnected by the doctor (kicked, replaced).

            Examples:
              patient alice                 # reads ./.telemed/patients/alice.json
              patient bob --state-dir ./clinic --no-reconnect
              patient carol --port 9000     # override the credential's port
            """)

    @Argument(help: ArgumentHelp("The patient id (its credential must exist).", valueName: "id"))
    var id: String

    @Option(name: .long, help: ArgumentHelp("The state directory holding patients/<id>.json.", valueName: "path"))
    var stateDir: String = "./.telemed"

    @Option(name: .long, help: ArgumentHelp("Connect to this host instead of the credential's.", valueName: "host"))
    var host: String?

    @Option(name: .long, help: ArgumentHelp("Connect to this port instead of the credential's.", valueName: "port"))
    var port: Int?

    @Flag(name: .long, help: "Exit after a dropped connection or a refusal instead of reconnecting.")
    var noReconnect = false

    @Option(name: .long, help: ArgumentHelp("Retries of a refused login within 15 minutes (0: none).", valueName: "n"))
    var refusalRetries: Int = 3

    @Option(name: .long, help: ArgumentHelp("Delay before the first retry of a refused login; it doubles.",
                                            valueName: "seconds"))
    var refusalDelay: Double = 30

    func validate() throws {
        guard (0...100).contains(refusalRetries) else { throw ValidationError("--refusal-retries must be 0…100") }
        guard refusalDelay.isFinite, (0.001...300).contains(refusalDelay) else {
            throw ValidationError("--refusal-delay must be 0.001…300 seconds")
        }
    }

    @Option(name: .long, help: ArgumentHelp("Log level on standard error (trace … critical).", valueName: "level"))
    var logLevel: String = "error"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level \"\(logLevel)\"") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let patientID: PeerID
        do {
            patientID = try PeerID(id)
        } catch {
            throw ValidationError("\"\(id)\" is not a valid patient id")
        }
        let stored = try KeyStore(directory: stateDir).loadCredential(patientID)
        let credential = PatientCredential(identity: stored.identity, privateKey: stored.privateKey,
                                           doctorID: stored.doctorID, doctorKey: stored.doctorKey,
                                           host: host ?? stored.host, port: port ?? stored.port)
        let client = TCPClientTransport()
        let delayMillis = UInt64((refusalDelay * 1_000).rounded())
        let reconnectPolicy = noReconnect ? ReconnectPolicy.never : ReconnectPolicy(
            refusals: RefusalRetryPolicy(retries: refusalRetries, initialDelayMillis: delayMillis,
                                         maximumDelayMillis: max(delayMillis, 300_000)))
        let name = credential.identity.value
        let target = (credential.host, credential.port)
        let service = PatientService(
            credential: credential, transport: client,
            connect: { try await client.connect(host: target.0, port: target.1) },
            reconnect: reconnectPolicy,
            logger: Logger(label: "telemed.patient.\(name)"),
            observer: { event in PatientConsole.show(event, name: name, doctor: credential.doctorID.value) })
        let signals = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { Task { await service.leave() } }
            source.resume()
            return source
        }
        let outcome = await service.run()
        signals.forEach { $0.cancel() }
        await client.shutdown()
        let (message, status) = PatientConsole.describe(outcome)
        say("\(name): \(message)")
        Foundation.exit(status)
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
        case let .refusedGivingUp(times, windowMillis):
            say("\(name): refused by the doctor \(times) times in \(span(windowMillis)); giving up")
        case let .session(.authenticated(epoch, members)):
            say("\(name): authenticated; group key epoch \(epoch) (\(members) member\(members == 1 ? "" : "s"))")
        case let .session(.groupKeyChanged(epoch, members)):
            say("\(name): group key epoch \(epoch) (\(members) member\(members == 1 ? "" : "s"))")
        case let .session(.broadcastReceived(_, _, ts, text)):
            say("[\(time(ts))] \(doctor): \(text)")
        case let .session(.dropped(rule, reason)):
            FileHandle.standardError.write(Data("\(name): dropped a doctor frame (\(rule): \(reason))\n".utf8))
        case .session(.ended):
            return
        }
    }

    static func describe(_ outcome: PatientOutcome) -> (String, Int32) {
        switch outcome {
        case .left: return ("left", 0)
        case .disconnectedByDoctor("shutdown"): return ("the doctor shut down", 0)
        case let .disconnectedByDoctor(reason): return ("disconnected by the doctor: \(reason)", 3)
        case .rejected: return ("refused by the doctor (REJECTED)", 2)
        case let .protocolViolation(rule, reason): return ("closed: the doctor broke \(rule): \(reason)", 2)
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

    static func time(_ millis: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(millis) / 1_000))
    }
}
