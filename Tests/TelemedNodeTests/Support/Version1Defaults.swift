import TelemedProtocol

// The node tests written before version 2 script version-1 handshakes (their raw attackers craft
// KEY_VERIFICATION and read SESSION_TOKEN; `TCPCluster` patients speak version 1 unless asked).
// The library's defaults are version 2, so these say version 1 explicitly; version 2 over the
// same runtime is tested in Version2TCPTests and by the InMemoryCluster tests, which use the
// library defaults on both sides.

extension DoctorConfiguration {
    /// The defaults with minimum version 1.
    static var acceptingVersion1: DoctorConfiguration {
        var configuration = DoctorConfiguration()
        configuration.minimumVersion = .v1
        return configuration
    }
}

extension PatientConfiguration {
    /// The defaults, speaking version 1.
    static var version1: PatientConfiguration {
        var configuration = PatientConfiguration()
        configuration.version = .v1
        return configuration
    }
}
