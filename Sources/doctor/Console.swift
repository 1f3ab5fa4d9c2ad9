import Foundation
import TelemedCrypto
import TelemedNode
import TelemedProtocol

// MARK: - Output

/// Writes one line to standard output at once, unbuffered, so a pipe sees it immediately.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

// MARK: - Console

/// The operator console: lines from standard input (read on a thread of their own) and the
/// graceful-shutdown request (SIGTERM, SIGINT, delivered by the service group), handled one at
/// a time; machine events printed as they happen.
final class Console: Sendable {
    enum Input: Sendable {
        case line(ConsoleLineReader.Line)
        case endOfInput
        case shutdownRequested
    }

    /// Why the console stopped: the audit row's text and what patients are told.
    struct Stop: Sendable, Equatable {
        /// Written to the audit log's stop row and printed ("quit", "close", "signal").
        var detail: String
        /// DISCONNECT `restarting` (patients reconnect) or `shutdown` (they stop).
        var kind: ShutdownKind
    }

    private let inputs: AsyncStream<Input>
    private let continuation: AsyncStream<Input>.Continuation
    /// This doctor's card (its advertised address), written by `enroll`.
    private let card: DoctorCard
    /// Why `enroll` is refused (no usable address to write into the card), or nil.
    private let enrollmentRefusal: String?
    /// What `quit` and a signal tell patients: `restarting` unless `serve --close-for-good`.
    private let defaultStop: ShutdownKind
    /// Where `enroll` writes the card.
    static let cardPath = "doctor-card.json"

    init(card: DoctorCard, enrollmentRefusal: String? = nil, defaultStop: ShutdownKind = .restarting) {
        self.card = card
        self.enrollmentRefusal = enrollmentRefusal
        self.defaultStop = defaultStop
        (inputs, continuation) = AsyncStream.makeStream(of: Input.self)
    }

    // MARK: - Running

    /// Handles commands until `quit`, `close` or a graceful-shutdown request; returns why it
    /// stopped.
    func run(_ service: DoctorService) async -> Stop {
        let continuation = self.continuation
        // Raw bytes, split by a bounded reader: no UTF-8 repair (readLine would turn invalid
        // bytes into U+FFFD), and an over-long line is dropped as it arrives, never buffered.
        let reader = Thread {
            var lines = ConsoleLineReader()
            var buffer = [UInt8](repeating: 0, count: 4_096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                for line in lines.feed(buffer[0..<count]) { continuation.yield(.line(line)) }
            }
            if let last = lines.finish() { continuation.yield(.line(last)) }
            continuation.yield(.endOfInput)
        }
        reader.start()
        for await input in inputs {
            switch input {
            case let .line(line):
                if let stop = await execute(line, on: service) { return stop }
            case .endOfInput:
                say("(standard input closed: the doctor keeps serving until SIGINT or SIGTERM)")
            case .shutdownRequested:
                return Stop(detail: "signal", kind: defaultStop)
            }
        }
        return Stop(detail: "console closed", kind: defaultStop)
    }

    /// A graceful shutdown was requested (SIGTERM or SIGINT): ``run(_:)`` returns.
    func requestShutdown() {
        continuation.yield(.shutdownRequested)
    }

