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
            Keys, credentials and the security database (blocks, audit log) live in the state directory.

            Quick start on one machine (three terminals):
              swift run doctor serve --enroll alice,bob   # keys on first run
              swift run patient alice
              swift run patient bob
            then type `broadcast Clinic closes at 5pm` in the doctor's terminal.

            Examples:
              doctor init --id dr-house              # only create the doctor key
              doctor enroll alice bob --port 9000    # credentials for port 9000
              doctor serve --port 9000               # auto-inits on first run
              doctor serve --state-dir ./clinic      # another state directory
            """,
        subcommands: [Serve.self, Init.self, Enroll.self],
        defaultSubcommand: Serve.self)
}

// MARK: - Shared options

/// Options every subcommand takes.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The state directory (keys, credentials, doctor.sqlite).", valueName: "path"))
    var stateDir: String = "./.telemed"

    @Option(name: .long, help: ArgumentHelp("Log level on standard error: trace, debug, info, notice, warning, error, critical.",
                                            valueName: "level"))
    var logLevel: String = "error"

    func bootstrapLogging() throws -> Logger {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("unknown log level \"\(logLevel)\"")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
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

    func resolvedGroup() throws -> TelemedGroup {
        do {
            return try TelemedGroup.named(group)
        } catch {
            throw ValidationError("unknown group \"\(group)\" (telemed-2048-256 or telemed-3072-256)")
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

/// Enrolls the ids that are not enrolled yet; returns the newly enrolled ones.
@discardableResult
func enrollMissing(_ ids: [PeerID], store: KeyStore, doctor: DoctorKeyMaterial, host: String, port: Int,
                   failIfEnrolled: Bool) throws -> [PeerID] {
    var enrolled: [PeerID] = []
    var rng = SystemRandom()
    for id in ids {
        if store.isEnrolled(id) {
            if failIfEnrolled { throw KeyStoreError.alreadyExists(path: store.registryPath(id)) }
            continue
        }
        try store.enroll(id, doctor: doctor, host: host, port: port, using: &rng)
        say("enrolled \(id): credential \(store.credentialPath(id)) (doctor at \(host):\(port))")
        enrolled.append(id)
    }
    return enrolled
}

// MARK: - init

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the doctor's key pair in the state directory.",
        discussion: """
            Writes <state-dir>/doctor.json (mode 0600). Refuses to replace an existing key.

            Examples:
              doctor init
              doctor init --id dr-house --group telemed-3072-256 --state-dir ./clinic
            """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var identity: IdentityOptions

    func run() async throws {
        _ = try common.bootstrapLogging()
        let store = KeyStore(directory: common.stateDir)
        if store.hasDoctor { throw KeyStoreError.alreadyExists(path: store.doctorKeyPath) }
        _ = try loadOrCreateDoctor(store, identity: identity, create: true)
    }
}

// MARK: - enroll

struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enroll patients: generate each one's key pair and credential, register its public key.",
        discussion: """
            For each id, writes <state-dir>/patients/<id>.json (the patient's credential: its private \
            key, the pinned doctor id and public key, and the doctor's address) and \
            <state-dir>/registry/<id>.json (its public key, read by the doctor). Both are mode 0600. \
            Creates the doctor key first if there is none. A running doctor sees new patients after \
            a restart.

            Examples:
              doctor enroll alice bob
              doctor enroll carol,dave --host 192.0.2.10 --port 9000
            """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var identity: IdentityOptions

    @Option(name: .long, help: ArgumentHelp("The doctor's address written into the credentials.", valueName: "host"))
    var host: String = "127.0.0.1"

    @Option(name: .long, help: ArgumentHelp("The doctor's port written into the credentials.", valueName: "port"))
    var port: Int = 8000

    @Argument(help: ArgumentHelp("Patient ids (1–64 of A-Z a-z 0-9 . _ -), separated by spaces or commas.",
                                 valueName: "id"))
    var ids: [String]

    func run() async throws {
        _ = try common.bootstrapLogging()
        guard (1...65_535).contains(port) else { throw ValidationError("port \(port) is outside 1...65535") }
        let store = KeyStore(directory: common.stateDir)
        let doctor = try loadOrCreateDoctor(store, identity: identity, create: true)
        try enrollMissing(try parseIDs(ids), store: store, doctor: doctor, host: host, port: port, failIfEnrolled: true)
    }
}
