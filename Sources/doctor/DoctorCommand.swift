import ArgumentParser
import Foundation
import Logging
import TelemedCrypto
import TelemedNode
import TelemedProtocol

// MARK: - doctor

/// `doctor`: the gateway (GWN). Subcommands init, enroll and serve (the default).
@main
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Run the doctor's gateway of a secure telemedical conference.",
        discussion: """
            The doctor authenticates enrolled patients (ElGamal signatures and key exchange), keeps a \
            group key that changes on every join and leave, and broadcasts messages sealed under it. \
            Its key, the patient registry and the security database (blocks, audit log) live in the \
            state directory. Patients make their own keys on their devices; the doctor enrolls \
            public keys only.

            Quick demo on one machine (three terminals; a DEMO SHORTCUT makes the patients' keys):
              swift run doctor serve --demo-enroll alice,bob
              swift run patient alice
              swift run patient bob
            then type `broadcast Clinic closes at 5pm` in the doctor's terminal.

            Enrolling a patient's device (compare the fingerprints out of band):
              patient init carol --state-dir dev              # on carol's device
              doctor enroll --request carol.request.json      # writes doctor-card.json
              patient pin doctor-card.json --state-dir dev    # on carol's device
              doctor serve
              patient carol --state-dir dev

            Examples:
              doctor init --id dr-house              # only create the doctor key
              doctor serve --port 9000 --state-dir ./clinic
              doctor patients                        # the registry, with fingerprints
              doctor revoke carol                    # while no doctor serves

            \(exitStatusHelp)
            """,
        version: TelemedRelease.version,
        subcommands: [Serve.self, Init.self, Enroll.self, Revoke.self, Patients.self, Card.self, Config.self],
        defaultSubcommand: Serve.self)
}

/// The exit statuses of every doctor subcommand, for the end of each `--help`.
let exitStatusHelp = """
    Exit status: 0 done (serve: stopped by `quit`, `close`, SIGINT or SIGTERM); 1 refused or \
    failed (a message says what and what to try: e.g. the port is in use, a file is missing or \
    malformed, a missing or lost doctor key); 64 a usage error (an unknown option or an invalid \
    value; the subcommand's usage follows); 75 the state directory is in use by another doctor \
    process (nothing was changed).
    """

// MARK: - Shared options

/// Options every subcommand takes.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The state directory (doctor.json, doctor.sqlite).", valueName: "path"))
    var stateDir: String = "./.telemed"

    @Option(name: .long, help: ArgumentHelp("Log level on standard error: trace, debug, info, notice, warning, error, critical.",
                                            valueName: "level"))
    var logLevel: String = "error"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown log level \"\(logLevel.prefix(40))\" (trace, debug, info, notice, warning, error, critical)")
        }
        guard !stateDir.isEmpty else { throw ValidationError("--state-dir is empty; give a directory such as ./.telemed") }
    }

    @Option(name: .long, help: ArgumentHelp(
        "Log line format on standard error: text, or json (one object per line: ts, level, label, message, source, metadata).",
        valueName: "format"))
    var logFormat: String = "text"

    func bootstrapLogging() throws -> Logger {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("unknown log level \"\(logLevel.prefix(40))\"")
        }
        guard let format = LogFormat(rawValue: logFormat) else {
            throw ValidationError("unknown log format \"\(logFormat.prefix(40))\" (text or json)")
        }
        LoggingSystem.bootstrap(format.handlerFactory(level: level))
        return Logger(label: "telemed.doctor")
    }
}

/// Options that create the doctor key when it does not exist.
struct IdentityOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The doctor's id when a key is created.", valueName: "id"))
    var id: String = "doctor"

    @Option(name: .long, help: ArgumentHelp("The group when a key is created: telemed-2048-256 or telemed-3072-256.",
                                            valueName: "name"))
    var group: String = "telemed-2048-256"

    func validate() throws {
        _ = try resolvedGroup()
        _ = try resolvedID()
    }

    func resolvedGroup() throws -> TelemedGroup {
        do {
            return try TelemedGroup.named(group)
        } catch {
            throw ValidationError("unknown group \"\(group.prefix(64))\" (telemed-2048-256 or telemed-3072-256)")
        }
    }

    func resolvedID() throws -> PeerID {
        do {
            return try PeerID(id)
        } catch {
            throw ValidationError(KeyStoreError.invalidID(id).description)
        }
    }
}

/// Loads the doctor's keys, creating them first when `create` allows it.
func loadOrCreateDoctor(_ store: KeyStore, identity: IdentityOptions, create: Bool) throws -> DoctorKeyMaterial {
    if !store.hasDoctor && create {
        var rng = SystemRandom()
        let material = try store.createDoctor(id: identity.resolvedID(), group: identity.resolvedGroup(), using: &rng)
        say("created doctor key \"\(material.identity)\" (group \(material.group.name)) in \(store.doctorKeyPath)")
    }
    return try store.loadDoctor()
}

/// Splits `alice,bob` and `alice bob` into ids.
func parseIDs(_ texts: [String]) throws -> [PeerID] {
    try texts.flatMap { $0.split(separator: ",") }.map { text in
        do {
            return try PeerID(String(text))
        } catch {
            throw ValidationError(KeyStoreError.invalidID(String(text)).description)
        }
    }
}

// MARK: - init

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the doctor's key pair in the state directory.",
        discussion: """
            Writes <state-dir>/doctor.json (mode 0600), only in a new or empty state directory: \
            refuses to replace an existing key, and to make a new key next to an existing \
            doctor.sqlite or registry (a lost doctor.json: restore it from a backup; the error says \
            how to start over if it is lost for good). Exits 75, changing nothing, while another \
            doctor process uses the state directory.

            Examples:
              doctor init
              doctor init --id dr-house --group telemed-3072-256 --state-dir ./clinic

            \(exitStatusHelp)
            """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var identity: IdentityOptions

    func run() async throws {
        _ = try common.bootstrapLogging()
        try holdStateLock(common.stateDir, command: "doctor init")
        let store = KeyStore(directory: common.stateDir)
        if store.hasDoctor { throw KeyStoreError.alreadyExists(path: store.doctorKeyPath) }
        _ = try loadOrCreateDoctor(store, identity: identity, create: true)
    }
}

