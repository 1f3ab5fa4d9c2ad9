import ArgumentParser
import Configuration
import Foundation
import SystemPackage
import TelemedNode
import TelemedProtocol
import TelemedTransport

// MARK: - Keys

/// The doctor's settings: every numeric field of `DoctorConfiguration` (its one range table,
/// `DoctorConfiguration.settings`), the handshake workers (range `HandshakeJobPool.allowedWorkers`)
/// and the trusted-source list. Each comes from a flag, an environment variable, a JSON
/// configuration file or the default, in that order of precedence.
enum SettingKey {
    static let handshakeWorkers = "handshakeWorkers"
    static let trustedSources = "trustedSources"

    /// Every numeric key with its allowed range, in display order.
    static var numeric: [(key: String, allowed: ClosedRange<Int>)] {
        DoctorConfiguration.settings.map { ($0.key, $0.allowed) } + [(handshakeWorkers, HandshakeJobPool.allowedWorkers)]
    }

    /// Every key a configuration file may hold.
    static var all: [String] { numeric.map(\.key) + [trustedSources] }

    /// `failureThreshold` → `failure-threshold` (the flag is `--failure-threshold`).
    static func flag(_ key: String) -> String {
        words(key).joined(separator: "-")
    }

    /// `failureThreshold` → `TELEMED_DOCTOR_FAILURE_THRESHOLD`: the key prefixed with
    /// `telemed.doctor`, as swift-configuration's environment provider spells it.
    static func environmentName(_ key: String) -> String {
        (["TELEMED", "DOCTOR"] + words(key).map { $0.uppercased() }).joined(separator: "_")
    }

    private static func words(_ key: String) -> [String] {
        var words: [String] = []
        var current = ""
        var previousLower = false
        for character in key {
            if character.isUppercase && previousLower {
                words.append(current)
                current = ""
            }
            current.append(character.lowercased())
            previousLower = character.isLowercase || character.isNumber
        }
        words.append(current)
        return words
    }
}

/// Where an effective value came from.
enum SettingOrigin: CustomStringConvertible {
    case byDefault
    case file(String)
    case environment(String)
    case flag(String)

    var description: String {
        switch self {
        case .byDefault: return "default"
        case let .file(path): return "file \(path)"
        case let .environment(name): return "env \(name)"
        case let .flag(name): return "flag --\(name)"
        }
    }
}

// MARK: - Errors

/// A setting that was refused; nothing was started or written.
enum SettingsError: Error, CustomStringConvertible {
    /// A value outside its allowed range.
    case outOfRange(key: String, value: Int, allowed: ClosedRange<Int>, origin: SettingOrigin)
    /// A value of the wrong type (text where a whole number belongs, a fraction, a number too large).
    case notAWholeNumber(key: String, origin: SettingOrigin, expected: String)
    /// A trusted-source entry that is no address or network.
    case badTrustedSource(entry: String, reason: String, origin: SettingOrigin)
    /// Too many trusted-source entries.
    case tooManyTrustedSources(count: Int, max: Int, origin: SettingOrigin)
    /// A configuration file key that is no setting.
    case unknownKey(key: String, file: String)
    /// A configuration file that cannot be read or is no JSON object.
    case unreadableFile(path: String, reason: String)

    var description: String {
        switch self {
        case let .outOfRange(key, value, allowed, origin):
            return "\(key) = \(value) (\(origin)) is outside the allowed range \(allowed.lowerBound)...\(allowed.upperBound)"
        case let .notAWholeNumber(key, origin, expected):
            if case let .environment(name) = origin, let text = ProcessInfo.processInfo.environment[name] {
                return "\(key) = \"\(text.prefix(80))\" (\(origin)) is not \(expected)"
            }
            return "\(key) (\(origin)) is not \(expected)"
        case let .badTrustedSource(entry, reason, origin):
            return "trustedSources entry \"\(entry.prefix(80))\" (\(origin)) is not an address or network: \(reason)"
        case let .tooManyTrustedSources(count, max, origin):
            return "trustedSources (\(origin)) has \(count) entries; at most \(max) are allowed"
        case let .unknownKey(key, file):
            return "unknown key \"\(key.prefix(80))\" in \(file); the keys are: \(SettingKey.all.joined(separator: ", "))"
        case let .unreadableFile(path, reason):
            return "cannot read the configuration file \(path): \(reason)"
        }
    }
}

