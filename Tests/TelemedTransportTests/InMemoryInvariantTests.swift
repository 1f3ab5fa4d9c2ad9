import TelemedTestSupport
import TelemedTransport
import Testing

/// Random schedules of actions and faults on `InMemoryNetwork` (connect, send, sendRaw, close,
/// drop, duplicate, deliver) never break the event contract: per connection end, `opened`
/// comes first (an end closed before it opened reports only its close), frames only between,
/// one `closed`, and nothing after it. One case per seed (`@Test(arguments:)` over
/// `ReplaySeed.seeds`); a failure prints its `replay: TELEMED_SEED=<n> swift test --filter
/// InMemoryInvariantTests/<test>` line.
@Suite struct InMemoryInvariantTests {
    /// 200 random actions and faults on a three-client network, then `runUntilIdle`.
    @Test(arguments: try ReplaySeed.seeds(1...150))
    func testEventContractHoldsUnderRandomFaults(seed: UInt64) {
        if let problem = run(seed: seed) {
            Issue.record("seed \(seed): \(problem)\n\(ReplaySeed.hint(seed))")
        }
    }

    private func run(seed: UInt64) -> String? {
        var rng = SplitMix64(seed: seed)
        let network = InMemoryNetwork()
        let server = network.addEndpoint(named: "server", host: "10.0.0.1")
        let address = server.listen(port: 1, maxConnections: 3)
        let clients = (0..<3).map { network.addEndpoint(named: "c\($0)", host: "10.0.1.\($0 % 2)") }
        var owned: [(InMemoryEndpoint, ConnectionID)] = []
        var log: [String: [TransportEvent]] = [:]

        for _ in 0..<200 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0:
                let client = clients.randomElement(using: &rng)!
                owned.append((client, client.connect(to: address)))
            case 1, 2:
                if let (endpoint, id) = owned.randomElement(using: &rng) {
                    endpoint.send([UInt8.random(in: 0...255, using: &rng)], on: id)
                }
            case 3:
                if let (endpoint, id) = owned.randomElement(using: &rng) {
                    endpoint.sendRaw((0..<Int.random(in: 1...6, using: &rng)).map { _ in UInt8.random(in: 0...2, using: &rng) }, on: id)
                }
            case 4:
                if let (endpoint, id) = owned.randomElement(using: &rng) { endpoint.close(id) }
            case 5:
                if let delivery = network.pendingDeliveries.randomElement(using: &rng) { network.drop(delivery.id) }
            case 6:
                if let delivery = network.pendingDeliveries.randomElement(using: &rng) { network.duplicate(delivery.id) }
            default:
                if let delivery = network.pendingDeliveries.randomElement(using: &rng) { network.deliver(delivery.id) }
            }
            for event in network.takeEvents() {
                log[event.endpoint, default: []].append(event.event)
                if event.endpoint == "server", case .opened(let id, _) = event.event { owned.append((server, id)) }
            }
        }
        _ = network.runUntilIdle(maxSteps: 10_000)
        for event in network.takeEvents() { log[event.endpoint, default: []].append(event.event) }
        return check(log)
    }

    private func check(_ log: [String: [TransportEvent]]) -> String? {
        for (endpoint, events) in log {
            var state: [ConnectionID: String] = [:]
            for event in events {
                guard let id = event.connection else { continue }
                switch (event, state[id]) {
                case (.opened, nil): state[id] = "open"
                case (.frame, "open"), (.frameStarted, "open"): continue
                case (.frameRefused, "open"): state[id] = "refused"  // nothing but a close may follow
                case (.closed, "open"), (.closed, "refused"), (.closed, nil): state[id] = "closed"
                default: return "\(endpoint): \(event) after \(state[id] ?? "nothing")"
                }
            }
        }
        return nil
    }
}
