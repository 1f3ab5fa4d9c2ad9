@_spi(Testing) import TelemedCrypto
import TelemedProtocol

// MARK: - KeyRing

/// Every key of a scenario, generated from the seed (`key/doctor`, `key/patient/<id>`): the
/// harness knows them all, which is what lets it recover every session and group key from
/// the wire and scan the trace for them.
struct KeyRing {
    let group: TelemedGroup
    let doctorID: PeerID
    let doctorKey: PrivateKey
    /// Every patient's key, enrolled or not.
    let patientKeys: [String: PrivateKey]
    /// The enrolled ones, as the doctor's registry.
    let registry: [PeerID: PublicKey]
    /// Every patient key by its public key's bytes (the smallest id wins when two share one).
    private let byPublicKey: [[UInt8]: PrivateKey]

    init(scenario: Scenario, seed: SeededRandom) throws(ScenarioError) {
        group = TelemedGroup.telemed2048
        do {
            doctorID = try PeerID(scenario.doctor.id)
        } catch {
            throw ScenarioError(path: "$.doctor.id", message: "not a valid id")
        }
        var doctorRandom = seed.fork("key/doctor")
        doctorKey = PrivateKey(generatingIn: group, using: &doctorRandom)
        var keys: [String: PrivateKey] = [:]
        var registry: [PeerID: PublicKey] = [:]
        for (index, patient) in scenario.patients.enumerated() {
            var random = seed.fork("key/patient/\(patient.id)")
            let key = PrivateKey(generatingIn: group, using: &random)
            keys[patient.id] = key
            guard patient.enrolled else { continue }
            do {
                registry[try PeerID(patient.id)] = key.publicKey
            } catch {
                throw ScenarioError(path: "$.patients[\(index)].id", message: "not a valid id")
            }
        }
        patientKeys = keys
        self.registry = registry
        var byPublicKey: [[UInt8]: PrivateKey] = [:]
        for (_, key) in keys.sorted(by: { $0.key < $1.key }) where byPublicKey[key.publicKey.bytes] == nil {
            byPublicKey[key.publicKey.bytes] = key
        }
        self.byPublicKey = byPublicKey
    }

    /// The patient key whose public half is `publicKey`.
    func privateKey(matching publicKey: PublicKey) -> PrivateKey? {
        byPublicKey[publicKey.bytes]
    }

    /// The key of `name`: `doctor` (or the doctor's id) or a patient id.
    func key(named name: String) -> PrivateKey? {
        if name == "doctor" || name == doctorID.value { return doctorKey }
        return patientKeys[name]
    }
}

// MARK: - SecretBook

/// Every secret the harness learned (private scalars, K, K_GWN, SK, traffic keys, GK, k_gk,
/// broadcast texts), for the R-NOLEAK scan of the trace.
///
/// A hex secret is looked for by its first 64 hex digits (all of them when shorter; at least
/// 32, since secrets are at least 16 bytes). The probes are indexed by their first 32 digits,
/// so scanning a line costs one lookup per position of its long hex runs rather than one
/// comparison per known secret: a storm knows hundreds of thousands of secrets.
struct SecretBook {
    private(set) var hexSecrets: [String: String] = [:]   // lowercase hex → what it is
    private(set) var texts: [String: String] = [:]        // plaintext → label
    /// Probe (the first ≤ 64 hex digits, as bytes) by its first 32 digits, with what it is.
    private var probes: [HexKey: [(probe: [UInt8], what: String)]] = [:]

    /// Adds a secret of at least 16 bytes; true when the book did not hold it yet.
    @discardableResult
    mutating func add(_ bytes: [UInt8], _ what: String) -> Bool {
        guard bytes.count >= 16 else { return false }
        let hex = Hex.encode(bytes)
        guard hexSecrets[hex] == nil else { return false }
        hexSecrets[hex] = what
        let probe = Array(hex.utf8.prefix(64))
        probes[HexKey(probe, at: 0), default: []].append((probe, what))
        return true
    }

    mutating func addText(_ text: String, _ what: String) {
        texts[text] = what
        add(Array(text.utf8), what + " (hex)")
    }

    var count: Int { hexSecrets.count + texts.count }

    /// The secrets found in `text` (hex matched case-insensitively), as descriptions.
    func leaks(in text: String) -> [String] {
        var found: Set<String> = []
        for (plain, what) in texts where plain.utf8.count >= 8 && text.contains(plain) {
            found.insert(what)
        }
        for run in SecretBook.hexRunBytes(text, minimum: HexKey.width) {
            for offset in 0...(run.count - HexKey.width) {
                guard let candidates = probes[HexKey(run, at: offset)] else { continue }
                for (probe, what) in candidates where offset + probe.count <= run.count
                    && run[offset..<(offset + probe.count)].elementsEqual(probe) {
                    found.insert(what)
                }
            }
        }
        return found.sorted()
    }

    /// Maximal runs of hex digits at least `minimum` long, lower-cased.
    static func hexRunBytes(_ text: String, minimum: Int) -> [[UInt8]] {
        var runs: [[UInt8]] = []
        var current: [UInt8] = []
        for byte in text.utf8 {
            let isHex = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
            if isHex {
                current.append(byte >= 0x41 && byte <= 0x46 ? byte + 0x20 : byte)
            } else {
                if current.count >= minimum { runs.append(current) }
                current.removeAll(keepingCapacity: true)
            }
        }
        if current.count >= minimum { runs.append(current) }
        return runs
    }
}

/// 32 hex digits packed into four words: the index key of a secret's probe.
struct HexKey: Hashable {
    static let width = 32
    let words: (UInt64, UInt64, UInt64, UInt64)

    /// The 32 digits of `digits` from `offset` (the caller guarantees they exist).
    init(_ digits: [UInt8], at offset: Int) {
        func word(_ start: Int) -> UInt64 {
            var value: UInt64 = 0
            for index in start..<(start + 8) { value = value << 8 | UInt64(digits[index]) }
            return value
        }
        words = (word(offset), word(offset + 8), word(offset + 16), word(offset + 24))
    }

    static func == (lhs: HexKey, rhs: HexKey) -> Bool { lhs.words == rhs.words }

    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}