// MARK: - Resolution

/// The effective settings and where each came from.
struct ResolvedSettings {
    var configuration: DoctorConfiguration
    var handshakeWorkers: Int
    var origins: [String: SettingOrigin]

    /// Reads every setting from `flags`, then the environment, then the file (the first that
    /// has a key wins), then the default, and checks each against its range. A refusal throws
    /// before anything is started or written.
    static func resolve(flags: SettingsOptions, environment: [String: String]) async throws -> ResolvedSettings {
        var layers: [(provider: any ConfigProvider, origin: (String) -> SettingOrigin)] = []
        layers.append((InMemoryProvider(name: "flags", values: flags.values),
                       { SettingOrigin.flag(SettingKey.flag($0)) }))
        let telemed = environment.filter { $0.key.hasPrefix("TELEMED_DOCTOR_") }
        layers.append((EnvironmentVariablesProvider(environmentVariables: telemed).prefixKeys(with: ["telemed", "doctor"]),
                       { SettingOrigin.environment(SettingKey.environmentName($0)) }))
        if let path = flags.config {
            let file = try await Self.fileProvider(path)
            layers.append((file, { _ in SettingOrigin.file(path) }))
        }

        var resolved = ResolvedSettings(configuration: DoctorConfiguration(),
                                        handshakeWorkers: HandshakeJobPool.defaultWorkers, origins: [:])
        for (key, allowed) in SettingKey.numeric {
            resolved.origins[key] = .byDefault
            for layer in layers {
                let found: ConfigValue?
                do {
                    found = try layer.provider.value(forKey: AbsoluteConfigKey([key]), type: .int).value
                } catch {
                    throw SettingsError.notAWholeNumber(key: key, origin: layer.origin(key), expected: "a whole number")
                }
                guard let found else { continue }
                guard case let .int(value) = found.content else {
                    throw SettingsError.notAWholeNumber(key: key, origin: layer.origin(key), expected: "a whole number")
                }
                guard allowed.contains(value) else {
                    throw SettingsError.outOfRange(key: key, value: value, allowed: allowed, origin: layer.origin(key))
                }
                if let setting = DoctorConfiguration.setting(key) {
                    try setting.set(value, in: &resolved.configuration)
                } else {
                    resolved.handshakeWorkers = value
                }
                resolved.origins[key] = layer.origin(key)
                break
            }
        }

        resolved.origins[SettingKey.trustedSources] = .byDefault
        for layer in layers {
            let key = SettingKey.trustedSources
            let found: ConfigValue?
            do {
                found = try layer.provider.value(forKey: AbsoluteConfigKey([key]), type: .stringArray).value
            } catch {
                throw SettingsError.notAWholeNumber(key: key, origin: layer.origin(key),
                                                    expected: "a list of addresses or networks")
            }
            guard let found else { continue }
            guard case let .stringArray(entries) = found.content else {
                throw SettingsError.notAWholeNumber(key: key, origin: layer.origin(key),
                                                    expected: "a list of addresses or networks")
            }
            let texts = entries.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard texts.count <= DoctorConfiguration.maxTrustedSources else {
                throw SettingsError.tooManyTrustedSources(count: texts.count, max: DoctorConfiguration.maxTrustedSources,
                                                          origin: layer.origin(key))
            }
            resolved.configuration.trustedSources = try texts.map { text in
                do {
                    return try TrustedSource(operatorText: text)
                } catch {
                    throw SettingsError.badTrustedSource(entry: text, reason: "\(error)", origin: layer.origin(key))
                }
            }
            resolved.origins[key] = layer.origin(key)
            break
        }
        // The table above and validated() are one table; this cannot refuse what passed it, but
        // the library's own check has the last word.
        resolved.configuration = try resolved.configuration.validated()
        return resolved
    }

    /// The JSON file, refusing unreadable files and keys that are no setting (a typo must not
    /// fall back to a default silently).
    private static func fileProvider(_ path: String) async throws -> FileProvider<JSONSnapshot> {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SettingsError.unreadableFile(path: path, reason: "no such file or not readable")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let dictionary = object as? [String: Any] else {
            throw SettingsError.unreadableFile(path: path, reason: "not a JSON object")
        }
        let known = Set(SettingKey.all)
        if let unknown = dictionary.keys.sorted().first(where: { !known.contains($0) }) {
            throw SettingsError.unknownKey(key: unknown, file: path)
        }
        do {
            return try await FileProvider<JSONSnapshot>(filePath: FilePath(path))
        } catch {
            throw SettingsError.unreadableFile(path: path, reason: "\(error)")
        }
    }

