import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals
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
              blocks              active source, prefix and device blocks (expiry in UTC)
              unblock <target>    lift a block: an IP address, a prefix (a.b.c.0/24, x:x:x::/48),
                                  <id>@<ip>, or a patient id (its device blocks); it says
                                  which kind it took, and `999.1.1.1` is an invalid address
              disconnect          disconnect every patient (the server keeps running;
                                  they are told "restarting" and reconnect)
              quit                disconnect everyone ("restarting") and exit
              close               disconnect everyone ("shutdown": patients stop) and exit
              help                this list

            A console line must be UTF-8 without control characters (U+0000-U+001F, U+007F, \
            U+0080-U+009F: tab, escape sequences, bell) and at most 16640 bytes; a broadcast text \
            at most 16384 bytes (16 KiB). A line that breaks a rule is refused whole with the \
            reason and nothing is done or sent. Times are UTC, ISO 8601.

            End of standard input does not stop the server: it runs until `quit`, `close`, SIGINT or \
            SIGTERM, then sends DISCONNECT to every patient and exits 0. `quit`, SIGTERM and SIGINT \
            say "restarting" (patients reconnect with backoff until the doctor is back); `close`, or \
            any stop with --close-for-good, says "shutdown" (patients stop). While it serves, it \
            holds <state-dir>/doctor.lock: offline `doctor init`, `enroll` and `revoke` on the same \
            state directory refuse to run (use the console), and so does a second `serve`, which \
            changes nothing and exits 75.

            Addresses: the cards this doctor writes (--demo-enroll, console `enroll`) name \
            --advertise HOST:PORT, or else the listening host and port. With --port 0 and no \
            --advertise, enrollment is refused (the port changes on every start); listening on \
            0.0.0.0 or :: without --advertise is a warning (the cards then name 127.0.0.1).

            --demo-enroll is a DEMO SHORTCUT for one machine: for each id never enrolled, the \
            doctor generates the patient's key pair itself, writes the device files \
            (<id>.key.json, pinned-doctor.json) into its own state directory for `patient <id>` \
            to read, and enrolls the public key. The doctor then holds the patient's private key, \
            which a real deployment must never do: there, patients run `patient init` on their \
            own devices (see `doctor enroll --help`). A revoked id is not enrolled again.

            Examples:
              doctor serve --demo-enroll alice,bob      # loopback demo (DEMO SHORTCUT)
              doctor serve --host 0.0.0.0 --port 9000 --advertise clinic.example:9000 --state-dir ./clinic
              doctor serve --config clinic.json --trusted-sources 10.1.2.0/24
              doctor serve --min-version 1                # accept version-1 patients while they migrate
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
        if let advertise { _ = try AdvertisedAddress(parsing: advertise) }
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

    @Option(name: .long, help: ArgumentHelp(
        "The address patients use to reach this doctor, written into every card it makes (demo, console "
            + "`enroll`); default the listening host and port. Required for enrollment with --port 0.",
        valueName: "host:port"))
    var advertise: String?

    @Flag(name: .long, help: ArgumentHelp(
        "On `quit`, SIGTERM and SIGINT tell patients the doctor closed for good (DISCONNECT \"shutdown\": they stop) "
            + "instead of \"restarting\" (they reconnect with backoff)."))
    var closeForGood = false

    func run() async throws {
        let logger = try common.bootstrapLogging()
        // Every setting is checked before anything is created, bound or written.
        let resolved = try await settings.resolve()
        let configuration = resolved.configuration
        let minimumVersion = configuration.minimumVersion
        let handshakeWorkers = resolved.handshakeWorkers
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
        let advertised = try advertise.map(AdvertisedAddress.init(parsing:))
        if advertised == nil, port == 0, demoEnroll != nil {
            throw ValidationError(Self.ephemeralPortRefusal)
        }
        // The lock comes first: a second doctor on this state directory changes nothing.
        try holdStateLock(common.stateDir, command: "doctor serve")
        let keys = KeyStore(directory: common.stateDir)
        let doctor = try loadOrCreateDoctor(keys, identity: identity, create: true)
        warnAboutLegacyCredentials(keys)

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
        let wildcard = AdvertisedAddress.isWildcard(host)
        let address = advertised ?? AdvertisedAddress(host: wildcard ? "127.0.0.1" : host, port: server.boundPort)
        if advertised == nil, wildcard {
            say("""
                warning: listening on \(host) without --advertise: the cards this doctor writes name \
                \(address), which only patients on this machine can reach; pass --advertise HOST:PORT \
                with the address patients use
                """)
        }
        let card = try makeCard(doctor, host: address.host, port: address.port)
        if let demoEnroll {
            do {
                try Self.demoEnroll(try parseIDs([demoEnroll]), keys: keys, doctor: doctor, card: card)
            } catch {
                await server.shutdown()
                throw error
            }
        }
        let console = Console(card: card,
                              enrollmentRefusal: advertised == nil && port == 0 ? Self.ephemeralPortRefusal : nil,
                              defaultStop: closeForGood ? .shutdown : .restarting)
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
                await service.shutdown(reason: "metrics endpoint failed", kind: .restarting)
                await server.shutdown()
                throw Refusal("cannot serve metrics on \(metricsHost):\(metricsPort): \(error)")
            }
        }
        server.startAccepting()
        let enrolled = await service.status().enrolled
        say("doctor \"\(doctor.identity)\" (group \(doctor.group.name)) listening on \(server.localAddress)")
        say("minimum protocol version \(minimumVersion)")
        if advertised != nil { say("advertised to patients as \(address)") }
        say("doctor key fingerprint \(card.fingerprint)")
        say("state directory \(common.stateDir); enrolled: \(enrolled.isEmpty ? "nobody yet" : enrolled.joined(separator: ", "))")
        if let endpoint { say("metrics on \(endpoint.url)") }
        if let proxySettings {
            say("PROXY protocol v2 required on every connection, from \(proxySettings.trustedProxies.map(\.description).joined(separator: ", "))")
        }
        say("type \"help\" for commands")

        // SIGTERM and SIGINT are graceful shutdowns of the service group: the console stops,
        // the doctor says DISCONNECT to everyone, flushes and exits 0.
        let serving = ServingDoctor(console: console, service: service, server: server)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: serving, successTerminationBehavior: .gracefullyShutdownGroup,
                             serviceName: "doctor")],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await endpoint?.shutdown()
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

    /// Why enrollment is refused when the doctor listens on an ephemeral port.
    static let ephemeralPortRefusal = """
        --port 0 picks a new port on every start, so a card naming it stops working at the next restart: \
        give the address patients use with --advertise HOST:PORT, or listen on a fixed --port
        """

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

