import Logging
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport
import XCTest

/// Test keys, generated once per process from fixed seeds (deterministic, never secret).
enum TestKeys {
    static let group = TelemedGroup.telemed2048
    nonisolated(unsafe) private static var cache: [String: PrivateKey] = [:]
    private static let lock = NSLock()

    static func key(_ name: String) -> PrivateKey {
        lock.lock()
        defer { lock.unlock() }
        if let key = cache[name] { return key }
        var rng = SeededRandom(seed: Array("node-tests \(name)".utf8))
        let key = PrivateKey(generatingIn: group, using: &rng)
        cache[name] = key
        return key
    }

    static func id(_ name: String) -> PeerID {
        guard let id = try? PeerID(name) else { preconditionFailure("test ids are valid") }
        return id
    }

    static func doctor(enrolling names: [String]) -> DoctorKeyMaterial {
        var registry: [PeerID: PublicKey] = [:]
        for name in names { registry[id(name)] = key(name).publicKey }
        return DoctorKeyMaterial(group: group, identity: id("doctor"), privateKey: key("doctor"), registry: registry)
    }

    static func credential(_ name: String, port: Int = 8000) -> PatientCredential {
        PatientCredential(identity: id(name), privateKey: key(name), doctorID: id("doctor"),
                          doctorKey: key("doctor").publicKey, host: "127.0.0.1", port: port)
    }
}

/// A doctor node and patient nodes on one scripted in-memory network, driven synchronously
/// with a virtual clock and manual timers: the same wiring the simulator uses.
final class InMemoryCluster {
    let network = InMemoryNetwork()
    let clock = TestClock()
    let doctorEndpoint: InMemoryEndpoint
    let doctorTimers = ManualTimerScheduler()
    let doctor: DoctorNode
    let store: any DoctorStore
    let audit: AuditLog
    let listenAddress: PeerAddress
    var patients: [String: PatientNode] = [:]
    var patientEndpoints: [String: InMemoryEndpoint] = [:]
    var patientEvents: [String: [PatientEvent]] = [:]
    private var nextHost = 10

    /// - Parameters:
    ///   - commits: how the doctor commits (inline unless a test looks at group commit).
    ///   - doctorTransport: wraps the doctor's endpoint (a test that looks at every send).
    init(enrolling names: [String], store: (any DoctorStore)? = nil,
         configuration: DoctorConfiguration = DoctorConfiguration(), commits: StoreCommitMode = .inline,
         doctorTransport: ((InMemoryEndpoint) -> any Transport)? = nil, metrics: DoctorMetrics = DoctorMetrics()) throws {
        doctorEndpoint = network.addEndpoint(named: "doctor", host: "10.0.0.1")
        listenAddress = doctorEndpoint.listen(port: 8000)
        self.store = try store ?? SecurityStore.inMemory()
        audit = AuditLog(store: self.store)
        let box = EventBox()
        doctor = try DoctorNode(configuration: configuration, keys: TestKeys.doctor(enrolling: names),
                                securityStore: self.store, audit: audit,
                                transport: doctorTransport?(doctorEndpoint) ?? doctorEndpoint, clock: clock,
                                timers: doctorTimers, rng: NodeRandom(SeededRandom(seed: 7)),
                                logger: TestLog.logger("test.doctor"), observer: { box.events.append($0) },
                                commits: commits, metrics: metrics)
        doctorBox = box
        epochWindowMillis = configuration.epochWindowMillis
        try doctor.start()
    }

    private let doctorBox: EventBox
    private let epochWindowMillis: UInt64
    final class EventBox { var events: [DoctorEvent] = [] }

    /// All doctor events so far.
    var events: [DoctorEvent] { doctorBox.events }

    /// Connects a patient from its own address (10.0.1.x) and runs the network until idle.
    /// `credential` overrides the test key of `name` (a patient with a new device key).
    @discardableResult
    func connect(_ name: String, host: String? = nil, credential: PatientCredential? = nil) throws -> PatientNode {
        nextHost += 1
        let endpoint = network.addEndpoint(named: "\(name)-\(nextHost)", host: host ?? "10.0.1.\(nextHost)")
        let connection = endpoint.connect(to: listenAddress)
        let node = try PatientNode(configuration: PatientConfiguration(), credential: credential ?? TestKeys.credential(name),
                                   transport: endpoint, connection: connection, clock: clock,
                                   timers: ManualTimerScheduler(), rng: NodeRandom(SeededRandom(seed: UInt64(nextHost))),
                                   logger: TestLog.logger("test.\(name)"),
                                   observer: { [weak self] event in self?.patientEvents[name, default: []].append(event) })
        patients[name] = node
        patientEndpoints[endpoint.name] = endpoint
        endpointOwner[endpoint.name] = name
        run()
        return node
    }

    private var endpointOwner: [String: String] = [:]
    /// Sees every transport event just before the doctor handles it.
    var doctorInputTap: ((TransportEvent) -> Void)?
    /// Events of endpoints the test drives by hand (attackers), kept for ``frames(for:)``.
    private var scriptedEvents: [String: [TransportEvent]] = [:]

    /// Removes and returns the frame bodies a hand-driven endpoint received.
    func frames(for endpoint: InMemoryEndpoint) -> [[UInt8]] {
        defer { scriptedEvents[endpoint.name] = nil }
        return (scriptedEvents[endpoint.name] ?? []).compactMap { event in
            if case let .frame(_, body) = event { return body }
            return nil
        }
    }

    /// Delivers everything in flight, handing each event to its node; when the doctor then
    /// waits on an epoch window (PROTOCOL.md §7.1), lets the window pass on the virtual clock,
    /// fires it through `DoctorNode.timerFired` and delivers again, until nothing is pending.
    func run() {
        deliverAll()
        while doctorTimers.due[.doctor(.epochWindow)] != nil {
            clock.advance(millis: epochWindowMillis)
            doctorTimers.cancel(.doctor(.epochWindow))
            doctor.timerFired(.doctor(.epochWindow))
            deliverAll()
        }
    }

    private func deliverAll() {
        let outcome = network.runUntilIdle(maxSteps: 10_000) { [self] event in
            if event.endpoint == "doctor" {
                doctorInputTap?(event.event)
                doctor.handle(event.event)
            } else if let name = endpointOwner[event.endpoint] {
                patients[name]?.handle(event.event)
            } else {
                scriptedEvents[event.endpoint, default: []].append(event.event)
            }
        }
        XCTAssertNotEqual(outcome, .stepLimitReached)
    }

    func broadcasts(of name: String) -> [String] {
        (patientEvents[name] ?? []).compactMap {
            if case let .broadcastReceived(_, _, _, text) = $0 { return text }
            return nil
        }
    }
}
