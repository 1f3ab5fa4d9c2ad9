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
            Creates the doctor key on first run, enrolls the ids given with --enroll that are not \
            enrolled yet, then listens. Console commands (one per line on standard input):

              broadcast <text>    seal, sign and send <text> to every connected patient
              list                patients, epoch, last receipt
              kick <id>           disconnect one patient (the others get a new group key)
              rekey               a new group key for the same patients
              blocks              active source, prefix and device blocks
              unblock <target>    lift a block: <id> (its device blocks), <ip>, <id>@<ip>, a.b.c.0/24
              disconnect          disconnect every patient (the server keeps running)
              quit                disconnect everyone and exit
              help                this list

            End of standard input does not stop the server: it runs until `quit`, SIGINT or SIGTERM, \
            then sends DISCONNECT to every patient and exits 0.

            Examples:
              doctor serve --enroll alice,bob
              doctor serve --host 0.0.0.0 --port 9000 --state-dir ./clinic
              echo "broadcast hello" | doctor serve      # keeps serving after the pipe ends
            """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var identity: IdentityOptions

    @Option(name: .long, help: ArgumentHelp("The address to listen on.", valueName: "host"))
    var host: String = "127.0.0.1"

    @Option(name: .long, help: ArgumentHelp("The port to listen on (0: any free port, printed at start).",
                                            valueName: "port"))
    var port: Int = 8000

    @Option(name: .long, help: ArgumentHelp("Enroll these ids first if they are not enrolled (comma-separated).",
                                            valueName: "ids"))
    var enroll: String?

    @Option(name: .long, help: ArgumentHelp(
        "Threads verifying logins (the crypto of each KEY_VERIFICATION) in parallel; default one per core, "
            + "0 verifies them on the doctor's own task.", valueName: "n"))
    var handshakeWorkers: Int = HandshakeJobPool.defaultWorkers

    func run() async throws {
        let logger = try common.bootstrapLogging()
        guard (0...65_535).contains(port) else { throw ValidationError("port \(port) is outside 0...65535") }
        guard (0...256).contains(handshakeWorkers) else {
            throw ValidationError("handshake-workers \(handshakeWorkers) is outside 0...256")
        }
        let store = KeyStore(directory: common.stateDir)
        var doctor = try loadOrCreateDoctor(store, identity: identity, create: true)

        // Bound now (the port goes into new credentials), but admitting nobody until T0 is
        // recorded: a request stamped before T0 would be refused (R-START) with REJECTED.
        let configuration = DoctorConfiguration()
        // The write timeout, outbound bound and connection cap come from the doctor's
        // configuration; the handshake and frame deadlines are the machine's own timers.
        let server = try await TCPServerTransport.start(
            configuration: .init(host: host, port: port, bounds: configuration.transportBounds,
                                 acceptsImmediately: false))
        let advertised = (host == "0.0.0.0" || host == "::") ? "127.0.0.1" : host
        if let enroll {
            let ids = try parseIDs([enroll])
            if !(try enrollMissing(ids, store: store, doctor: doctor, host: advertised, port: server.boundPort,
                                   failIfEnrolled: false)).isEmpty {
                doctor = try store.loadDoctor()
            }
        }
        let console = Console()
        let service = DoctorService(configuration: configuration, keys: doctor,
                                    databasePath: store.databasePath, transport: server, logger: logger,
                                    observer: { event in console.show(event) }, handshakeWorkers: handshakeWorkers)
        do {
            try await service.start()
        } catch {
            await server.shutdown()
            throw error
        }
        server.startAccepting()
        let enrolled = doctor.registry.keys.sorted().map(\.value)
        say("doctor \"\(doctor.identity)\" (group \(doctor.group.name)) listening on \(server.localAddress)")
        say("state directory \(common.stateDir); enrolled: \(enrolled.isEmpty ? "nobody yet" : enrolled.joined(separator: ", "))")
        say("type \"help\" for commands")

        let stopReason = await console.run(service)
        await service.shutdown(reason: stopReason)
        await server.shutdown()
        say("doctor stopped (\(stopReason))")
        Foundation.exit(0)
    }
}