    /// The `config --print` table: key, value, allowed range, origin.
    func table() -> [String] {
        var rows: [[String]] = [["key", "value", "allowed", "source"]]
        for (key, allowed) in SettingKey.numeric {
            let value = DoctorConfiguration.setting(key)?.value(in: configuration) ?? handshakeWorkers
            rows.append([key, "\(value)", "\(allowed.lowerBound)...\(allowed.upperBound)", "\(origins[key] ?? .byDefault)"])
        }
        let trusted = configuration.trustedSources.map(\.description).joined(separator: ",")
        rows.append([SettingKey.trustedSources, trusted.isEmpty ? "(none)" : trusted,
                     "0...\(DoctorConfiguration.maxTrustedSources) entries",
                     "\(origins[SettingKey.trustedSources] ?? .byDefault)"])
        let widths = (0..<3).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            (0..<3).map { row[$0].padding(toLength: widths[$0] + 2, withPad: " ", startingAt: 0) }.joined() + row[3]
        }
    }
}

extension TrustedSource {
    /// Parses `192.0.2.7`, `10.1.2.0/24`, `2001:db8::/48` with the transport's IP parser.
    init(operatorText text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let ip = IPAddress(String(parts[0])) else {
            throw ValidationError("not an IP address")
        }
        var length: Int?
        if parts.count == 2 {
            guard let number = Int(parts[1]), number >= 0 else { throw ValidationError("bad prefix length") }
            length = number
        }
        try self.init(addressBytes: ip.bytes, prefixLength: length)
    }
}

// MARK: - Flags

