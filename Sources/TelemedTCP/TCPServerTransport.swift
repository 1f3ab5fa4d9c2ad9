import NIOCore
import NIOPosix
import TelemedTransport

// MARK: - TCPServerTransport

/// The listening side over TCP: accepts connections and frames their byte streams.
///
/// Connections beyond ``Configuration/maxConnections`` are accepted and closed at once (not
/// left in the kernel's backlog), reported as `.refused(peer, .connectionLimit)` and never
/// given an identifier. Every timer and bound of ``TCPConnectionSettings`` applies to each
/// connection. Thread-safe: call it from anywhere; consume ``events`` from one task.
///
/// The event stream is bounded without dropping anything a connection said: each admitted
/// connection has at most `maxUnconsumedFrames` frames waiting (then the transport stops
/// reading it, and TCP pushes back on the peer) plus its open, frame-start, refused-prefix and
/// close events; there are at most ``Configuration/maxConnections`` of them; and at most
/// ``Configuration/maxQueuedRefusals`` refusals of turned-away connections wait untaken.
public final class TCPServerTransport: AsyncTransport {
    /// Where and how to listen.
    public struct Configuration: Sendable {
        /// The address to bind (IP text); loopback unless told otherwise.
        public var host: String
        /// The port to bind; 0 asks the system for a free one (see ``TCPServerTransport/boundPort``).
        public var port: Int
        /// The most connections open at once.
        public var maxConnections: Int
        /// The per-connection timers and bounds.
        public var connection: TCPConnectionSettings
        /// The listen backlog.
        public var backlog: Int32
        /// Whether connections are admitted as soon as the listener is bound. When false, each
        /// one is closed at once, unread and unreported, until ``TCPServerTransport/startAccepting()``:
        /// a host can bind (and learn its port) before it is ready to serve, e.g. before the
        /// doctor has recorded its start time (PROTOCOL.md §5, "Clocks").
        public var acceptsImmediately: Bool
        /// The most `.refused` events that may wait in ``TCPServerTransport/events``, untaken.
        /// A refusal beyond it is not reported (the connection is still turned away) and is
        /// counted in ``TCPServerTransport/unreportedRefusals``, so a flood of connections over
        /// the cap cannot grow the event stream (or the host's audit work) without bound.
        /// Default 256; at least 1.
        public var maxQueuedRefusals: Int = 256
        /// HAProxy PROXY protocol v2 (nil: off, the default). When set, every connection must
        /// begin with a v2 header from a trusted proxy, and the source the runtime sees is the
        /// header's; a connection without one is refused (`.refused(peer, .proxyHeader(_))`)
        /// before any frame. See ``ProxyProtocolSettings``.
        public var proxyProtocol: ProxyProtocolSettings?

        /// Sets every field; the defaults suit a local doctor.
        public init(
            host: String = "127.0.0.1",
            port: Int = 0,
            maxConnections: Int = 1_024,
            connection: TCPConnectionSettings = .serverDefault,
            backlog: Int32 = 256,
            acceptsImmediately: Bool = true
        ) {
            precondition(maxConnections >= 0, "A connection cap cannot be negative.")
            self.host = host
            self.port = port
            self.maxConnections = maxConnections
            self.connection = connection
            self.backlog = backlog
            self.acceptsImmediately = acceptsImmediately
        }

        /// A listener whose connection cap, write timeout and outbound bound are the runtime's
        /// (for the doctor: `DoctorConfiguration.transportBounds`).
        public init(host: String, port: Int, bounds: TransportBounds, acceptsImmediately: Bool = true) {
            self.init(host: host, port: port, maxConnections: bounds.maxConnections,
                      connection: TCPConnectionSettings(bounds: bounds), acceptsImmediately: acceptsImmediately)
        }
    }

    private let hub: ConnectionHub
    private let listener: Channel
    /// The address actually bound (with the system-chosen port when 0 was asked for).
    public let localAddress: PeerAddress

    /// The port actually bound.
    public var boundPort: Int { localAddress.port }

    /// Connections turned away (over the cap) whose `.refused` event was not reported because
    /// ``Configuration/maxQueuedRefusals`` refusals were already waiting untaken.
    public var unreportedRefusals: UInt64 { hub.unreportedRefusals }

    private init(hub: ConnectionHub, listener: Channel, localAddress: PeerAddress) {
        self.hub = hub
        self.listener = listener
        self.localAddress = localAddress
    }

    /// Binds and starts accepting. The event loop group defaults to NIO's shared singleton.
    public static func start(
        configuration: Configuration = Configuration(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(TCPTransportError) -> TCPServerTransport {
        precondition(configuration.maxQueuedRefusals >= 1, "At least one refusal must be reportable.")
        let hub = ConnectionHub(settings: configuration.connection, maxConnections: configuration.maxConnections,
                                maxQueuedRefusals: configuration.maxQueuedRefusals,
                                ready: configuration.acceptsImmediately, proxyProtocol: configuration.proxyProtocol)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { _ = try hub.attach(channel) }
            }
        let listener: Channel
        do {
            listener = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            throw .bindFailed(host: configuration.host, port: configuration.port, reason: SocketFailure(error))
        }
        guard let local = PeerAddress(listener.localAddress) else {
            try? await listener.close()
            throw .bindFailed(host: configuration.host, port: configuration.port, reason: SocketFailure("the bound address is not an IP address"))
        }
        return TCPServerTransport(hub: hub, listener: listener, localAddress: local)
    }

    /// Starts admitting connections (only needed when the configuration's
    /// ``Configuration/acceptsImmediately`` is false). Does nothing after ``shutdown()``.
    public func startAccepting() {
        hub.startAccepting()
    }

    // MARK: - AsyncTransport

    /// Accepted connections, their frames and closes, and refusals.
    public var events: TransportEventStream { hub.events }

    /// Queues one frame body (see `Transport.send(_:on:)`).
    public func send(_ body: [UInt8], on connection: ConnectionID) {
        hub.send(body, on: connection)
    }

    /// Closes after flushing (see `Transport.close(_:)`).
    public func close(_ connection: ConnectionID) {
        hub.close(connection)
    }

    // MARK: - Shutdown

    /// Stops listening, closes every connection after flushing it (each reports
    /// `.closed(_, .byLocal)`), waits for them, and ends ``events``. Bounded by the write and
    /// linger timeouts. Calling it again does nothing more.
    public func shutdown() async {
        try? await listener.close()
        await hub.shutdown()
    }
}
