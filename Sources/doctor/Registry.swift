import ArgumentParser
import Foundation
import TelemedCrypto
import TelemedNode
import TelemedProtocol

// MARK: - Shared by the offline commands and the console

/// A refusal at run time (not a usage mistake): printed as `Error: …` without the usage
/// lines; exit status 1.
struct Refusal: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The doctor's card for `doctor` listening at `host`:`port`.
func makeCard(_ doctor: DoctorKeyMaterial, host: String, port: Int) throws -> DoctorCard {
    try DoctorCard(identity: doctor.identity, publicKey: doctor.privateKey.publicKey, host: host, port: port)
}

/// Reads and checks an enrollment request in the doctor's group, checks it against the
/// fingerprint the patient read out (when given), and prints the fingerprint to compare.
func readRequest(_ path: String, group: TelemedGroup, expected: String?) throws -> EnrollmentRequest {
    let request = try EnrollmentRequest.read(from: path, group: group)
    if let expected {
        let stated: KeyFingerprint
        do {
            stated = try KeyFingerprint(text: expected)
        } catch {
            throw ValidationError("--fingerprint: \(error); give the 16 groups of 4 digits the patient read out, in quotes")
        }
        guard stated == request.fingerprint else {
            throw KeyStoreError.invalidField(
                path: path, field: "publicKey",
                reason: "has fingerprint \(request.fingerprint), not the \(stated) the patient read out: "
                    + "the request is not from that device; nothing was enrolled")
        }
    }
    say("request \(path): patient \"\(request.identity)\", group \(request.group.name)")
    say("fingerprint (the patient reads the one its device showed; they must be the same):")
    say("  \(request.fingerprint)")
    return request
}

/// Registers a checked request through `register` (the store offline, the running service in
/// the console); a registry refusal becomes an error naming the request file and the field.
@discardableResult
func register(_ request: EnrollmentRequest, from path: String,
              _ register: () async throws(StoreError) -> EnrollmentKind) async throws -> EnrollmentKind {
    let kind: EnrollmentKind
    do {
        kind = try await register()
    } catch let .registry(refusal) {
        throw EnrollmentRequest.refusal(refusal, path: path)
    }
    switch kind {
    case .enrolled: say("enrolled \(request.identity)")
    case .reenrolled: say("enrolled \(request.identity) again, with a new key (its old key stays revoked)")
    case .replaced: say("replaced \(request.identity)'s key (the old key is retired and can never log in again)")
    }
    return kind
}

/// Writes the doctor's card and says what to do with it.
func writeCard(_ card: DoctorCard, to path: String, for patient: PeerID?) throws {
    try card.write(to: path, overwrite: true)
    say("doctor card \(path): doctor \"\(card.identity)\" at \(card.host):\(card.port)")
    say("  give it to \(patient.map { "\($0)'s" } ?? "the patient's") device: patient pin \(path)")
    say("  the doctor's fingerprint (read it to the patient): \(card.fingerprint)")
}

/// Prints registry rows: id, status, connected (when known), fingerprint, since when.
func showPatients(_ rows: [(patient: EnrolledPatient, connected: Bool?)]) {
    guard !rows.isEmpty else { return say("no patients enrolled") }
    let width = max(2, rows.map(\.patient.id.value.count).max() ?? 2)
    func pad(_ text: String, _ count: Int) -> String { text + String(repeating: " ", count: max(0, count - text.count)) }
    for (patient, connected) in rows {
        let presence = connected.map { $0 ? "connected" : "-" } ?? "?"
        let since = patient.revokedAt.map { "since \(ConsoleText.time($0))" } ?? "since \(ConsoleText.time(patient.enrolledAt))"
        say("  \(pad(patient.id.value, width))  \(pad(patient.status.rawValue, 8))  \(pad(presence, 9))  "
              + "\(patient.fingerprint)  \(since)")
    }
    let enrolled = rows.filter { $0.patient.status == .enrolled }.count
    say("\(enrolled) enrolled, \(rows.count - enrolled) revoked")
}

/// Opens the doctor's registry for an offline command: the security store, with the legacy
/// `registry/<id>.json` files imported first (once per database).
func openRegistry(_ keys: KeyStore, doctor: DoctorKeyMaterial) throws -> SecurityStore {
    let store = try SecurityStore(path: keys.databasePath)
    let legacy = try keys.loadRegistry(group: doctor.group)
    if let imported = try store.importLegacyRegistry(legacy, group: doctor.group, at: SystemClock().now().wall),
       !imported.imported.isEmpty {
        say("imported \(imported.imported.count) patient(s) from \(keys.registryDirectory) into the registry")
    }
    return store
}

