import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TelemedTransport

// MARK: - TCPClientTransport

/// The connecting side over TCP (the patient's), with the same framing, bounds and events
/// as the server. Thread-safe: call it from anywhere; consume ``events`` from one task.
public final class TCPClientTransport: AsyncTransport {
    private let hub: ConnectionHub
    private let group: any EventLoopGroup
    private let connectTimeout: Duration

    /// A client with no connections yet. The event loop group defaults to NIO's shared singleton.
    public init(
        settings: TCPConnectionSettings = .clientDefault,
        connectTimeout: Duration = .seconds(10),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.hub = ConnectionHub(settings: settings, maxConnections: .max)
        self.group = group
        self.connectTimeout = connectTimeout
    }

    /// Connects to `host:port` (IP text or a resolvable name). On success `.opened` is (or
    /// will shortly be) on ``events`` and the connection's identifier is returned.
    public func connect(host: String, port: Int) async throws(TCPTransportError) -> ConnectionID {
        guard !hub.isShutDown else { throw .shutDown }
        let hub = self.hub
        // The identifier is taken when the channel is attached, not looked up after the connect
        // returns: by then the whole exchange may be over (a doctor that answers REJECTED and
        // closes at once), and the channel already detached, although its events were reported.
        let attached = NIOLockedValueBox<ConnectionID?>(nil)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let id = try hub.attach(channel)
                    attached.withLockedValue { $0 = id }
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            throw .connectFailed(host: host, port: port, reason: SocketFailure(error))
        }
        guard let id = attached.withLockedValue({ $0 }) else {
            channel.close(promise: nil)
            throw .shutDown
        }
        return id
    }

    /// Connects to an address.
    public func connect(to address: PeerAddress) async throws(TCPTransportError) -> ConnectionID {
        try await connect(host: address.host, port: address.port)
    }

    // MARK: - AsyncTransport

    /// Opened connections, their frames and closes.
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

    /// Closes every connection after flushing it, waits for them, and ends ``events``.
    public func shutdown() async {
        await hub.shutdown()
    }
}
