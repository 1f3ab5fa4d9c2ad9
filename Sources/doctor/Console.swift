import Dispatch
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

/// The operator console: lines from standard input (read on a thread of their own) and
/// SIGINT/SIGTERM, handled one at a time; machine events printed as they happen.
final class Console: Sendable {
    enum Input: Sendable {
        case line(String)
        case endOfInput
        case signal(Int32)
    }

    private let inputs: AsyncStream<Input>
    private let continuation: AsyncStream<Input>.Continuation
    /// This doctor's card (its serving address), written by `enroll`.
    private let card: DoctorCard
    /// Where `enroll` writes the card.
    static let cardPath = "doctor-card.json"

    init(card: DoctorCard) {
        self.card = card
        (inputs, continuation) = AsyncStream.makeStream(of: Input.self)
    }

    // MARK: - Running

    /// Handles commands until `quit` or a signal; returns why it stopped.
    func run(_ service: DoctorService) async -> String {
        let continuation = self.continuation
        let reader = Thread {
            while let line = readLine(strippingNewline: true) { continuation.yield(.line(line)) }
            continuation.yield(.endOfInput)
        }
        reader.start()
        let signals = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(.signal(number)) }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        for await input in inputs {
            switch input {
            case let .line(line):
                if await execute(line, on: service) == .quit { return "quit" }
            case .endOfInput:
                say("(standard input closed: the doctor keeps serving until SIGINT or SIGTERM)")
            case let .signal(number):
                return number == SIGINT ? "SIGINT" : "SIGTERM"
            }
        }
        return "console closed"
    }

    private enum Outcome { case next, quit }

    private func execute(_ line: String, on service: DoctorService) async -> Outcome {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return .next }
        let command = trimmed.prefix { $0 != " " }
        let argument = trimmed.dropFirst(command.count).trimmingCharacters(in: .whitespaces)
        do {
            switch command {
            case "broadcast":
                guard !argument.isEmpty else { say("usage: broadcast <text>"); return .next }
                try await service.broadcast(argument)
            case "list":
                await list(service)
            case "patients":
                showPatients(try await service.patients().map { ($0.patient, $0.connected) })
            case "enroll":
                try await enroll(argument, on: service)
            case "revoke":
                guard let id = try? PeerID(argument) else { say("usage: revoke <patient id>"); return .next }
                try await service.revoke(id)
                say("revoked \(id): its session (if any) ended and its key can never log in again")
            case "kick":
                guard let id = try? PeerID(argument) else { say("usage: kick <patient id>"); return .next }
                try await service.kick(id)
            case "rekey":
                try await service.rekey()
            case "min-version":
                guard let number = Int(argument), let version = ProtocolVersion(rawValue: number) else {
                    say("usage: min-version 1|2"); return .next
                }
                await service.setMinimumVersion(version)
            case "blocks":
                let blocks = await service.blocks()
                if blocks.isEmpty { say("no active blocks") }
                for block in blocks { say("  \(block.target) until \(Self.time(block.until))") }
            case "unblock":
                guard !argument.isEmpty else { say("usage: unblock <id|ip|id@ip|a.b.c.0/24>"); return .next }
                try await service.unblock(argument)
            case "disconnect":
                await service.disconnectAll()
                say("disconnected everyone")
            case "quit", "exit":
                return .quit
            case "help":
                say(Self.help)
            default:
                say("unknown command \"\(command)\"; type \"help\"")
            }
        } catch {
            say("\(command): \(error)")
        }
        return .next
    }

    /// `enroll <file> [--replace]`: checks the request, prints its fingerprint, enrolls it in
    /// the running doctor (persisted first), writes the card.
    private func enroll(_ argument: String, on service: DoctorService) async throws {
        var words = argument.split(separator: " ").map(String.init)
        let replace = words.contains("--replace")
        words.removeAll { $0 == "--replace" }
        guard words.count == 1, let path = words.first else { return say("usage: enroll <request file> [--replace]") }
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
            let receipt = member.lastReceipt.map { "last receipt: epoch \($0.epoch) #\($0.seq) at \(Self.time($0.wall))" }
            say("  \(member.id)  connected  \(receipt ?? "no receipt yet")")
        }
        for id in status.enrolled where !connected.contains(id) { say("  \(id)  not connected") }
    }

    static let help = """
        broadcast <text>    send <text> to every connected patient
        list                patients, epoch, last receipt
        patients            registry: ids, fingerprints, enrolled/revoked, connected
        enroll <file> [--replace]
                            enroll a patient from its request file; writes doctor-card.json
        revoke <id>         revoke a patient: its session ends, its key is refused
        kick <id>           disconnect one patient
        rekey               new group key for the same patients
        min-version 1|2     lowest protocol version accepted; 2 ends version-1 sessions at once
        blocks              active blocks
        unblock <target>    lift a block: <id>, <ip>, <id>@<ip> or a.b.c.0/24
        disconnect          disconnect every patient
        quit                disconnect everyone and exit
        """

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
            say("! blocked \(target) until \(Self.time(until)) (\(rule))")
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

    /// A wall-clock millisecond time as ISO 8601 UTC.
    static func time(_ millis: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(millis) / 1_000))
    }
}
