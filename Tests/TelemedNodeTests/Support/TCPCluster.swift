import Logging
import TelemedNode
import TelemedProtocol
import TelemedTCP
import TelemedTransport
import XCTest

/// A doctor service on an ephemeral loopback port and patient services with their own TCP
/// clients, all on the system clock.
final class TCPCluster: @unchecked Sendable {
    let server: TCPServerTransport
    let doctor: DoctorService
    let doctorEvents = Recorder<DoctorEvent>()
    private(set) var patients: [String: PatientService] = [:]
    private(set) var clients: [TCPClientTransport] = []
    private(set) var runs: [String: Task<PatientOutcome, Never>] = [:]
    let patientEvents = Recorder<(String, PatientServiceEvent)>()
    /// The server's opened, closed and refused events as the doctor took them (only when
    /// built with `recordTransport`).
    let transportEvents = Recorder<TransportEvent>()

    /// A doctor over TCP on 127.0.0.1. Without `server`, the listener is built as `doctor serve`
    /// builds it: the connection cap, write timeout and outbound bound of `configuration`
    /// (`DoctorConfiguration.transportBounds`).
    init(enrolling names: [String], configuration: DoctorConfiguration = .acceptingVersion1,
         server serverConfiguration: TCPServerTransport.Configuration? = nil,
         recordTransport: Bool = false, store: (any DoctorStore)? = nil) async throws {
        server = try await TCPServerTransport.start(
            configuration: serverConfiguration
                ?? .init(host: "127.0.0.1", port: 0, bounds: configuration.transportBounds))
        let recorder = doctorEvents
        let transport: any AsyncTransport = recordTransport ? TappedTransport(server, into: transportEvents) : server
        if let store {
            doctor = DoctorService(configuration: configuration, keys: TestKeys.doctor(enrolling: names), store: store,
                                   transport: transport, logger: TestLog.logger("test.doctor"),
                                   observer: { recorder.append($0) })
        } else {
            doctor = DoctorService(configuration: configuration, keys: TestKeys.doctor(enrolling: names), databasePath: nil,
                                   transport: transport, logger: TestLog.logger("test.doctor"),
                                   observer: { recorder.append($0) })
        }
        try await doctor.start()
    }

    var port: Int { server.boundPort }

    /// Starts a patient service (it connects at once; reconnecting off unless `reconnect` says
    /// otherwise). `observe` sees each service event right after the recorder, on the service.
    func startPatient(_ name: String, clock: any NodeClock = SystemClock(), reconnect: ReconnectPolicy = .never,
                      version: ProtocolVersion = .v1, observe: (@Sendable (PatientServiceEvent) -> Void)? = nil) {
        let client = TCPClientTransport()
        clients.append(client)
        let port = self.port
        let recorder = patientEvents
        var configuration = PatientConfiguration()
        configuration.version = version
        let service = PatientService(configuration: configuration, credential: TestKeys.credential(name, port: port), transport: client,
                                     connect: { try await client.connect(host: "127.0.0.1", port: port) },
                                     reconnect: reconnect, clock: clock, logger: TestLog.logger("test.\(name)"),
                                     observer: { event in
                                         recorder.append((name, event))
                                         observe?(event)
                                     })
        patients[name] = service
        runs[name] = Task { await service.run() }
    }

    /// The service events of one patient, in order.
    func serviceEvents(_ name: String) -> [PatientServiceEvent] {
        patientEvents.all.compactMap { $0.0 == name ? $0.1 : nil }
    }

    func sessionEvents(_ name: String) -> [PatientEvent] {
        patientEvents.all.compactMap { entry in
            guard entry.0 == name, case let .session(event) = entry.1 else { return nil }
            return event
        }
    }

    func broadcasts(_ name: String) -> [String] {
        sessionEvents(name).compactMap {
            if case let .broadcastReceived(_, _, _, text) = $0 { return text }
            return nil
        }
    }

    func latestEpoch(_ name: String) -> UInt64 {
        sessionEvents(name).reduce(0) { epoch, event in
            switch event {
            case let .authenticated(e, _), let .groupKeyChanged(e, _): return max(epoch, e)
            default: return epoch
            }
        }
    }

    func shutdown() async {
        await doctor.shutdown(reason: "test over", kind: .shutdown)
        await server.shutdown()
        for client in clients { await client.shutdown() }
        for run in runs.values { _ = await run.value }
    }
}
