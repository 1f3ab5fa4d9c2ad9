// The one table of the doctor's numeric settings: each field's key, allowed range, unit and
// meaning. `DoctorConfiguration.validated()` checks these ranges, and hosts (the `doctor`
// executable's configuration file, environment and flags, its `config --print`) read the
// same table, so a range is written down once.

extension DoctorConfiguration {
    /// What a setting's number measures.
    public enum SettingUnit: String, Sendable {
        /// Milliseconds.
        case milliseconds
        /// A count (entries, failures, handshakes, sources).
        case count
        /// Bytes.
        case bytes
        /// A protocol version number (1 or 2).
        case version
    }

    /// One numeric field of ``DoctorConfiguration``: its key (the field's name), the range
    /// ``DoctorConfiguration/validated()`` allows, its unit and meaning, and access to it.
    public struct Setting: Sendable {
        /// The field's name, e.g. `failureThreshold`.
        public let key: String
        /// The values ``DoctorConfiguration/validated()`` accepts.
        public let allowed: ClosedRange<Int>
        /// What the number measures.
        public let unit: SettingUnit
        /// One line on what the setting does.
        public let summary: String
        private let read: @Sendable (DoctorConfiguration) -> Int
        private let write: @Sendable (inout DoctorConfiguration, Int) -> Void

        init(_ key: String, _ allowed: ClosedRange<Int>, _ unit: SettingUnit, _ summary: String,
             read: @escaping @Sendable (DoctorConfiguration) -> Int,
             write: @escaping @Sendable (inout DoctorConfiguration, Int) -> Void) {
            self.key = key
            self.allowed = allowed
            self.unit = unit
            self.summary = summary
            self.read = read
            self.write = write
        }

        /// The setting's value in `configuration`.
        public func value(in configuration: DoctorConfiguration) -> Int { read(configuration) }

        /// The default value (that of `DoctorConfiguration()`).
        public var defaultValue: Int { read(DoctorConfiguration()) }

        /// Refuses a value outside ``allowed``, naming the key, the value and the range.
        public func check(_ value: Int) throws(ConfigurationError) {
            try DoctorConfiguration.check(key, value, allowed)
        }

        /// Sets the field to `value` after ``check(_:)``; a refused value changes nothing.
        public func set(_ value: Int, in configuration: inout DoctorConfiguration) throws(ConfigurationError) {
            try check(value)
            write(&configuration, value)
        }
    }

    /// Every numeric field, in declaration order, with its allowed range (PROTOCOL.md §5,
    /// "Defaults and bounds"; §7 for the replay quota, write timeout, outbound bound and epoch
    /// window).
    public static let settings: [Setting] = {
        let table = 1...1_000_000
        func millis(_ key: String, _ allowed: ClosedRange<Int>, _ summary: String,
                    _ path: WritableKeyPath<DoctorConfiguration, UInt64> & Sendable) -> Setting {
            Setting(key, allowed, .milliseconds, summary,
                    read: { Int(clamping: $0[keyPath: path]) },
                    write: { $0[keyPath: path] = UInt64(clamping: $1) })
        }
        func number(_ key: String, _ allowed: ClosedRange<Int>, _ unit: SettingUnit, _ summary: String,
                    _ path: WritableKeyPath<DoctorConfiguration, Int> & Sendable) -> Setting {
            Setting(key, allowed, unit, summary, read: { $0[keyPath: path] }, write: { $0[keyPath: path] = $1 })
        }
        return [
            millis("timeWindowMillis", 1_000...300_000,
                   "ΔTS: the largest accepted difference between a request's ts and the doctor's clock",
                   \.timeWindowMillis),
            millis("handshakeTimeoutMillis", 1_000...60_000,
                   "from accept until the patient is active; a slower handshake is closed", \.handshakeTimeoutMillis),
            number("failureThreshold", 1...100, .count,
                   "R-SRC: failures of one source within the failure window that block it", \.failureThreshold),
            millis("failureWindowMillis", 60_000...1_440 * 60_000, "R-SRC: the sliding window failures are counted in",
                   \.failureWindowMillis),
            millis("blockDurationMillis", 60_000...7 * 24 * 3_600_000, "how long source and device blocks last",
                   \.blockDurationMillis),
            number("pendingPerSource", table, .count, "pending handshakes one source may hold", \.pendingPerSource),
            number("pendingPerPrefix", table, .count, "pending handshakes one /24 or /48 may hold", \.pendingPerPrefix),
            number("pendingTotal", table, .count, "pending handshakes in all", \.pendingTotal),
            number("sourceBlockCapacity", table, .count, "source-block table entries", \.sourceBlockCapacity),
            number("failureTableCapacity", table, .count, "failure-counter table entries (one per source)",
                   \.failureTableCapacity),
            number("deviceBlocksPerPatient", 1...1_000, .count,
                   "device blocks per enrolled patient (the table holds this × enrolled)", \.deviceBlocksPerPatient),
            number("replayCacheCapacity", table, .count, "verified (id, rn) pairs remembered for 2·ΔTS",
                   \.replayCacheCapacity),
            number("replayQuotaPerID", table, .count, "live replay-cache entries one patient id may hold",
                   \.replayQuotaPerID),
            number("maxActivePatients", table, .count, "active patients at once", \.maxActivePatients),
            number("repeatedDeviceBlockAlertSources", 2...100, .count,
                   "distinct sources whose device blocks of one id within 24 h raise an alert",
                   \.repeatedDeviceBlockAlertSources),
            millis("writeTimeoutMillis", 1_000...600_000,
                   "a connection whose queued frames cannot be written for this long is closed", \.writeTimeoutMillis),
            number("outboundQueueBytes", 65_540...(64 << 20), .bytes,
                   "the most bytes that may wait unwritten for one connection", \.outboundQueueBytes),
            millis("epochWindowMillis", 0...1_000,
                   "W: membership changes within it share one new epoch (0: one epoch per change)",
                   \.epochWindowMillis),
            Setting("minimumVersion", 1...2, .version,
                    "the lowest protocol version accepted (R-VERSION below it, not counted); 1 only while devices migrate",
                    read: { $0.minimumVersion.rawValue },
                    write: { $0.minimumVersion = ProtocolVersion(rawValue: $1) ?? .v2 }),
        ]
    }()

    /// The setting of `key` (a field name such as `failureThreshold`), if there is one.
    public static func setting(_ key: String) -> Setting? {
        settings.first { $0.key == key }
    }
}
