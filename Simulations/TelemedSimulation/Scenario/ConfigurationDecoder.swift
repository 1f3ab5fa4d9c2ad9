import TelemedProtocol

// MARK: - ConfigurationDecoder

/// Reads the `config`, `patientConfig` and `network` objects of a scenario.
///
/// Protocol versions: a scenario that names none runs at version 1 on both sides (doctor
/// minimum 1, patients speaking 1), although the library's defaults are 2. The scenario format
/// predates version 2, and a file written then must keep meaning what it meant (its captured
/// `KEY_VERIFICATION` frames, its v1 crafting); a version-2 scenario says
/// `"config": {"minimumVersion": 2}` and `"patientConfig": {"version": 2}`.
enum ConfigurationDecoder {
    /// The version of a scenario that names none (see above).
    static let scenarioDefaultVersion = ProtocolVersion.v1

    static func doctor(_ value: JSONValue?, at path: String) throws(ScenarioError) -> DoctorConfiguration {
        var configuration = DoctorConfiguration()
        configuration.minimumVersion = scenarioDefaultVersion
        guard let value else { return configuration }
        var reader = try ObjectReader(value, at: path)
        func millis(_ key: String, _ target: inout UInt64) throws(ScenarioError) {
            if let number = try reader.uint(key) { target = number }
        }
        func count(_ key: String, _ target: inout Int) throws(ScenarioError) {
            if let number = try reader.uint(key, max: 10_000_000) { target = Int(number) }
        }
        try millis("timeWindowMillis", &configuration.timeWindowMillis)
        try millis("handshakeTimeoutMillis", &configuration.handshakeTimeoutMillis)
        try count("failureThreshold", &configuration.failureThreshold)
        try millis("failureWindowMillis", &configuration.failureWindowMillis)
        try millis("blockDurationMillis", &configuration.blockDurationMillis)
        try count("pendingPerSource", &configuration.pendingPerSource)
        try count("pendingPerPrefix", &configuration.pendingPerPrefix)
        try count("pendingTotal", &configuration.pendingTotal)
        try count("sourceBlockCapacity", &configuration.sourceBlockCapacity)
        try count("failureTableCapacity", &configuration.failureTableCapacity)
        try count("deviceBlocksPerPatient", &configuration.deviceBlocksPerPatient)
        try count("replayCacheCapacity", &configuration.replayCacheCapacity)
        try count("replayQuotaPerID", &configuration.replayQuotaPerID)
        try count("maxActivePatients", &configuration.maxActivePatients)
        try count("repeatedDeviceBlockAlertSources", &configuration.repeatedDeviceBlockAlertSources)
        try millis("writeTimeoutMillis", &configuration.writeTimeoutMillis)
        try millis("epochWindowMillis", &configuration.epochWindowMillis)
        if let number = try reader.uint("minimumVersion") {
            guard let version = ProtocolVersion(rawValue: Int(clamping: number)) else {
                throw ScenarioError(path: reader.child("minimumVersion"), message: "expected 1 or 2")
            }
            configuration.minimumVersion = version
        }
        try reader.finish()
        do {
            return try configuration.validated()
        } catch {
            throw ScenarioError(path: path, message: "\(error)")
        }
    }

    static func patient(_ value: JSONValue?, at path: String) throws(ScenarioError) -> PatientConfiguration {
        var configuration = PatientConfiguration()
        configuration.version = scenarioDefaultVersion
        guard let value else { return configuration }
        var reader = try ObjectReader(value, at: path)
        if let number = try reader.uint("timeWindowMillis") { configuration.timeWindowMillis = number }
        if let number = try reader.uint("handshakeTimeoutMillis") { configuration.handshakeTimeoutMillis = number }
        if let number = try reader.uint("epochWindowMillis") { configuration.epochWindowMillis = number }
        if let number = try reader.uint("version") {
            guard let version = ProtocolVersion(rawValue: Int(clamping: number)) else {
                throw ScenarioError(path: reader.child("version"), message: "expected 1 or 2")
            }
            configuration.version = version
        }
        try reader.finish()
        do {
            return try configuration.validated()
        } catch {
            throw ScenarioError(path: path, message: "\(error)")
        }
    }

    static func network(_ value: JSONValue?, at path: String) throws(ScenarioError) -> NetworkSpec {
        var network = NetworkSpec()
        guard let value else { return network }
        var reader = try ObjectReader(value, at: path)
        if let range = try reader.array("latencyMillis") {
            let rangePath = reader.child("latencyMillis")
            guard range.count == 2, let low = range[0].uintValue, let high = range[1].uintValue, low <= high,
                  high <= 600_000 else {
                throw ScenarioError(path: rangePath, message: "expected [min, max] with 0 ≤ min ≤ max ≤ 600000")
            }
            network.latencyMin = low
            network.latencyMax = high
        }
        if let p = try reader.probability("drop") { network.drop = p }
        if let p = try reader.probability("duplicate") { network.duplicate = p }
        if let p = try reader.probability("reorder") { network.reorder = p }
        try reader.finish()
        return network
    }
}