/// Takes the state directory's lock for the rest of the process (``StateLock``). When another
/// doctor process holds it, prints why on standard error and exits 75 with nothing changed;
/// `console` names the console command that does the same job while a doctor serves.
func holdStateLock(_ stateDir: String, command: String, console: String? = nil, creating: Bool = true) throws {
    do {
        try StateLock.acquire(stateDir, command: command, creating: creating)
    } catch let .held(directory, holder) {
        let failure = StateLock.Failure.held(stateDir: directory, holder: holder)
        let hint = console.map { " (type `\($0)` there)" } ?? ""
        FileHandle.standardError.write(Data("Error: \(failure)\(hint)\n".utf8))
        throw ExitCode(StateLock.lockedExitCode)
    } catch {
        throw Refusal(error.description)
    }
}

// MARK: - enroll

struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enroll a patient from the enrollment request its device made; write the doctor's card.",
        discussion: """
            Checks the request (written by `patient init` on the patient's device): its format, the \
            group (the doctor's), the id, that the public key is an element of the group's order-q \
            subgroup and that the fingerprint in the file is the key's; refuses an id already \
            enrolled unless --replace, and a key revoked or replaced before. Prints the key's \
            fingerprint: the patient reads the one the device showed, over the phone or in person, \
            and the two must be identical (or pass it with --fingerprint and the doctor compares). \
            Then registers the public key in the security store (doctor.sqlite, audited) and \
            writes the doctor's card (id, group, public key, fingerprint, address) to --card-out \
            for the patient's `patient pin`. A bad request changes nothing. No private key of the \
            patient exists on the doctor's side. Creates the doctor key first if there is none. \
            While a doctor serves from the state directory, use its console's `enroll <file>` (this \
            command then exits 75 and changes nothing).

            Examples:
              doctor enroll --request carol.request.json
              doctor enroll --request carol.request.json --host 192.0.2.10 --port 9000
              doctor enroll --request carol.request.json --fingerprint "0386 … 2059"
                  (with all 16 groups carol read out)
              doctor enroll --request carol-new-phone.request.json --replace

            \(exitStatusHelp)
            """)

    @OptionGroup var common: CommonOptions
    @OptionGroup var identity: IdentityOptions

    @Option(name: .long, help: ArgumentHelp("The enrollment request (<id>.request.json from `patient init`).",
                                            valueName: "file"))
    var request: String?

    @Flag(name: .long, help: "Give an enrolled id this new key (its old key is retired).")
    var replace = false

    @Option(name: .long, help: ArgumentHelp("The fingerprint the patient read out; refuse the request if it differs.",
                                            valueName: "text"))
    var fingerprint: String?

    @Option(name: .long, help: ArgumentHelp("The doctor's address written into the card.", valueName: "host"))
    var host: String = "127.0.0.1"

    @Option(name: .long, help: ArgumentHelp("The doctor's port written into the card.", valueName: "port"))
    var port: Int = 8000

    @Option(name: .long, help: ArgumentHelp("Where the doctor's card is written.", valueName: "path"))
    var cardOut: String = "doctor-card.json"

    @Argument(help: .hidden)
    var ids: [String] = []

    func validate() throws {
        if !ids.isEmpty {
            throw ValidationError("""
                `doctor enroll <id>` made the patient's private key on the doctor's machine and is gone. \
                On the patient's device: `patient init \(ids[0])`; then here: \
                `doctor enroll --request \(ids[0]).request.json`; then on the device: \
                `patient pin doctor-card.json`. For a loopback demo: `doctor serve --demo-enroll \(ids.joined(separator: ","))`.
                """)
        }
        guard request != nil else {
            throw ValidationError("give the patient's enrollment request: doctor enroll --request <id>.request.json")
        }
        guard (1...65_535).contains(port) else { throw ValidationError("--port \(port) is outside 1...65535") }
        if let fingerprint, (try? KeyFingerprint(text: fingerprint)) == nil {
            throw ValidationError("--fingerprint \"\(fingerprint.prefix(100))\" is not a fingerprint; give the 16 groups "
                                    + "of 4 hexadecimal digits the patient read out, in quotes")
        }
    }

    func run() async throws {
        _ = try common.bootstrapLogging()
        guard let request else { return }
        let keys = KeyStore(directory: common.stateDir)
        // The request is checked before anything is created (a first enroll also makes the doctor
        // key), then the lock is taken before anything is written.
        let group = keys.hasDoctor ? try keys.loadDoctor().group : try identity.resolvedGroup()
        let checked = try readRequest(request, group: group, expected: fingerprint)
        try holdStateLock(common.stateDir, command: "doctor enroll", console: "enroll \(request)")
        let doctor = try loadOrCreateDoctor(keys, identity: identity, create: true)
        let card = try makeCard(doctor, host: host, port: port)
        let store = try openRegistry(keys, doctor: doctor)
        let wall = SystemClock().now().wall
        try await register(checked, from: request) { () throws(StoreError) in
            try store.enroll(checked.identity, publicKey: checked.publicKey, group: doctor.group, replace: replace, at: wall)
        }
        do {
            try writeCard(card, to: cardOut, for: checked.identity)
        } catch {
            throw Refusal("\(checked.identity) is enrolled, but the card was not written: \(error); "
                                    + "write it with `doctor card --card-out <path>`")
        }
    }
}

