@testable import TelemedProtocol

/// The cast and the configuration every model run uses.
enum ModelWorld {
    /// Enrolled patients (indices in events refer to this list).
    static let patients = ["amy", "ben", "cat", "dan"]
    /// Not enrolled: requests claiming it are R-ID.
    static let unknown = "zed"
    /// Signs forgeries.
    static let forger = "mallory"
    /// Five sources; the first two share a /24, the last is IPv6.
    static let sources = ["10.0.0.1", "10.0.0.2", "10.0.1.1", "192.0.2.7", "2001:db8::1"]

    static let sourceAddresses: [SourceAddress] = sources.map { text in
        guard let address = SourceAddress(ipText: text) else { preconditionFailure("test source \(text) must parse") }
        return address
    }
    static let patientIDs: [PeerID] = patients.map(peer)
    static let unknownID = peer(unknown)

    static func peer(_ name: String) -> PeerID {
        do { return try PeerID(name) } catch { preconditionFailure("test id \(name) must be valid") }
    }

    /// Small tables and short times so that every limit and expiry is reachable in a few events.
    /// Minimum version 1: both versions are accepted unless a run says otherwise.
    static var configuration: DoctorConfiguration { configuration(minimumVersion: .v1) }

    /// The same with the doctor's minimum version set explicitly (PROTOCOL.md §8.6.3).
    static func configuration(minimumVersion: ProtocolVersion) -> DoctorConfiguration {
        var c = DoctorConfiguration()
        c.minimumVersion = minimumVersion
        c.timeWindowMillis = 2_000
        c.handshakeTimeoutMillis = 6_000
        c.failureThreshold = 3
        c.failureWindowMillis = 60_000
        c.blockDurationMillis = 120_000
        c.pendingPerSource = 2
        c.pendingPerPrefix = 3
        c.pendingTotal = 5
        c.sourceBlockCapacity = 3
        c.failureTableCapacity = 4
        c.deviceBlocksPerPatient = 1
        c.replayCacheCapacity = 6
        c.replayQuotaPerID = 2
        c.maxActivePatients = 3
        // Batched epochs (§7.1) at a window the events can straddle: an `advance` of 10 ms
        // ends inside it, every longer one past it.
        c.epochWindowMillis = 20
        return c
    }
}
