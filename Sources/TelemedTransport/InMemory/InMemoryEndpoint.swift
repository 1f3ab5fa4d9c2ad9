// MARK: - InMemoryEndpoint

/// One host attached to an ``InMemoryNetwork``: it may listen, connect, send and close.
///
/// Like the network it belongs to, an endpoint is single-threaded by design: use it only from
/// the thread (or task) that drives the network. It keeps its network alive.
public final class InMemoryEndpoint: Transport {
    /// The endpoint's unique name on its network (events are addressed by it).
    public let name: String
    /// The endpoint's source address; several endpoints may share one (a NAT).
    public let ip: IPAddress
    /// The network this endpoint is attached to.
    public let network: InMemoryNetwork

    init(name: String, ip: IPAddress, network: InMemoryNetwork) {
        self.name = name
        self.ip = ip
        self.network = network
    }

    // MARK: - Listening and connecting

    /// Starts accepting connections at this endpoint's address and `port`, and returns that
    /// address. Beyond `maxConnections` open inbound connections, a new one is accepted and
    /// closed at once, reported here as `.refused(peer, .connectionLimit)`.
    ///
    /// - Precondition: no other listener holds this address and port.
    @discardableResult
    public func listen(port: Int, maxConnections: Int? = nil) -> PeerAddress {
        network.listen(endpoint: self, port: port, maxConnections: maxConnections)
    }

    /// Puts a connection request in flight to `address` and returns this end's identifier.
    /// Both ends report `.opened` when the driver delivers the request (or this end reports
    /// `.closed(_, .error("connection refused"))` when nobody listens there).
    public func connect(to address: PeerAddress) -> ConnectionID {
        network.connect(from: self, to: address)
    }

    // MARK: - Transport

    /// Puts one frame in flight to the other end (see ``Transport/send(_:on:)``).
    public func send(_ body: [UInt8], on connection: ConnectionID) {
        network.send(.frame(body), on: connection, from: self)
    }

    /// Closes this end at once (`.closed(_, .byLocal)` is queued for this endpoint) and puts the
    /// end of stream in flight behind everything already sent.
    public func close(_ connection: ConnectionID) {
        network.close(connection, from: self, reason: .byLocal)
    }

    /// Puts raw bytes in flight with no framing: a scripted attacker's tool (bad length
    /// prefixes, partial frames). Ignored on a closed or unknown connection.
    public func sendRaw(_ bytes: [UInt8], on connection: ConnectionID) {
        network.send(.bytes(bytes), on: connection, from: self)
    }

    // MARK: - Events

    /// Removes and returns this endpoint's queued events, oldest first.
    public func takeEvents() -> [TransportEvent] {
        network.takeEvents(for: name)
    }
}
