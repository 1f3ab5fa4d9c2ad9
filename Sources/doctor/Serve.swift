import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
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
              blocks              active source, prefix and device blocks (expiry in UTC)
              unblock <target>    lift a block: an IP address, a prefix (a.b.c.0/24, x:x:x::/48),
                                  <id>@<ip>, or a patient id (its device blocks); it says
                                  which kind it took, and `999.1.1.1` is an invalid address
              disconnect          disconnect every patient (the server keeps running)
              quit                disconnect everyone and exit
              help                this list

            A console line must be UTF-8 without control characters (U+0000-U+001F, U+007F, \
            U+0080-U+009F: tab, escape sequences, bell) and at most 16640 bytes; a broadcast text \
            at most 16384 bytes (16 KiB). A line that breaks a rule is refused whole with the \
            reason and nothing is done or sent. Times are UTC, ISO 8601.

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
              doctor serve --config clinic.json --trusted-sources 10.1.2.0/24
              echo "broadcast hello" | doctor serve      # keeps serving after the pipe ends
              doctor serve --metrics-port 9464 --log-format json   # Prometheus at 127.0.0.1:9464/metrics
              doctor serve --host 0.0.0.0 --proxy-protocol --proxy-from 10.0.0.5   # behind HAProxy (send-proxy-v2)

            \(exitStatusHelp)
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
        guard (0...65_535).contains(port) else { throw ValidationError("--port \(port) is outside 0...65535") }
        if let demoEnroll { _ = try parseIDs([demoEnroll]) }
        if let enroll {
            throw ValidationError("""
                --enroll is gone: it made patients' private keys on the doctor's machine. For a loopback \
                demo use --demo-enroll \(enroll); for a real patient see `doctor enroll --help`.
                """)
        }
    }

    @OptionGroup(title: "Settings (also from TELEMED_DOCTOR_* variables and --config; see `doctor config --help`)")
    var settings: SettingsOptions

    @Option(name: .long, help: ArgumentHelp(
        "Serve Prometheus metrics at http://<metrics-host>:<n>/metrics (off unless given; 0: any free port, printed "
            + "at start). Every metric is described in the TelemedNode documentation (Metrics).", valueName: "n"))
    var metricsPort: Int?

    @Flag(name: .long, help: ArgumentHelp(
        "Expect a HAProxy PROXY protocol v2 header on every connection (behind a TCP load balancer): the source "
            + "the doctor counts, blocks and logs is the header's. Connections without a valid header, or not from "
            + "--proxy-from, are refused before any frame."))
    var proxyProtocol = false

    @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp(
        "With --proxy-protocol: the proxies' addresses or prefixes (e.g. 10.0.0.5 10.1.0.0/16, or comma-separated); "
            + "default loopback (127.0.0.0/8, ::1).", valueName: "prefix"))
    var proxyFrom: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "The address the metrics endpoint listens on (loopback unless told otherwise; the endpoint has no "
            + "authentication).", valueName: "host"))
    var metricsHost: String = "127.0.0.1"

    func run() async throws {
        let logger = try common.bootstrapLogging()
        // Every setting is checked before anything is created, bound or written.
        let resolved = try await settings.resolve()
        let configuration = resolved.configuration
        let handshakeWorkers = resolved.handshakeWorkers
        let keys = KeyStore(directory: common.stateDir)
        let doctor = try loadOrCreateDoctor(keys, identity: identity, create: true)
        guard StateLock.acquire(common.stateDir) else {
            throw Refusal("another doctor is serving from \(common.stateDir) (it holds \(StateLock.path(common.stateDir)))")
        }
        warnAboutLegacyCredentials(keys)
        if let metricsPort, !(0...65_535).contains(metricsPort) {
            throw ValidationError("metrics-port \(metricsPort) is outside 0...65535")
        }
        let registry = PrometheusCollectorRegistry()
        let metrics: DoctorMetrics
        if metricsPort != nil {
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.durationHistogramBuckets = [
                DoctorMetrics.Name.loginSeconds: [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000]
                    .map { Duration.microseconds(Int64($0 * 1_000)) },
                DoctorMetrics.Name.storeCommitSeconds: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1_000]
                    .map { Duration.microseconds(Int64($0 * 1_000)) },
            ]
            MetricsSystem.bootstrap(factory)
            metrics = DoctorMetrics(factory: factory)
        } else {
            metrics = DoctorMetrics()
        }

        var proxySettings: ProxyProtocolSettings?
        if proxyProtocol {
            var prefixes: [IPAddressPrefix] = []
            for text in proxyFrom.flatMap({ $0.split(separator: ",") }) {
                guard let prefix = IPAddressPrefix(String(text)) else {
                    throw ValidationError("proxy-from \"\(text.prefix(60))\" is not an IP address or prefix (a.b.c.d, a.b.c.0/24, 2001:db8::/32)")
                }
                prefixes.append(prefix)
            }
            proxySettings = ProxyProtocolSettings(trustedProxies: prefixes.isEmpty ? IPAddressPrefix.loopback : prefixes)
        } else if !proxyFrom.isEmpty {
            throw ValidationError("--proxy-from only applies with --proxy-protocol")
        }

        // Bound now (the port goes into the demo's pinned card), but admitting nobody until T0
        // is recorded: a request stamped before T0 would be refused (R-START) with REJECTED.
        // The write timeout, outbound bound and connection cap come from the doctor's
        // configuration; the handshake and frame deadlines are the machine's own timers.
        var listener = TCPServerTransport.Configuration(host: host, port: port, bounds: configuration.transportBounds,
                                                        acceptsImmediately: false)
        listener.proxyProtocol = proxySettings
        let server: TCPServerTransport
        do throws(TCPTransportError) {
            server = try await TCPServerTransport.start(configuration: listener)
        } catch {
            throw Refusal("\(error); \(Self.hint(for: error))")
        }
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
                                    observer: { event in console.show(event) }, handshakeWorkers: handshakeWorkers,
                                    metrics: metrics)
        do {
            try await service.start()
        } catch {
            await server.shutdown()
            throw error
        }
        var endpoint: MetricsEndpoint?
        if let metricsPort {
            do {
                endpoint = try await MetricsEndpoint.start(host: metricsHost, port: metricsPort) {
                    await service.sampleMetrics()
                    return registry.emitToBuffer()
                }
            } catch {
                await service.shutdown(reason: "metrics endpoint failed")
                await server.shutdown()
                throw Refusal("cannot serve metrics on \(metricsHost):\(metricsPort): \(error)")
            }
        }
        server.startAccepting()
        let enrolled = await service.status().enrolled
        say("doctor \"\(doctor.identity)\" (group \(doctor.group.name)) listening on \(server.localAddress)")
        say("doctor key fingerprint \(card.fingerprint)")
        say("state directory \(common.stateDir); enrolled: \(enrolled.isEmpty ? "nobody yet" : enrolled.joined(separator: ", "))")
        if let endpoint { say("metrics on \(endpoint.url)") }
        if let proxySettings {
            say("PROXY protocol v2 required on every connection, from \(proxySettings.trustedProxies.map(\.description).joined(separator: ", "))")
        }
        say("type \"help\" for commands")

        let stopReason = await console.run(service)
        await service.shutdown(reason: stopReason)
        await server.shutdown()
        await endpoint?.shutdown()
        say("doctor stopped (\(stopReason))")
        Foundation.exit(0)
    }

    /// What to try when the doctor cannot listen.
    static func hint(for error: TCPTransportError) -> String {
        switch error.errno {
        case EADDRINUSE?: return "is another doctor running? choose another --port"
        case EADDRNOTAVAIL?: return "--host must be an address of this machine (or 0.0.0.0 for all of them)"
        case EACCES?, EPERM?: return "ports below 1024 need privileges; choose --port 1024 or above"
        default: return "check --host and --port"
        }
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
