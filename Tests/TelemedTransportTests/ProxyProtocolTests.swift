import Foundation
import NIOCore
import NIOEmbedded
import TelemedTCP
import TelemedTestSupport
import TelemedTransport
import XCTest

/// HAProxy PROXY protocol v2 on the TCP server: the header's source is the connection's
/// address; a missing, malformed, oversized or untrusted header is refused before any frame.
final class ProxyProtocolTests: XCTestCase {
    // MARK: - Headers

    static func header(command: UInt8 = 1, family: UInt8 = 0x11, source: [UInt8], sourcePort: UInt16,
                       destination: [UInt8]? = nil, tlvs: [UInt8] = []) -> [UInt8] {
        let destination = destination ?? [UInt8](repeating: 0, count: source.count)
        let block = source + destination + [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), 0x1F, 0x40] + tlvs
        return ProxyHeader.signature + [0x20 | command, family, UInt8(block.count >> 8), UInt8(block.count & 0xFF)] + block
    }

    private func startServer(trusting prefixes: [String] = ["127.0.0.1"]) async throws -> (TCPServerTransport, EventLog) {
        var settings = TCPConnectionSettings.serverDefault
        settings.lingerTimeout = .milliseconds(200)
        var configuration = TCPServerTransport.Configuration(port: 0, maxConnections: 16, connection: settings)
        configuration.proxyProtocol = ProxyProtocolSettings(trustedProxies: prefixes.compactMap(IPAddressPrefix.init),
                                                            headerTimeout: .milliseconds(500))
        let server = try await TCPServerTransport.start(configuration: configuration)
        return (server, await EventLog.consuming(server.events))
    }

    // MARK: - Over TCP

    /// ``TCPServerTransport/start(configuration:group:)`` with ``ProxyProtocolSettings``: a
    /// TCP4 header's source is the opened address, and the frame after it in the same write
    /// arrives whole.
    func testTheHeadersSourceIsTheConnectionsAddress() async throws {
        let (server, log) = try await startServer()
        let socket = try RawSocket(port: server.boundPort)
        try socket.write(Self.header(source: [203, 0, 113, 7], sourcePort: 4444) + Framing.frame(Array("hi".utf8)))
        let opened = try await log.first { $0.openedID != nil }
        guard case let .opened(id, peer) = opened else { return XCTFail("\(opened)") }
        XCTAssertEqual(peer, PeerAddress(host: "203.0.113.7", port: 4444))
        _ = try await log.first { $0 == .frame(id, Array("hi".utf8)) }

        let v6 = try RawSocket(port: server.boundPort)
        let source: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
        try v6.writeOneByteAtATime(Self.header(family: 0x21, source: source, sourcePort: 80, tlvs: [0x04, 0, 1, 0]))
        _ = try await log.first { $0.openedPeer == PeerAddress(host: "2001:db8::1", port: 80) }

        let local = try RawSocket(port: server.boundPort)
        try local.write(Self.header(command: 0, family: 0, source: [], sourcePort: 0))
        _ = try await log.first { $0.openedPeer?.host == "127.0.0.1" }
        await server.shutdown()
    }

    /// A connection that sends a frame instead of a header, one with a bad version, one that
    /// stays silent, and one from an untrusted address are refused (`.proxyHeader`), never
    /// opened, and closed.
    func testConnectionsWithoutAValidHeaderAreRefused() async throws {
        let (server, log) = try await startServer()
        let plain = try RawSocket(port: server.boundPort)
        try plain.write(Framing.frame(Array("hello".utf8)))
        XCTAssertEqual(try plain.readUntilEndOfStream(), [])
        var badVersion = Self.header(source: [10, 0, 0, 1], sourcePort: 1)
        badVersion[12] = 0x11
        let bad = try RawSocket(port: server.boundPort)
        try bad.write(badVersion)
        XCTAssertEqual(try bad.readUntilEndOfStream(), [])
        let silent = try RawSocket(port: server.boundPort)
        XCTAssertEqual(try silent.readUntilEndOfStream(), [])  // the 500 ms header timeout
        _ = try await log.first { event in
            if case let .refused(_, .proxyHeader(why)) = event { return why.contains("within") }
            return false
        }
        let events = await log.events
        let refusals = events.filter { if case .refused(_, .proxyHeader) = $0 { true } else { false } }
        XCTAssertEqual(refusals.count, 3, "\(events)")
        XCTAssertFalse(events.contains { $0.openedID != nil })
        await server.shutdown()

        let (strict, strictLog) = try await startServer(trusting: ["10.0.0.0/8"])
        let untrusted = try RawSocket(port: strict.boundPort)
        try untrusted.write(Self.header(source: [10, 0, 0, 1], sourcePort: 1))
        XCTAssertEqual(try untrusted.readUntilEndOfStream(), [])
        let refused = try await strictLog.first { if case .refused = $0 { true } else { false } }
        guard case let .refused(peer, reason) = refused else { return XCTFail("\(refused)") }
        XCTAssertEqual(peer.host, "127.0.0.1")
        XCTAssertEqual(reason, .proxyHeader("127.0.0.1 is not a configured PROXY protocol source"))
        await strict.shutdown()
    }

    // MARK: - The handler, fuzzed (EmbeddedChannel)

    /// What the ``ProxyHeaderHandler`` did with one byte stream.
    struct Outcome {
        var source: PeerAddress?
        var forwarded: [UInt8] = []
        var refusal: String?
        var closed = false
    }

    final class Recorder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var outcome = Outcome()
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            outcome.forwarded += buffer.readBytes(length: buffer.readableBytes) ?? []
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let parsed = event as? ProxyHeaderHandler.Parsed { outcome.source = parsed.source }
        }
    }

    /// Feeds `bytes` in `chunks` through a ``ProxyHeaderHandler`` on an EmbeddedChannel.
    static func run(_ bytes: [UInt8], chunks: [Int], maxHeaderLength: Int = 232) throws -> Outcome {
        let channel = EmbeddedChannel()
        let recorder = Recorder()
        let refusals = Recorder()
        let handler = ProxyHeaderHandler(settings: ProxyProtocolSettings(maxHeaderLength: maxHeaderLength)) { _, why in
            refusals.outcome.refusal = why
        }
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7000)).wait()
        var offset = 0
        for chunk in chunks + [bytes.count] where offset < bytes.count && channel.isActive {
            let end = min(bytes.count, offset + max(1, chunk))
            try channel.writeInbound(channel.allocator.buffer(bytes: bytes[offset..<end]))
            offset = end
        }
        var outcome = recorder.outcome
        outcome.refusal = refusals.outcome.refusal
        outcome.closed = !channel.isActive
        _ = try? channel.finish()
        return outcome
    }

    /// ``ProxyHeaderHandler``: a valid header of any family, command, TLV padding and split
    /// into any chunks yields exactly its source and forwards exactly the bytes after it.
    func testValidHeadersInAnySplitParseTheSameWay() throws {
        let seed = (try ReplaySeed.current()) ?? UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        for round in 0..<2_000 {
            let v6 = Bool.random(using: &rng)
            let local = rng.next() % 8 == 0
            let source = (0..<(v6 ? 16 : 4)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let port = UInt16.random(in: 0...65_535, using: &rng)
            let tlvs = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let header = Self.header(command: local ? 0 : 1, family: v6 ? 0x21 : 0x11, source: source, sourcePort: port, tlvs: tlvs)
            let trailing = (0..<Int.random(in: 0...30, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let chunks = (0..<Int.random(in: 0...6, using: &rng)).map { _ in Int.random(in: 1...40, using: &rng) }
            let outcome = try Self.run(header + trailing, chunks: chunks)
            let context = "seed \(seed) (TELEMED_SEED=\(seed)) round \(round)"
            XCTAssertNil(outcome.refusal, context)
            let expected = local ? PeerAddress(host: "127.0.0.1", port: 7000)
                : IPAddress(bytes: source).map { PeerAddress(ip: $0, port: Int(port)) }
            XCTAssertEqual(outcome.source, expected, context)
            XCTAssertEqual(outcome.forwarded, trailing, context)
            if outcome.source != expected || outcome.refusal != nil { return }
        }
    }

    /// ``ProxyHeaderHandler`` on damaged and random input: every run ends in exactly one of
    /// "parsed" or "refused and closed" (or still waiting for more, only while the bytes so far
    /// are a prefix of a header); nothing is forwarded without a parsed source; a header over
    /// the length bound is refused.
    func testDamagedAndRandomInputIsRefusedOrParsedNeverForwardedUnparsed() throws {
        let seed = (try ReplaySeed.current()) ?? UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        for round in 0..<3_000 {
            var bytes = Self.header(family: Bool.random(using: &rng) ? 0x21 : 0x11,
                                    source: [UInt8](repeating: 9, count: 16), sourcePort: 1)
            switch rng.next() % 4 {
            case 0: bytes = (0..<Int.random(in: 1...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1: bytes[Int.random(in: 0..<16, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            case 2: bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
            default: bytes[14] = UInt8.random(in: 1...255, using: &rng)  // oversized length
            }
            let chunks = (0..<4).map { _ in Int.random(in: 1...20, using: &rng) }
            let outcome = try Self.run(bytes, chunks: chunks)
            let context = "TELEMED_SEED=\(seed) round \(round): \(bytes)"
            let parsed = outcome.source != nil
            let refused = outcome.refusal != nil
            XCTAssertFalse(parsed && refused, context)
            if refused { XCTAssertTrue(outcome.closed, context) }
            if !parsed { XCTAssertEqual(outcome.forwarded, [], context) }
            if !parsed && !refused {
                XCTAssertEqual(ProxyHeader.parse(bytes, maxLength: 232), .needMore, context)
            }
            if bytes.count >= 16, bytes.starts(with: ProxyHeader.signature), 16 + (Int(bytes[14]) << 8 | Int(bytes[15])) > 232 {
                XCTAssertTrue(refused, context)
            }
        }
    }
}

private extension TransportEvent {
    var openedPeer: PeerAddress? {
        if case let .opened(_, peer) = self { return peer }
        return nil
    }
}
