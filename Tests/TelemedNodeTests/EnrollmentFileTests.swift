import Foundation
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import XCTest

/// The files of device-generated enrollment: the device key and request `patient init` writes,
/// the card `doctor enroll` writes and `patient pin` stores, every bad input named by file and
/// field with nothing changed, and no patient private key on the doctor's side.
final class EnrollmentFileTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = try temporaryDirectory("enrollment")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: - Device key and request

    /// Exercises ``PatientDevice/create(_:group:using:)``, ``PatientDevice/loadKey(_:)`` and
    /// ``EnrollmentRequest/read(from:group:)``: owner-only files, a request without a secret
    /// that reads back to the same key, and no overwrite of an existing key.
    func testInitWritesAnOwnerOnlyKeyAndARequestWithoutSecret() throws {
        let device = PatientDevice(directory: directory + "/dev")
        var rng = SeededRandom(seed: 21)
        let carol = TestKeys.id("carol")
        let request = try device.create(carol, group: TestKeys.group, using: &rng)
        XCTAssertEqual(try mode(device.directory), 0o700)
        XCTAssertEqual(try mode(device.keyPath(carol)), 0o600)
        XCTAssertEqual(try mode(device.requestPath(carol)), 0o600)

        let key = try device.loadKey(carol)
        XCTAssertEqual(key.publicKey, request.publicKey)
        let reread = try EnrollmentRequest.read(from: device.requestPath(carol), group: TestKeys.group)
        XCTAssertEqual(reread, request)
        XCTAssertEqual(reread.identity, carol)
        XCTAssertEqual(reread.fingerprint, KeyFingerprint(of: key.publicKey))

        let requestText = try String(contentsOfFile: device.requestPath(carol), encoding: .utf8)
        XCTAssertFalse(requestText.lowercased().contains(BigInt.encodeHex(key.scalarBytes)))
        XCTAssertFalse(requestText.contains("privateKey"))
        XCTAssertTrue(requestText.contains(request.fingerprint.hex))
        XCTAssertEqual(device.keyIDs(), [carol])

        // A second init refuses and leaves the key as it was.
        let before = try Data(contentsOf: URL(fileURLWithPath: device.keyPath(carol)))
        XCTAssertThrowsError(try device.create(carol, group: TestKeys.group, using: &rng)) { error in
            XCTAssertEqual(error as? KeyStoreError, .alreadyExists(path: device.keyPath(carol)))
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: device.keyPath(carol))), before)
        XCTAssertEqual(try device.loadKey(carol).publicKey, key.publicKey)
    }

    /// Exercises ``EnrollmentRequest/read(from:group:)`` on every kind of bad request: each
    /// error names the file and the field (or the file for JSON that does not parse), and the
    /// file and its directory are left as they were.
    func testBadRequestsNameTheFileAndTheField() throws {
        var rng = SeededRandom(seed: 22)
        let key = PrivateKey(generatingIn: TestKeys.group, using: &rng).publicKey
        let other = PrivateKey(generatingIn: TestKeys.group, using: &rng).publicKey
        let big = PrivateKey(generatingIn: .telemed3072, using: &rng).publicKey
        // 2 is in range but not in the order-q subgroup.
        let notInSubgroup = [UInt8](repeating: 0, count: TestKeys.group.elementLength - 1) + [2]
        XCTAssertThrowsError(try PublicKey(group: TestKeys.group, bytes: notInSubgroup)) { error in
            XCTAssertEqual(error as? CryptoError, .invalidElement)
        }
        func request(id: String = "carol", group: String = TestKeys.group.name, key hex: String = key.hex,
                     fingerprint: String = key.fingerprint.hex, format: String = "telemed-enrollment-request-v1") -> String {
            #"{"format":"\#(format)","id":"\#(id)","group":"\#(group)","publicKey":"\#(hex)","fingerprint":"\#(fingerprint)"}"#
        }
        let path = directory + "/carol.request.json"
        let cases: [(String, String, (KeyStoreError) -> Bool)] = [
            ("wrong group", request(group: big.group.name, key: big.hex, fingerprint: big.fingerprint.hex),
             { $0 == .wrongGroup(path: path, expected: TestKeys.group.name, found: big.group.name) }),
            ("unknown group", request(group: "modp-1024"), { Self.field($0, path, "group") }),
            ("not a subgroup element", request(key: BigInt.encodeHex(notInSubgroup)),
             { Self.field($0, path, "publicKey", saying: "not an element of the order-q subgroup") }),
            ("short key", request(key: String(key.hex.dropLast(2))),
             { Self.field($0, path, "publicKey", saying: "has 255 bytes") }),
            ("not hex", request(key: "zz" + key.hex.dropFirst(2)), { Self.field($0, path, "publicKey") }),
            ("bad id", request(id: "car ol"), { Self.field($0, path, "id") }),
            ("fingerprint of another key", request(fingerprint: other.fingerprint.hex),
             { Self.field($0, path, "fingerprint", saying: "does not match publicKey") }),
            ("fingerprint not a fingerprint", request(fingerprint: "abc"), { Self.field($0, path, "fingerprint") }),
            ("wrong format", request(format: "telemed-doctor-card-v1"), { Self.field($0, path, "format") }),
            ("a device key file", request(format: "telemed-patient-device-key-v1"),
             { Self.field($0, path, "format", saying: "private key") }),
            ("truncated", String(request().prefix(70)),
             { $0 == .malformed(path: path, reason: "not valid JSON") }),
            ("not JSON", "carol, please enroll me", { $0 == .malformed(path: path, reason: "not valid JSON") }),
            ("missing field", #"{"format":"telemed-enrollment-request-v1","id":"carol","group":"telemed-2048-256"}"#,
             { if case let .malformed(p, reason) = $0 { return p == path && reason.contains("publicKey") }; return false }),
            ("wrong type", request().replacingOccurrences(of: #""id":"carol""#, with: #""id":7"#),
             { if case let .malformed(p, reason) = $0 { return p == path && reason.contains("id") }; return false }),
            ("too large", String(repeating: " ", count: 70_000) + request(),
             { if case let .malformed(p, reason) = $0 { return p == path && reason.contains("KiB") }; return false }),
        ]
        for (label, text, expected) in cases {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            let listing = try FileManager.default.contentsOfDirectory(atPath: directory)
            XCTAssertThrowsError(try EnrollmentRequest.read(from: path, group: TestKeys.group), label) { error in
                guard let error = error as? KeyStoreError else { return XCTFail("\(label): \(error)") }
                XCTAssertTrue(expected(error), "\(label): \(error)")
                XCTAssertTrue("\(error)".hasPrefix(path), "\(label): \(error)")
            }
            XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), text, label)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), listing, label)
        }
        // The good request reads.
        try Data(request().utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try EnrollmentRequest.read(from: path, group: TestKeys.group).publicKey, key)
        XCTAssertThrowsError(try EnrollmentRequest.read(from: directory + "/nobody.request.json")) { error in
            guard case .missing? = error as? KeyStoreError else { return XCTFail("\(error)") }
        }
    }

    // MARK: - Card and pin

    /// Exercises ``DoctorCard/write(to:overwrite:)``, ``DoctorCard/read(from:group:)``,
    /// ``PatientDevice/pin(_:replace:)`` and ``PatientDevice/credential(_:)``: a card round
    /// trips, pinning the same doctor refreshes, another doctor needs replace, and the
    /// credential combines the device key with the pinned card.
    func testCardRoundTripsAndPinRefusesAnotherDoctorUnlessReplaced() throws {
        var rng = SeededRandom(seed: 23)
        let device = PatientDevice(directory: directory + "/dev")
        let carol = TestKeys.id("carol")
        try device.create(carol, group: TestKeys.group, using: &rng)
        let doctorKey = TestKeys.key("doctor").publicKey
        let card = try DoctorCard(identity: TestKeys.id("dr-who"), publicKey: doctorKey, host: "192.0.2.10", port: 9000)
        let cardPath = directory + "/doctor-card.json"
        try card.write(to: cardPath)
        XCTAssertEqual(try mode(cardPath), 0o600)
        XCTAssertEqual(try DoctorCard.read(from: cardPath), card)
        XCTAssertEqual(try DoctorCard.read(from: cardPath, group: TestKeys.group).fingerprint, doctorKey.fingerprint)

        XCTAssertThrowsError(try device.credential(carol)) { error in
            XCTAssertEqual(error as? KeyStoreError,
                           .missing(path: device.pinnedCardPath,
                                    hint: "pin the doctor's card with `patient pin doctor-card.json`"))
        }
        XCTAssertEqual(try device.pin(try DoctorCard.read(from: cardPath)), .pinned)
        XCTAssertEqual(try mode(device.pinnedCardPath), 0o600)
        let credential = try device.credential(carol)
        XCTAssertEqual(credential.doctorID, TestKeys.id("dr-who"))
        XCTAssertEqual(credential.doctorKey, doctorKey)
        XCTAssertEqual(credential.host, "192.0.2.10")
        XCTAssertEqual(credential.port, 9000)
        XCTAssertEqual(credential.privateKey.publicKey, try device.loadKey(carol).publicKey)

        let moved = try DoctorCard(identity: card.identity, publicKey: doctorKey, host: "192.0.2.11", port: 9001)
        XCTAssertEqual(try device.pin(moved), .refreshed)
        XCTAssertEqual(try device.pinnedCard(), moved)

        let impostor = try DoctorCard(identity: card.identity, publicKey: TestKeys.key("mallory").publicKey,
                                      host: "192.0.2.11", port: 9001)
        XCTAssertThrowsError(try device.pin(impostor)) { error in
            XCTAssertTrue(Self.field(error as? KeyStoreError, device.pinnedCardPath, "publicKey", saying: "another doctor"),
                          "\(error)")
        }
        XCTAssertEqual(try device.pinnedCard(), moved)
        XCTAssertEqual(try device.pin(impostor, replace: true), .replaced(previous: doctorKey.fingerprint))
        XCTAssertEqual(try device.pinnedCard(), impostor)
    }

    /// Exercises ``DoctorCard/read(from:group:)`` and ``PatientDevice/pin(_:replace:)`` on bad
    /// cards: each error names the file and the field, and nothing is pinned.
    func testBadCardsNameTheFileAndTheFieldAndPinNothing() throws {
        var rng = SeededRandom(seed: 24)
        let device = PatientDevice(directory: directory + "/dev")
        try device.create(TestKeys.id("carol"), group: TestKeys.group, using: &rng)
        let key = TestKeys.key("doctor").publicKey
        let other = TestKeys.key("mallory").publicKey
        let big = PrivateKey(generatingIn: .telemed3072, using: &rng).publicKey
        func card(key hex: String = key.hex, fingerprint: String = key.fingerprint.hex, group: String = TestKeys.group.name,
                  doctor: String = "dr-who", host: String = "192.0.2.10", port: String = "9000") -> String {
            #"{"format":"telemed-doctor-card-v1","doctorID":"\#(doctor)","group":"\#(group)","publicKey":"\#(hex)","#
                + #""fingerprint":"\#(fingerprint)","host":"\#(host)","port":\#(port)}"#
        }
        let path = directory + "/doctor-card.json"
        let cases: [(String, String, (KeyStoreError) -> Bool)] = [
            ("fingerprint of another key", card(fingerprint: other.fingerprint.hex),
             { Self.field($0, path, "fingerprint", saying: "does not match publicKey") }),
            ("fingerprint in spoken form of another key", card(fingerprint: "\(other.fingerprint)"),
             { Self.field($0, path, "fingerprint") }),
            ("bad doctor id", card(doctor: ""), { Self.field($0, path, "doctorID") }),
            ("port 0", card(port: "0"), { Self.field($0, path, "port") }),
            ("empty host", card(host: ""), { Self.field($0, path, "host") }),
            ("key not in the group", card(key: big.hex, fingerprint: big.fingerprint.hex),
             { Self.field($0, path, "publicKey", saying: "has 384 bytes") }),
            ("truncated", String(card().prefix(100)), { $0 == .malformed(path: path, reason: "not valid JSON") }),
        ]
        for (label, text, expected) in cases {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try device.pin(try DoctorCard.read(from: path)), label) { error in
                guard let error = error as? KeyStoreError else { return XCTFail("\(label): \(error)") }
                XCTAssertTrue(expected(error), "\(label): \(error)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: device.pinnedCardPath), label)
        }
        // A valid card of another group than the device's key: named by the key file and `group`.
        try Data(card(key: big.hex, fingerprint: big.fingerprint.hex, group: big.group.name).utf8)
            .write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try device.pin(try DoctorCard.read(from: path))) { error in
            XCTAssertEqual(error as? KeyStoreError, .wrongGroup(path: device.keyPath(TestKeys.id("carol")),
                                                                expected: big.group.name, found: TestKeys.group.name))
            XCTAssertTrue("\(error)".contains("field \"group\""), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: device.pinnedCardPath))
    }

    // MARK: - Registry refusals

    /// Exercises ``EnrollmentRequest/refusal(_:path:)`` over the security store's refusals
    /// (``SecurityStore/enroll(_:publicKey:group:replace:at:)``): an id already enrolled names
    /// `id`, a retired or unchanged key names `publicKey`, and the registry stays as it was.
    func testRegistryRefusalsNameTheRequestFileAndTheField() throws {
        var rng = SeededRandom(seed: 25)
        let device = PatientDevice(directory: directory + "/dev")
        let carol = TestKeys.id("carol")
        let request = try device.create(carol, group: TestKeys.group, using: &rng)
        let path = device.requestPath(carol)
        let store = try SecurityStore.inMemory()
        let checked = try EnrollmentRequest.read(from: path, group: TestKeys.group)
        XCTAssertEqual(try store.enroll(checked.identity, publicKey: checked.publicKey, group: TestKeys.group, at: 1_000),
                       .enrolled)
        let registered = try store.patients()

        func refusal(replace: Bool) -> KeyStoreError? {
            do {
                try store.enroll(checked.identity, publicKey: checked.publicKey, group: TestKeys.group,
                                 replace: replace, at: 2_000)
                return nil
            } catch let .registry(error) {
                return EnrollmentRequest.refusal(error, path: path)
            } catch {
                XCTFail("\(error)")
                return nil
            }
        }
        XCTAssertTrue(Self.field(refusal(replace: false), path, "id", saying: "carol is already enrolled"))
        XCTAssertTrue(Self.field(refusal(replace: true), path, "publicKey", saying: "already"))
        XCTAssertEqual(try store.patients(), registered)

        try store.revoke(carol, at: 3_000)
        let revoked = try store.patients()
        XCTAssertTrue(Self.field(refusal(replace: false), path, "publicKey", saying: "\(request.fingerprint)"))
        XCTAssertEqual(try store.patients(), revoked)
    }

    // MARK: - No patient private key on the doctor's side

    /// Runs the library path of `patient init` → `doctor enroll --request` → `patient pin`
    /// (``PatientDevice/create(_:group:using:)``, ``EnrollmentRequest/read(from:group:)``,
    /// ``SecurityStore/enroll(_:publicKey:group:replace:at:)``, ``DoctorCard/write(to:overwrite:)``,
    /// ``PatientDevice/pin(_:replace:)``) with the device and the doctor in separate
    /// directories, then scans every file of the doctor's directory for the patient's private
    /// scalar (raw bytes and hex): it is not there. The same scan finds it on the device.
    func testEnrollmentLeavesNoPatientPrivateKeyOnTheDoctorsSide() throws {
        var rng = SeededRandom(seed: 26)
        let device = PatientDevice(directory: directory + "/device")
        let doctorDirectory = directory + "/doctor"
        let keys = KeyStore(directory: doctorDirectory)
        let doctor = try keys.createDoctor(id: TestKeys.id("doctor"), group: TestKeys.group, using: &rng)
        let carol = TestKeys.id("carol")
        try device.create(carol, group: TestKeys.group, using: &rng)
        // The request crosses to the doctor (a copy into its directory, as an e-mail would).
        let copied = doctorDirectory + "/carol.request.json"
        try FileManager.default.copyItem(atPath: device.requestPath(carol), toPath: copied)
        let request = try EnrollmentRequest.read(from: copied, group: doctor.group)
        do {
            let store = try SecurityStore(path: keys.databasePath)
            try store.enroll(request.identity, publicKey: request.publicKey, group: doctor.group, at: 1_000)
            XCTAssertEqual(try store.registry(group: doctor.group)[carol], request.publicKey)
        }
        let card = try DoctorCard(identity: doctor.identity, publicKey: doctor.privateKey.publicKey,
                                  host: "127.0.0.1", port: 8000)
        try card.write(to: doctorDirectory + "/doctor-card.json")
        try device.pin(try DoctorCard.read(from: doctorDirectory + "/doctor-card.json"))
        XCTAssertEqual(try device.credential(carol).doctorKey, doctor.privateKey.publicKey)

        let secret = try device.loadKey(carol).scalarBytes
        XCTAssertEqual(try Self.filesHolding(secret, under: doctorDirectory), [])
        XCTAssertEqual(try Self.filesHolding(secret, under: device.directory), [device.keyPath(carol)])
    }

    // MARK: - Helpers

    /// The files under `root` (recursively) that contain `secret` as raw bytes or as hex in
    /// either case.
    static func filesHolding(_ secret: [UInt8], under root: String) throws -> [String] {
        let needles = [secret, Array(BigInt.encodeHex(secret).utf8), Array(BigInt.encodeHex(secret).uppercased().utf8)]
        var found: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let relative = enumerator?.nextObject() as? String {
            let path = root + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                continue
            }
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            if needles.contains(where: { contains(bytes, $0) }) { found.append(path) }
        }
        return found.sorted()
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    /// True when `error` is ``KeyStoreError/invalidField(path:field:reason:)`` for `path` and
    /// `field` (with `saying` in the reason), and its description names both.
    static func field(_ error: KeyStoreError?, _ path: String, _ field: String, saying text: String = "") -> Bool {
        guard case let .invalidField(errorPath, errorField, reason)? = error else { return false }
        let description = "\(error.map { "\($0)" } ?? "")"
        return errorPath == path && errorField == field && (text.isEmpty || reason.contains(text))
            && description.contains(path) && description.contains("field \"\(field)\"")
    }

    private func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try XCTUnwrap(attributes[.posixPermissions] as? Int) & 0o777
    }
}
