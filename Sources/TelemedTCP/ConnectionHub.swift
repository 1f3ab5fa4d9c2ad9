import NIOConcurrencyHelpers
import NIOCore
import TelemedTransport

// MARK: - ConnectionHub
//
// The part the server and the client share: it hands out connection identifiers, keeps the
// live channels (under a lock, since the runtime calls in from any thread), installs the
// pipeline on new channels, routes sends/closes/flow-control to each connection's handler
// on that handler's event loop, and owns the event stream.

/// The registry and event stream behind a TCP transport.
final class ConnectionHub: Sendable {
    private struct Entry: Sendable {
        let channel: Channel
        let handler: NIOLoopBound<ConnectionHandler>
    }

    private struct State {
        var entries: [ConnectionID: Entry] = [:]
        var nextID: UInt64 = 1
        var admitted = 0
        var acceptingNew = true
        /// False while the host is not ready yet (see ``ConnectionHub/startAccepting()``).
        var ready = true
        /// `.refused` events yielded and not yet taken by the consumer.
        var untakenRefusals = 0
        /// Refusals not reported because `maxQueuedRefusals` were waiting.
        var unreportedRefusals: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())
    private let settings: TCPConnectionSettings
    private let maxConnections: Int
    private let maxQueuedRefusals: Int
    private let stream: AsyncStream<TransportEvent>
    private let continuation: AsyncStream<TransportEvent>.Continuation

    private let proxyProtocol: ProxyProtocolSettings?

    init(settings: TCPConnectionSettings, maxConnections: Int, maxQueuedRefusals: Int = .max, ready: Bool = true,
         proxyProtocol: ProxyProtocolSettings? = nil) {
        self.settings = settings
        self.proxyProtocol = proxyProtocol
        self.maxConnections = maxConnections
        self.maxQueuedRefusals = maxQueuedRefusals
        state.withLockedValue { $0.ready = ready }
        (stream, continuation) = AsyncStream.makeStream(of: TransportEvent.self, bufferingPolicy: .unbounded)
    }

    /// The transport's events (one consumer; each taken frame lets its connection read on).
    var events: TransportEventStream {
        TransportEventStream(stream) { [weak self] event in self?.taken(event) }
    }

    // MARK: - New channels

    /// Admits a new channel (on its event loop, from a channel initializer): returns its
    /// identifier after installing the pipeline, or nil when it was turned away.
    func attach(_ channel: Channel) throws -> ConnectionID? {
        let continuation = self.continuation
        let settings = self.settings
        let entry: (ConnectionID, Entry)? = state.withLockedValue { state in
            guard state.acceptingNew, state.ready, state.admitted < maxConnections else { return nil }
            let id = ConnectionID(rawValue: state.nextID)
            state.nextID += 1
            state.admitted += 1
            let handler = ConnectionHandler(id: id, settings: settings, waitsForProxyHeader: proxyProtocol != nil) {
                continuation.yield($0)
            }
            let entry = Entry(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
            state.entries[id] = entry
            return (id, entry)
        }
        guard let (id, entry) = entry else {
            if let peer = PeerAddress(channel.remoteAddress), reportRefusal() {
                continuation.yield(.refused(peer, .connectionLimit))
            }
            try channel.pipeline.syncOperations.addHandler(CloseOnActiveHandler())
            return nil
        }
        channel.closeFuture.whenComplete { _ in self.detach(id) }
        if let bytes = settings.sendBufferBytes {
            try channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(clamping: bytes))
        }
        if let proxyProtocol {
            let proxyHandler = ProxyHeaderHandler(settings: proxyProtocol) { peer, why in
                if self.reportRefusal() { continuation.yield(.refused(peer, .proxyHeader(why))) }
            }
            try channel.pipeline.syncOperations.addHandler(proxyHandler)
        }
        try channel.pipeline.syncOperations.addHandler(entry.handler.value)
        return id
    }

    /// Whether a turned-away connection is reported: only while the host is serving and fewer
    /// than `maxQueuedRefusals` refusals wait untaken (otherwise it is counted, unreported).
    private func reportRefusal() -> Bool {
        state.withLockedValue { state in
            guard state.acceptingNew, state.ready else { return false }
            guard state.untakenRefusals < maxQueuedRefusals else {
                state.unreportedRefusals += 1
                return false
            }
            state.untakenRefusals += 1
            return true
        }
    }

    /// Refusals turned away without an event.
    var unreportedRefusals: UInt64 { state.withLockedValue { $0.unreportedRefusals } }

    private func detach(_ id: ConnectionID) {
        state.withLockedValue { state in
            if state.entries.removeValue(forKey: id) != nil { state.admitted -= 1 }
        }
    }

    // MARK: - Runtime calls

    func send(_ body: [UInt8], on connection: ConnectionID) {
        precondition(
            (1...Framing.maxBodyLength).contains(body.count),
            "A frame body must be 1...65536 bytes; the caller built one of \(body.count) bytes."
        )
        guard let entry = entry(connection) else { return }
        entry.channel.eventLoop.execute { entry.handler.value.send(body) }
    }

    func close(_ connection: ConnectionID) {
        guard let entry = entry(connection) else { return }
        entry.channel.eventLoop.execute { entry.handler.value.requestClose() }
    }

    private func taken(_ event: TransportEvent) {
        if case .refused = event {
            state.withLockedValue { $0.untakenRefusals = max(0, $0.untakenRefusals - 1) }
            return
        }
        guard case .frame(let connection, _) = event, let entry = entry(connection) else { return }
        entry.channel.eventLoop.execute { entry.handler.value.frameConsumed() }
    }

    private func entry(_ connection: ConnectionID) -> Entry? {
        state.withLockedValue { $0.entries[connection] }
    }

    // MARK: - Shutdown

    /// Turns new connections away, closes every connection (flushing first) and waits until
    /// they are all gone; then ends the event stream.
    func shutdown() async {
        let entries = state.withLockedValue { state in
            state.acceptingNew = false
            return Array(state.entries.values)
        }
        for entry in entries {
            entry.channel.eventLoop.execute {
                if !entry.handler.value.requestClose() { entry.channel.close(promise: nil) }
            }
        }
        for entry in entries {
            try? await entry.channel.closeFuture.get()
        }
        continuation.finish()
    }

    /// Admits connections from now on (after a start with `ready` false, which closes every
    /// connection at once, unread and unreported).
    func startAccepting() {
        state.withLockedValue { $0.ready = true }
    }

    /// Whether shutdown has begun.
    var isShutDown: Bool { state.withLockedValue { !$0.acceptingNew } }
}

// MARK: - CloseOnActiveHandler

/// Closes a turned-away connection as soon as it is active.
private final class CloseOnActiveHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { context.close(promise: nil) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.close(promise: nil)
    }
}