    /// Runs one console line: refused whole (with the reason) when ``ConsoleCommand/parse(_:)``
    /// refuses it, otherwise the command, whose failure is printed.
    private func execute(_ line: ConsoleLineReader.Line, on service: DoctorService) async -> Stop? {
        let parsed: ConsoleCommand?
        do throws(ConsoleInputError) {
            switch line {
            case let .tooLong(bytes):
                throw .lineTooLong(bytes: bytes, limit: ConsoleText.maximumLineBytes)
            case let .line(bytes):
                parsed = try ConsoleCommand.parse(bytes)
            }
        } catch {
            say(error.description)
            return nil
        }
        guard let command = parsed else { return nil }
        do {
            switch command {
            case let .broadcast(text):
                try await service.broadcast(text)
            case .list:
                await list(service)
            case .patients:
                showPatients(try await service.patients().map { ($0.patient, $0.connected) })
            case let .enroll(path, replace):
                try await enroll(path, replace: replace, on: service)
            case let .revoke(id):
                try await service.revoke(id)
                say("revoked \(id): its session (if any) ended and its key can never log in again")
            case let .kick(id):
                try await service.kick(id)
            case .rekey:
                try await service.rekey()
            case let .minimumVersion(version):
                await service.setMinimumVersion(version)
            case .blocks:
                let blocks = await service.blocks()
                if blocks.isEmpty { say("no active blocks") }
                for block in blocks { say("  \(block.target) until \(ConsoleText.time(block.until))") }
            case let .unblock(target):
                say("unblock: taking it as \(target)")
                try await service.unblock(target)
            case .disconnect:
                await service.disconnectAll(kind: .restarting)
                say("disconnected everyone (told \"restarting\": their devices reconnect)")
            case .quit:
                return Stop(detail: "quit", kind: defaultStop)
            case .close:
                return Stop(detail: "close", kind: .shutdown)
            case .help:
                say(ConsoleCommand.helpText)
            }
        } catch {
            say("\(command.name): \(error)")
        }
        return nil
    }

    /// `enroll <file> [--replace]`: checks the request, prints its fingerprint, enrolls it in
    /// the running doctor (persisted first), writes the card.
    private func enroll(_ path: String, replace: Bool, on service: DoctorService) async throws {
        if let enrollmentRefusal { return say("enroll: \(enrollmentRefusal)") }
        let request = try EnrollmentRequest.read(from: path, group: card.group)
        say("request \(path): patient \"\(request.identity)\", group \(request.group.name)")
        say("fingerprint (the patient reads the one its device showed; they must be the same):")
        say("  \(request.fingerprint)")
        try await register(request, from: path) { () throws(StoreError) in
            try await service.enroll(request.identity, publicKey: request.publicKey, replace: replace)
        }
        try writeCard(card, to: Self.cardPath, for: request.identity)
    }

    private func list(_ service: DoctorService) async {
        let status = await service.status()
        say("epoch \(status.epoch); \(status.members.count) connected of \(status.enrolled.count) enrolled; "
              + "\(status.pendingHandshakes) handshake(s) pending")
        let connected = Set(status.members.map(\.id))
        for member in status.members {
            let receipt = member.lastReceipt.map { "last receipt: epoch \($0.epoch) #\($0.seq) at \(ConsoleText.time($0.wall))" }
            say("  \(member.id)  connected  \(receipt ?? "no receipt yet")")
        }
        for id in status.enrolled where !connected.contains(id) { say("  \(id)  not connected") }
    }

    // MARK: - Events

    /// Prints one machine event (called on the service's executor).
    func show(_ event: DoctorEvent) {
        switch event {
        case let .patientAuthenticated(patient, _, source, epoch):
            say("+ \(patient) authenticated from \(source) (epoch \(epoch))")
        case let .patientLeft(patient, _, reason):
            say("- \(patient) left (\(reason.rawValue))")
        case let .epochStarted(epoch, members):
            say("  epoch \(epoch): \(members.map(\.value).joined(separator: ", "))")
        case let .rejected(connection, source, rule, reason, patient):
            say("! rejected \(connection) from \(source)\(patient.map { " claiming \($0)" } ?? ""): \(rule) \(reason)")
        case let .blocked(target, until, rule):
            say("! blocked \(target) until \(ConsoleText.time(until)) (\(rule)); to lift it, type: unblock \(target.unblockArgument)")
        case let .unblocked(target):
            say("unblocked \(target)")
        case let .broadcastSent(epoch, seq, recipients):
            say("broadcast #\(seq) of epoch \(epoch) sent to \(recipients) patient(s)")
        case let .receipt(patient, epoch, seq, known):
            say("  receipt from \(patient) for epoch \(epoch) #\(seq)\(known ? "" : " (unknown broadcast)")")
        case let .alert(alert):
            say("!! ALERT: \(alert.summary)")
        case let .minimumVersionChanged(version):
            say("minimum protocol version now \(version)")
        }
    }
}
