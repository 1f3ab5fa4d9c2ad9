// MARK: - InMemoryNetwork
//
// Theory of operation. The network is a single-threaded, clockless model of TCP for tests and
// the simulator. Endpoints act (connect, send, close) and their traffic is put in flight as
// `InMemoryDelivery` values; NOTHING arrives on its own. The driver chooses what arrives and
// when: `deliverNext()` (FIFO), `deliver(id)` (any order), or the faults in
// `InMemoryNetwork+Faults.swift` (drop, duplicate, split, tamper, inject, fail). Arrivals turn
// into `TransportEvent`s queued per endpoint, which the driver takes with `takeEvents()`.
//
// Each connection has two ends with their own `ConnectionID`. An end is `connecting` until its
// connect request is delivered, then `open`; it is removed when it closes. Traffic for an end
// that is not open is discarded on arrival. A receiving end reads its byte stream with the
// same `FrameReader` as the TCP transport, so it reports the same events for the same bytes:
// `.frameStarted` when a delivery ends inside a frame, `.frame` per body, `.frameRefused` for a
// bad length prefix (the end stays open and writable; later bytes are ignored), and an end of
// stream inside a frame closes it with `.cutFrame`. Deciding what any of these means is the
// runtime's job: the network closes nothing by itself. Events that
// follow from the endpoint's own action (its `.closed(_, .byLocal)`) are queued at once; events
// caused by the peer wait for a delivery. Queues grow only through the driver's own actions.

/// A scripted network for tests and the deterministic simulator. Not thread-safe by design:
/// use it (and its endpoints) from one thread only.
public final class InMemoryNetwork {
    /// How a bounded run ended.
    public enum RunOutcome: Sendable, Equatable {
        /// Nothing is in flight (and, when events were being handed out, none is queued).
        case idle(steps: Int)
        /// The step bound was reached with work left.
        case stepLimitReached
    }

    enum EndState { case connecting, open }

    struct End {
        let endpoint: String
        let local: PeerAddress
        let remote: PeerAddress
        let peer: ConnectionID
        /// The listener that accepted this end, for the server side.
        let listener: PeerAddress?
        var state: EndState = .connecting
        var reader = FrameReader()
    }

    struct Listener {
        let endpoint: String
        let maxConnections: Int?
        var openConnections = 0
    }

    private var endpointNames: Set<String> = []
    private var listeners: [PeerAddress: Listener] = [:]
    var ends: [ConnectionID: End] = [:]
    private var nextPort: [IPAddress: Int] = [:]
    private var nextConnection: UInt64 = 1
    private var nextDelivery: UInt64 = 1
    /// The traffic in flight, oldest first.
    public internal(set) var pendingDeliveries: [InMemoryDelivery] = []
    /// The events not yet taken, oldest first, for every endpoint.
    public private(set) var pendingEvents: [InMemoryEvent] = []

    /// An empty network.
    public init() {}

    // MARK: - Endpoints

    /// Attaches an endpoint with a unique `name` at the IP address `host`.
    ///
    /// - Precondition: `host` is IP address text and `name` is not taken.
    public func addEndpoint(named name: String, host: String) -> InMemoryEndpoint {
        guard let ip = IPAddress(host) else {
            preconditionFailure("An in-memory endpoint needs an IP address, not \"\(host)\".")
        }
        precondition(endpointNames.insert(name).inserted, "The endpoint name \"\(name)\" is already taken.")
        return InMemoryEndpoint(name: name, ip: ip, network: self)
    }

    // MARK: - Events

    /// Removes and returns every queued event, oldest first.
    public func takeEvents() -> [InMemoryEvent] {
        defer { pendingEvents = [] }
        return pendingEvents
    }

    func takeEvents(for endpoint: String) -> [TransportEvent] {
        let mine = pendingEvents.filter { $0.endpoint == endpoint }.map(\.event)
        pendingEvents.removeAll { $0.endpoint == endpoint }
        return mine
    }

    func emit(_ event: TransportEvent, to endpoint: String) {
        pendingEvents.append(InMemoryEvent(endpoint: endpoint, event: event))
    }

    // MARK: - Driving

    /// Delivers the oldest traffic in flight; false when there is none.
    @discardableResult
    public func deliverNext() -> Bool {
        guard !pendingDeliveries.isEmpty else { return false }
        apply(pendingDeliveries.removeFirst())
        return true
    }

    /// Delivers one piece of traffic, whatever its place in the queue; false when no such
    /// delivery is in flight.
    @discardableResult
    public func deliver(_ id: DeliveryID) -> Bool {
        guard let index = pendingDeliveries.firstIndex(where: { $0.id == id }) else { return false }
        apply(pendingDeliveries.remove(at: index))
        return true
    }

    /// Delivers in FIFO order until nothing is in flight or `maxSteps` deliveries were made.
    ///
    /// With `onEvent`, queued events are handed out (in order) before each step and after the
    /// last, so a handler that answers (sends, closes) keeps the run going; without it, events
    /// stay queued for ``takeEvents()``.
    @discardableResult
    public func runUntilIdle(maxSteps: Int = 10_000, onEvent: ((InMemoryEvent) -> Void)? = nil) -> RunOutcome {
        var steps = 0
        while true {
            if let onEvent {
                while !pendingEvents.isEmpty { onEvent(pendingEvents.removeFirst()) }
            }
            if pendingDeliveries.isEmpty { return .idle(steps: steps) }
            if steps >= maxSteps { return .stepLimitReached }
            deliverNext()
            steps += 1
        }
    }

    // MARK: - Endpoint actions