/// `--config FILE` and one flag per setting (flags win over the environment and the file).
struct SettingsOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A JSON configuration file of settings (keys: `doctor config --print`; flags and TELEMED_DOCTOR_* "
            + "environment variables win over it).", valueName: "file"))
    var config: String?

    @Option(help: Self.help("timeWindowMillis")) var timeWindowMillis: Int?
    @Option(help: Self.help("handshakeTimeoutMillis")) var handshakeTimeoutMillis: Int?
    @Option(help: Self.help("failureThreshold")) var failureThreshold: Int?
    @Option(help: Self.help("failureWindowMillis")) var failureWindowMillis: Int?
    @Option(help: Self.help("blockDurationMillis")) var blockDurationMillis: Int?
    @Option(help: Self.help("pendingPerSource")) var pendingPerSource: Int?
    @Option(help: Self.help("pendingPerPrefix")) var pendingPerPrefix: Int?
    @Option(help: Self.help("pendingTotal")) var pendingTotal: Int?
    @Option(help: Self.help("sourceBlockCapacity")) var sourceBlockCapacity: Int?
    @Option(help: Self.help("failureTableCapacity")) var failureTableCapacity: Int?
    @Option(help: Self.help("deviceBlocksPerPatient")) var deviceBlocksPerPatient: Int?
    @Option(help: Self.help("replayCacheCapacity")) var replayCacheCapacity: Int?
    @Option(name: .customLong("replay-quota-per-id"), help: Self.help("replayQuotaPerID")) var replayQuotaPerID: Int?
    @Option(help: Self.help("maxActivePatients")) var maxActivePatients: Int?
    @Option(help: Self.help("repeatedDeviceBlockAlertSources")) var repeatedDeviceBlockAlertSources: Int?
    @Option(help: Self.help("writeTimeoutMillis")) var writeTimeoutMillis: Int?
    @Option(help: Self.help("outboundQueueBytes")) var outboundQueueBytes: Int?
    @Option(help: Self.help("epochWindowMillis")) var epochWindowMillis: Int?
    @Option(name: [.customLong("minimum-version"), .customLong("min-version")], help: Self.help("minimumVersion"))
    var minimumVersion: Int?
    @Option(help: ArgumentHelp(
        "Threads verifying logins in parallel; default one per core, 0 verifies them on the doctor's own task "
            + "(\(HandshakeJobPool.allowedWorkers.lowerBound)...\(HandshakeJobPool.allowedWorkers.upperBound)).",
        valueName: "n"))
    var handshakeWorkers: Int?
    @Option(help: ArgumentHelp(
        "Comma-separated addresses or networks (192.0.2.7, 10.1.2.0/24, 2001:db8::/48) whose failed logins are "
            + "never counted and which no source block refuses; device blocks still apply. Default: none.",
        valueName: "list"))
    var trustedSources: String?

    /// The flag help of a table setting: its meaning, unit and range from the one table.
    static func help(_ key: String) -> ArgumentHelp {
        guard let setting = DoctorConfiguration.setting(key) else { return ArgumentHelp(key) }
        let unit = setting.unit == .milliseconds ? " ms" : setting.unit == .bytes ? " bytes" : ""
        return ArgumentHelp("\(setting.summary) (\(setting.allowed.lowerBound)...\(setting.allowed.upperBound)\(unit); "
                                + "default \(setting.defaultValue)).", valueName: setting.unit == .version ? "1|2" : "n")
    }

    /// The flags given, as configuration values.
    var values: [AbsoluteConfigKey: ConfigValue] {
        let numbers: [(String, Int?)] = [
            ("timeWindowMillis", timeWindowMillis), ("handshakeTimeoutMillis", handshakeTimeoutMillis),
            ("failureThreshold", failureThreshold), ("failureWindowMillis", failureWindowMillis),
            ("blockDurationMillis", blockDurationMillis), ("pendingPerSource", pendingPerSource),
            ("pendingPerPrefix", pendingPerPrefix), ("pendingTotal", pendingTotal),
            ("sourceBlockCapacity", sourceBlockCapacity), ("failureTableCapacity", failureTableCapacity),
            ("deviceBlocksPerPatient", deviceBlocksPerPatient), ("replayCacheCapacity", replayCacheCapacity),
            ("replayQuotaPerID", replayQuotaPerID), ("maxActivePatients", maxActivePatients),
            ("repeatedDeviceBlockAlertSources", repeatedDeviceBlockAlertSources),
            ("writeTimeoutMillis", writeTimeoutMillis), ("outboundQueueBytes", outboundQueueBytes),
            ("epochWindowMillis", epochWindowMillis), ("minimumVersion", minimumVersion),
            (SettingKey.handshakeWorkers, handshakeWorkers),
        ]
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for case let (key, value?) in numbers { values[AbsoluteConfigKey([key])] = ConfigValue(.int(value), isSecret: false) }
        if let trustedSources {
            let entries = trustedSources.split(separator: ",").map(String.init)
            values[AbsoluteConfigKey([SettingKey.trustedSources])] = ConfigValue(.stringArray(entries), isSecret: false)
        }
        return values
    }

    /// Resolves the settings with the process environment.
    func resolve() async throws -> ResolvedSettings {
        try await ResolvedSettings.resolve(flags: self, environment: ProcessInfo.processInfo.environment)
    }
}

// MARK: - config

/// `doctor config --print`: the effective settings and where each came from.
struct Config: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the effective settings and where each value came from.",
        discussion: """
            Every policy setting of `doctor serve` comes, in this order of precedence, from its flag \
            (--failure-threshold 10), an environment variable (TELEMED_DOCTOR_FAILURE_THRESHOLD=10), the \
            JSON file given with --config ({"failureThreshold": 10}) or its default. A value outside its \
            allowed range, of the wrong type or an unknown key in the file is refused with the key, the \
            value and the range, and `serve` then starts nothing and writes nothing. trustedSources is one \
            list: the layer that has it replaces it whole.

            Exit status: 0 printed; 1 a refused setting (the message names key, value, source and range); 64 usage.

            Examples:
              doctor config --print
              doctor config --print --config clinic.json --failure-threshold 10
              TELEMED_DOCTOR_TRUSTED_SOURCES=10.1.2.0/24 doctor config --print
            """)

    @Flag(name: .long, help: "Print the effective settings (key, value, allowed range, source).")
    var print = false

    @OptionGroup var settings: SettingsOptions

    func run() async throws {
        guard print else { throw ValidationError("nothing to do: use --print") }
        let resolved = try await settings.resolve()
        for line in resolved.table() { say(line) }
    }
}