// MARK: - revoke

struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke a patient's key (a lost or stolen device) while no doctor serves.",
        discussion: """
            Marks the id revoked in the security store (audited) and retires its key for good: \
            from then on the doctor refuses it exactly like an unknown id. A new key for the same \
            id can be enrolled later (`doctor enroll --request`); the old one never again. \
            While a doctor serves from the state directory, type `revoke <id>` in its console \
            instead: that ends the patient's session at once (this command then exits 75 and \
            changes nothing).

            Examples:
              doctor revoke carol
              doctor revoke carol --state-dir ./clinic

            \(exitStatusHelp)
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: ArgumentHelp("The patient id.", valueName: "id"))
    var id: String

    func validate() throws {
        guard try parseIDs([id]).count == 1 else { throw ValidationError("give one patient id") }
    }

    func run() async throws {
        _ = try common.bootstrapLogging()
        let patient = try parseIDs([id])
        guard patient.count == 1, let target = patient.first else { throw ValidationError("give one patient id") }
        try holdStateLock(common.stateDir, command: "doctor revoke", console: "revoke \(target)", creating: false)
        let keys = KeyStore(directory: common.stateDir)
        let doctor = try keys.loadDoctor()
        let store = try openRegistry(keys, doctor: doctor)
        let row = try store.revoke(target, at: SystemClock().now().wall)
        say("revoked \(target) (key \(row.fingerprint)); its key can never log in again")
    }
}

// MARK: - patients

struct Patients: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the patient registry: ids, key fingerprints, enrolled or revoked.",
        discussion: """
            Reads the security store. Each line: id, enrolled or revoked, whether it is connected \
            (\"?\" here: only the running doctor's console `patients` knows), the key's \
            fingerprint, and since when (UTC). Works while a doctor serves.

            Examples:
              doctor patients
              doctor patients --state-dir ./clinic

            \(exitStatusHelp)
            """)

    @OptionGroup var common: CommonOptions

    func run() async throws {
        _ = try common.bootstrapLogging()
        let keys = KeyStore(directory: common.stateDir)
        let doctor = try keys.loadDoctor()
        let store: SecurityStore
        if try StateLock.acquireIfFree(common.stateDir, command: "doctor patients") {
            store = try openRegistry(keys, doctor: doctor)  // may import the legacy files: a write
        } else {
            store = try SecurityStore(path: keys.databasePath)  // the serving doctor imported the legacy files
        }
        showPatients(try store.patients().map { ($0, nil) })
    }
}

// MARK: - card

struct Card: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the doctor's card (id, group, public key, fingerprint, address) for `patient pin`.",
        discussion: """
            `doctor enroll` writes the card too; this writes it again, e.g. for another address. \
            It holds no secret.

            Examples:
              doctor card --host 192.0.2.10 --port 9000
              doctor card --card-out /media/usb/doctor-card.json

            \(exitStatusHelp)
            """)

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: ArgumentHelp("The doctor's address written into the card.", valueName: "host"))
    var host: String = "127.0.0.1"

    @Option(name: .long, help: ArgumentHelp("The doctor's port written into the card.", valueName: "port"))
    var port: Int = 8000

    @Option(name: .long, help: ArgumentHelp("Where the card is written.", valueName: "path"))
    var cardOut: String = "doctor-card.json"

    func validate() throws {
        guard (1...65_535).contains(port) else { throw ValidationError("--port \(port) is outside 1...65535") }
    }

    func run() async throws {
        _ = try common.bootstrapLogging()
        let doctor = try KeyStore(directory: common.stateDir).loadDoctor()
        try writeCard(try makeCard(doctor, host: host, port: port), to: cardOut, for: nil)
    }
}
