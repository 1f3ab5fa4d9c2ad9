import ArgumentParser
import Foundation
import Logging
import TelemedNode
import TelemedCrypto
import TelemedProtocol
import TelemedTCP

// MARK: - serve

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve patients over TCP, with an operator console on standard input (the default).",
        discussion: """
            Creates the doctor key on first run, then listens. Console commands (one per line on \
            standard input):

              broadcast <text>    seal, sign and send <text> to every connected patient
              list                patients, epoch, last receipt
              patients            registry: ids, fingerprints, status, connected
              enroll <file> [--replace]
                                  enroll a patient from its request (as `doctor enroll
                                  --request`), at once; writes doctor-card.json
              revoke <id>         revoke a patient's key: its session ends at once and
                                  it is refused like an unknown id from then on
              kick <id>           disconnect one patient (the others get a new group key)
              rekey               a new group key for the same patients
              min-version 1|2     the lowest protocol version accepted; raising it to 2 ends
                                  every version-1 handshake and session at once
              blocks              active source, prefix and device blocks
              unblock <target>    lift a block: <id> (its device blocks), <ip>, <id>@<ip>, a.b.c.0/24
              disconnect          disconnect every patient (the server keeps running)
              quit                disconnect everyone and exit
              help                this list

            End of standard input does not stop the server: it runs until `quit`, SIGINT or SIGTERM, \
            then sends DISCONNECT to every patient and exits 0. While it serves, it holds \
            <state-dir>/doctor.lock: offline `doctor enroll` and `doctor revoke` on the same state \
            directory refuse to run (use the console), and so does a second `serve`.

            --demo-enroll is a DEMO SHORTCUT for one machine: for each id never enrolled, the \
            doctor generates the patient's key pair itself, writes the device files \
            (<id>.key.json, pinned-doctor.json) into its own state directory for `patient <id>` \
            to read, and enrolls the public key. The doctor then holds the patient's private key, \
            which a real deployment must never do: there, patients run `patient init` on their \
            own devices (see `doctor enroll --help`). A revoked id is not enrolled again.

            Examples:
              doctor serve --demo-enroll alice,bob      # loopback demo (DEMO SHORTCUT)
              doctor serve --host 0.0.0.0 --port 9000 --state-dir ./clinic
              doctor serve --min-version 1                # accept version-1 patients while they migrate
              echo "broadcast hello" | doctor serve      # keeps serving after the pipe ends
            """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var identity: IdentityOptions

    @Option(name: .long, help: ArgumentHelp("The address to listen on.", valueName: "host"))
    var host: String = "127.0.0.1"

    @Option(name: .long, help: ArgumentHelp("The port to listen on (0: any free port, printed at start).",
                                            valueName: "port"))
    var port: Int = 8000

    @Option(name: .long, help: ArgumentHelp(
        "DEMO SHORTCUT: make keys for these ids on this machine and enroll them (comma-separated).",
        valueName: "ids"))
    var demoEnroll: String?

    @Option(name: .long, help: .hidden)
    var enroll: String?

    func validate() throws {
        if let enroll {
            throw ValidationError("""
                --enroll is gone: it made patients' private keys on the doctor's machine. For a loopback \
                demo use --demo-enroll \(enroll); for a real patient see `doctor enroll --help`.
                """)
        }
    }

    @Option(name: .long, help: ArgumentHelp(
        "Threads verifying logins (the crypto of each KEY_VERIFICATION) in parallel; default one per core, "
            + "0 verifies them on the doctor's own task.", valueName: "n"))
    var handshakeWorkers: Int = HandshakeJobPool.defaultWorkers

    @Option(name: .long, help: ArgumentHelp(
        "The lowest protocol version accepted: 2 (forward secrecy, the default) or 1 while version-1 patients "
            + "migrate. A request below it is refused (R-VERSION, not counted against the source).", valueName: "1|2"))
    var minVersion: Int = 2

    func run() async throws {
        let logger = try common.bootstrapLogging()
        guard (0...65_535).contains(port) else { throw ValidationError("port \(port) is outside 0...65535") }
        let keys = KeyStore(directory: common.stateDir)
        let doctor = try loadOrCreateDoctor(keys, identity: identity, create: true)
        guard StateLock.acquire(common.stateDir) else {
            throw Refusal("another doctor is serving from \(common.stateDir) (it holds \(StateLock.path(common.stateDir)))")
        }
        warnAboutLegacyCredentials(keys)
        guard (0...256).contains(handshakeWorkers) else {
            throw ValidationError("handshake-workers \(handshakeWorkers) is outside 0...256")
        }

        // Bound now (the port goes into the demo's pinned card), but admitting nobody until T0
        // is recorded: a request stamped before T0 would be refused (R-START) with REJECTED.
        guard let minimumVersion = ProtocolVersion(rawValue: minVersion) else {
            throw ValidationError("--min-version must be 1 or 2")
        }
        var configuration = DoctorConfiguration()
        configuration.minimumVersion = minimumVersion
        // The write timeout, outbound bound and connection cap come from the doctor's
        // configuration; the handshake and frame deadlines are the machine's own timers.
        let server = try await TCPServerTransport.start(
            configuration: .init(host: host, port: port, bounds: configuration.transportBounds,
                                 acceptsImmediately: false))
        let advertised = (host == "0.0.0.0" || host == "::") ? "127.0.0.1" : host
        let card = try makeCard(doctor, host: advertised, port: server.boundPort)
        if let demoEnroll {
            do {
                try Self.demoEnroll(try parseIDs([demoEnroll]), keys: keys, doctor: doctor, card: card)
            } catch {
                await server.shutdown()
                throw error
            }
        }
        let console = Console(card: card)
        let service = DoctorService(configuration: configuration, keys: doctor,
                                    databasePath: keys.databasePath, transport: server, logger: logger,
                                    observer: { event in console.show(event) }, handshakeWorkers: handshakeWorkers)
        do {
            try await service.start()
        } catch {
            await server.shutdown()
            throw error
        }
        server.startAccepting()
        let enrolled = await service.status().enrolled
        say("doctor \"\(doctor.identity)\" (group \(doctor.group.name)) listening on \(server.localAddress)")
        say("minimum protocol version \(minimumVersion)")
        say("doctor key fingerprint \(card.fingerprint)")
        say("state directory \(common.stateDir); enrolled: \(enrolled.isEmpty ? "nobody yet" : enrolled.joined(separator: ", "))")
        say("type \"help\" for commands")

        let stopReason = await console.run(service)
        await service.shutdown(reason: stopReason)
        await server.shutdown()
        say("doctor stopped (\(stopReason))")
        Foundation.exit(0)
    }

    /// The DEMO SHORTCUT: for each id never enrolled, makes its key pair here (or takes the one
    /// already in the state directory), enrolls the public key and pins this doctor's card in
    /// the state directory, where `patient <id>` finds both.
    static func demoEnroll(_ ids: [PeerID], keys: KeyStore, doctor: DoctorKeyMaterial, card: DoctorCard) throws {
        let device = PatientDevice(directory: keys.directory)
        let store = try openRegistry(keys, doctor: doctor)
        var rng = SystemRandom()
        for id in ids {
            if let row = try store.patient(id) {
                if row.status == .revoked {
                    say("demo: \(id) is revoked; not enrolling it again (enroll a new key with `enroll <file>`)")
                }
                continue
            }
            let publicKey: PublicKey
            if device.hasKey(id) {
                publicKey = try device.loadKey(id).publicKey
            } else {
                publicKey = try device.create(id, group: doctor.group, using: &rng).publicKey
                say("DEMO SHORTCUT: made \(id)'s private key on the doctor's machine (\(device.keyPath(id))); "
                      + "a real patient makes it on its own device with `patient init`")
            }
            do {
                try store.enroll(id, publicKey: publicKey, group: doctor.group, at: SystemClock().now().wall)
            } catch let .registry(refusal) {
                throw EnrollmentRequest.refusal(refusal, path: device.keyPath(id))
            }
            say("demo: enrolled \(id) (fingerprint \(publicKey.fingerprint))")
        }
        try device.pin(card, replace: true)
        say("demo: pinned this doctor at \(card.host):\(card.port) in \(device.pinnedCardPath)")
    }

    /// Says where credentials of the old enrollment (patient private keys made by the doctor)
    /// are still lying in the state directory.
    func warnAboutLegacyCredentials(_ keys: KeyStore) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: keys.credentialDirectory)) ?? []
        let count = names.filter { $0.hasSuffix(".json") }.count
        guard count > 0 else { return }
        say("""
            warning: \(keys.credentialDirectory) holds \(count) legacy credential(s) with patients' private keys made \
            on this machine; once those patients have their own keys (`patient init` on the device, then \
            `doctor enroll --request <file> --replace`, which retires the old key), delete the directory
            """)
    }
}
