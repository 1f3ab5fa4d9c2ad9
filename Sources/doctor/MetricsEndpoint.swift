import NIOCore
import NIOHTTP1
import NIOPosix

// MARK: - MetricsEndpoint

/// The tiny HTTP responder behind `doctor serve --metrics-port`: `GET /metrics` answers the
/// Prometheus text exposition format (version 0.0.4) produced by `render`; any other path is
/// 404, any other method 405. One request per connection (the answer closes it), requests of
/// at most 8 KiB of headers (NIO's HTTP parser refuses more), and a connection that says
/// nothing for 10 s is closed. Nothing else is served.
final class MetricsEndpoint: Sendable {
    private let channel: Channel
    /// The address actually bound (with the system's port when 0 was asked for).
    let host: String
    let port: Int

    private init(channel: Channel, host: String, port: Int) {
        self.channel = channel
        self.host = host
        self.port = port
    }

    /// Binds `host:port` and starts answering. `render` is called once per scrape.
    static func start(host: String, port: Int, render: @escaping @Sendable () async -> [UInt8]) async throws -> MetricsEndpoint {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: .seconds(10)))
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(ScrapeHandler(render: render))
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        let boundPort = channel.localAddress?.port ?? port
        return MetricsEndpoint(channel: channel, host: host, port: boundPort)
    }

    /// `http://host:port/metrics`.
    var url: String {
        host.contains(":") ? "http://[\(host)]:\(port)/metrics" : "http://\(host):\(port)/metrics"
    }

    /// Stops listening.
    func shutdown() async {
        try? await channel.close()
    }
}

/// Answers one request per connection.
private final class ScrapeHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: @Sendable () async -> [UInt8]
    private var head: HTTPRequestHead?
    private var answered = false

    init(render: @escaping @Sendable () async -> [UInt8]) {
        self.render = render
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(request):
            head = head ?? request
        case .body:
            break  // a scrape has no body; whatever came is ignored
        case .end:
            guard !answered, let head else { return }
            answered = true
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            guard path == "/metrics" else {
                respond(context: context, status: .notFound, body: Array("not found: try /metrics\n".utf8))
                return
            }
            guard head.method == .GET || head.method == .HEAD else {
                respond(context: context, status: .methodNotAllowed, body: Array("only GET\n".utf8), allow: true)
                return
            }
            let render = self.render
            let isHead = head.method == .HEAD
            context.eventLoop.makeFutureWithTask { await render() }.assumeIsolated().whenSuccess { body in
                self.respond(context: context, status: .ok, body: body, omitBody: isHead,
                             contentType: "text/plain; version=0.0.4; charset=utf-8")
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent, !answered {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func respond(context: ChannelHandlerContext, status: HTTPResponseStatus, body: [UInt8], omitBody: Bool = false,
                         contentType: String = "text/plain; charset=utf-8", allow: Bool = false) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        if allow { headers.add(name: "Allow", value: "GET, HEAD") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !omitBody {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