    func listen(endpoint: InMemoryEndpoint, port: Int, maxConnections: Int?) -> PeerAddress {
        let address = PeerAddress(ip: endpoint.ip, port: port)
        precondition(listeners[address] == nil, "Something already listens at \(address).")
        precondition(maxConnections.map { $0 >= 0 } ?? true, "A connection cap cannot be negative.")
        listeners[address] = Listener(endpoint: endpoint.name, maxConnections: maxConnections)
        return address
    }

    func connect(from endpoint: InMemoryEndpoint, to address: PeerAddress) -> ConnectionID {
        let port = nextPort[endpoint.ip, default: 49_152]
        precondition(port <= 65_535, "\(endpoint.ip) ran out of ephemeral ports.")
        nextPort[endpoint.ip] = port + 1
        let local = PeerAddress(ip: endpoint.ip, port: port)
        let client = allocateConnectionID()
        let server = allocateConnectionID()
        ends[client] = End(endpoint: endpoint.name, local: local, remote: address, peer: server, listener: nil)
        let listenerName = listeners[address]?.endpoint ?? ""
        ends[server] = End(endpoint: listenerName, local: address, remote: local, peer: client, listener: address)
        enqueue(.connect, to: server)
        return client
    }

    func send(_ payload: InMemoryDelivery.Payload, on connection: ConnectionID, from endpoint: InMemoryEndpoint) {
        if case .frame(let body) = payload {
            precondition(
                (1...Framing.maxBodyLength).contains(body.count),
                "A frame body must be 1...65536 bytes; the caller built one of \(body.count) bytes."
            )
        }
        guard let end = ends[connection] else { return }
        precondition(end.endpoint == endpoint.name, "\(endpoint.name) does not own \(connection).")
        enqueue(payload, to: end.peer)
    }

    func close(_ connection: ConnectionID, from endpoint: InMemoryEndpoint, reason: CloseReason) {
        guard let end = ends[connection] else { return }
        precondition(end.endpoint == endpoint.name, "\(endpoint.name) does not own \(connection).")
        closeEnd(connection, reason: reason)
    }

    // MARK: - Internals

    func allocateDeliveryID() -> DeliveryID {
        defer { nextDelivery += 1 }
        return DeliveryID(rawValue: nextDelivery)
    }

    private func allocateConnectionID() -> ConnectionID {
        defer { nextConnection += 1 }
        return ConnectionID(rawValue: nextConnection)
    }

    /// Puts traffic in flight towards the end `connection`; nil when that end is gone.
    @discardableResult
    func enqueue(_ payload: InMemoryDelivery.Payload, to connection: ConnectionID) -> DeliveryID? {
        guard let end = ends[connection] else { return nil }
        let id = allocateDeliveryID()
        pendingDeliveries.append(
            InMemoryDelivery(id: id, connection: connection, from: end.remote, to: end.local, payload: payload))
        return id
    }

    /// Reports the close to the end's owner, removes the end and sends end of stream to its peer.
    func closeEnd(_ connection: ConnectionID, reason: CloseReason) {
        guard let end = ends.removeValue(forKey: connection) else { return }
        emit(.closed(connection, reason), to: end.endpoint)
        if end.state == .open, let listener = end.listener {
            listeners[listener]?.openConnections -= 1
        }
        enqueue(.endOfStream, to: end.peer)
    }

    private func apply(_ delivery: InMemoryDelivery) {
        guard let end = ends[delivery.connection] else { return }
        switch (delivery.payload, end.state) {
        case (.connect, .connecting):
            accept(delivery.connection)
        case (.endOfStream, .connecting):
            ends[delivery.connection] = nil  // the connection never happened
        case (.endOfStream, .open):
            ends[delivery.connection] = nil
            emit(.closed(delivery.connection, end.reader.isInsideFrame ? .cutFrame : .byPeer), to: end.endpoint)
            if let listener = end.listener { listeners[listener]?.openConnections -= 1 }
        case (.frame, .open), (.bytes, .open):
            receive(delivery.streamBytes, on: delivery.connection)
        case (.connect, .open), (.frame, .connecting), (.bytes, .connecting):
            return  // a duplicate connect, or traffic that overtook its connect: discarded
        }
    }

    private func accept(_ server: ConnectionID) {
        guard let serverEnd = ends[server] else { return }
        let client = serverEnd.peer
        guard let address = serverEnd.listener, var listener = listeners[address] else {
            ends[server] = nil
            if let clientEnd = ends.removeValue(forKey: client) {
                emit(.closed(client, .error("connection refused")), to: clientEnd.endpoint)
            }
            return
        }
        if let cap = listener.maxConnections, listener.openConnections >= cap {
            emit(.refused(serverEnd.remote, .connectionLimit), to: listener.endpoint)
            ends[server] = nil
            openClient(client)
            enqueue(.endOfStream, to: client)
            return
        }
        listener.openConnections += 1
        listeners[address] = listener
        ends[server]?.state = .open
        emit(.opened(server, serverEnd.remote), to: serverEnd.endpoint)
        openClient(client)
    }

    private func openClient(_ client: ConnectionID) {
        guard let clientEnd = ends[client], clientEnd.state == .connecting else { return }
        ends[client]?.state = .open
        emit(.opened(client, clientEnd.remote), to: clientEnd.endpoint)
    }

    private func receive(_ bytes: [UInt8], on connection: ConnectionID) {
        guard var end = ends[connection] else { return }
        let reports = end.reader.receive(bytes)
        ends[connection] = end
        for report in reports {
            switch report {
            case .frameStarted: emit(.frameStarted(connection), to: end.endpoint)
            case let .frame(body): emit(.frame(connection, body), to: end.endpoint)
            case let .refused(error): emit(.frameRefused(connection, error), to: end.endpoint)
            }
        }
    }
}