// MARK: - The serving doctor as a service

/// The running doctor under the service group: the console until `quit`, `close` or a
/// graceful shutdown (SIGTERM, SIGINT), then DISCONNECT to every patient (`restarting` or
/// `shutdown`), the stop audited, the transport flushed and shut.
struct ServingDoctor: Service {
    let console: Console
    let service: DoctorService
    let server: TCPServerTransport

    func run() async throws {
        let console = self.console
        let stop = await withGracefulShutdownHandler {
            await console.run(service)
        } onGracefulShutdown: {
            console.requestShutdown()
        }
        await service.shutdown(reason: stop.detail, kind: stop.kind)
        await server.shutdown()
        say("doctor stopped (\(stop.detail); patients were told \"\(stop.kind.reason)\")")
    }
}

// MARK: - AdvertisedAddress

/// `--advertise HOST:PORT`: the address patients use, written into cards. IPv6 hosts in
/// brackets (`[2001:db8::1]:9000`).
struct AdvertisedAddress: Equatable, CustomStringConvertible {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[v6]:port`; a clear usage error otherwise.
    init(parsing text: String) throws {
        let usage = "--advertise \"\(text.prefix(80))\" is not HOST:PORT (e.g. clinic.example:9000, 192.0.2.10:9000, [2001:db8::1]:9000)"
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ValidationError(usage)
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ValidationError(usage) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else { throw ValidationError(usage + "; put an IPv6 address in brackets") }
        }
        guard !host.isEmpty, host.utf8.count <= 253,
              host.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7f }) else {
            throw ValidationError(usage)
        }
        guard let port = Int(portText), (1...65_535).contains(port) else {
            throw ValidationError(usage + "; the port must be 1...65535")
        }
        guard !Self.isWildcard(String(host)) else {
            throw ValidationError("--advertise \(host) is the any-address, which patients cannot connect to; give this machine's name or address")
        }
        self.host = String(host)
        self.port = port
    }

    /// 0.0.0.0 or :: (listen on every interface): not an address a patient can use.
    static func isWildcard(_ host: String) -> Bool {
        host == "0.0.0.0" || host == "::" || host == "[::]" || host == "0:0:0:0:0:0:0:0"
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
