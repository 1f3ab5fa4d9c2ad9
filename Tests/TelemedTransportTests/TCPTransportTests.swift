import TelemedTCP
import TelemedTestSupport
import TelemedTransport
import XCTest

/// The TCP transports on 127.0.0.1 with ephemeral ports. Every wait is bounded (a few seconds).
final class TCPTransportTests: XCTestCase {
    private func startServer(
        maxConnections: Int = 16,
        settings: TCPConnectionSettings = .serverDefault
    ) async throws -> (TCPServerTransport, EventLog) {
        var settings = settings
        settings.lingerTimeout = .milliseconds(200)  // raw test sockets never close on their own
        let server = try await TCPServerTransport.start(
            configuration: .init(port: 0, maxConnections: maxConnections, connection: settings))
        XCTAssertNotEqual(server.boundPort, 0)
        XCTAssertEqual(server.localAddress.host, "127.0.0.1")
        return (server, await EventLog.consuming(server.events))
    }

    private func openedID(_ log: EventLog, after known: Set<ConnectionID> = []) async throws -> ConnectionID {
        let event = try await log.first { $0.openedID.map { !known.contains($0) } ?? false }
        return try XCTUnwrap(event.openedID)
    }

    // MARK: - Frames

    func testFramesBothWaysWithOneByteWrites() async throws {
        let (server, log) = try await startServer()
        let socket = try RawSocket(port: server.boundPort)
        let opened = try await log.first { $0.openedID != nil }
        guard case .opened(let id, let peer) = opened else { return XCTFail("not opened: \(opened)") }
        XCTAssertEqual(peer.host, "127.0.0.1")
        XCTAssertNotEqual(peer.port, server.boundPort)

        try socket.writeOneByteAtATime(Framing.frame(Array("hello".utf8)) + Framing.frame([0]))
        _ = try await log.first { $0 == .frame(id, [0]) }
        let frames = await log.events(of: id).filter { if case .frame = $0 { true } else { false } }
        XCTAssertEqual(frames, [.frame(id, Array("hello".utf8)), .frame(id, [0])])

        let reply = (0..<1_000).map { UInt8(truncatingIfNeeded: $0) }
        server.send(reply, on: id)
        XCTAssertEqual(try socket.read(count: 1_004), Framing.frame(reply))
        await server.shutdown()
    }

    func testLargestFrameArrivesWhole() async throws {
        let (server, log) = try await startServer()
        let socket = try RawSocket(port: server.boundPort)
        let id = try await openedID(log)
        let body = [UInt8](repeating: 0xab, count: Framing.maxBodyLength)
        try socket.write(Framing.frame(body))
        _ = try await log.first { $0 == .frame(id, body) }
        await server.shutdown()
    }

    // MARK: - Framing violations

    /// The transport reports a refused prefix and keeps the connection writable: the runtime
    /// (here the test) answers and closes, and the peer reads the answer before the end of stream.
    func testHugeLengthPrefixIsReportedAndTheConnectionStaysWritable() async throws {
        let (server, log) = try await startServer()
        let socket = try RawSocket(port: server.boundPort)
        let id = try await openedID(log)
        try socket.write([0x80, 0x00, 0x00, 0x00])  // 2^31, and not one body byte follows
        _ = try await log.first { $0 == .frameRefused(id, .oversize(declared: 0x8000_0000)) }
        try socket.write(Array(repeating: 0x41, count: 10_000))  // read and dropped, never reported
        server.send([0x2a], on: id)
        server.close(id)
        XCTAssertEqual(try socket.readUntilEndOfStream(), Framing.frame([0x2a]), "the answer arrives before the close")
        _ = try await log.first { $0 == .closed(id, .byLocal) }
        let events = await log.events(of: id)
        XCTAssertEqual(events.dropFirst(), [.frameRefused(id, .oversize(declared: 0x8000_0000)), .closed(id, .byLocal)])
        await server.shutdown()
    }

    func testZeroLengthPrefixIsReportedAfterTheFramesBeforeIt() async throws {
        let (server, log) = try await startServer()
        let socket = try RawSocket(port: server.boundPort)
        let id = try await openedID(log)
        try socket.write(Framing.frame([1]) + [0, 0, 0, 0] + Framing.frame([2]))
        _ = try await log.first { $0 == .frameRefused(id, .emptyFrame) }
        server.close(id)
        _ = try await log.first { if case .closed(id, _) = $0 { true } else { false } }
        let events = await log.events(of: id)
        XCTAssertEqual(events.dropFirst(), [.frame(id, [1]), .frameRefused(id, .emptyFrame), .closed(id, .byLocal)])
        _ = socket
        await server.shutdown()
    }

    func testTruncatedFrameThenEndOfStreamIsACutFrame() async throws {
        let (server, log) = try await startServer()
        let socket = try RawSocket(port: server.boundPort)
        let id = try await openedID(log)
        try socket.write([0, 0, 0, 10, 1, 2, 3])
        socket.shutdownWrite()
        _ = try await log.first { $0 == .closed(id, .cutFrame) }
        await server.shutdown()
    }

    func testEndOfStreamBetweenFramesIsAClosebyPeer() async throws {
        let (server, log) = try await startServer()
        let socket = try RawSocket(port: server.boundPort)
        let id = try await openedID(log)
        try socket.write(Framing.frame([42]))
        socket.shutdownWrite()
        _ = try await log.first { $0 == .closed(id, .byPeer) }
        let events = await log.events(of: id)
        XCTAssertEqual(events.count, 3, "opened, frame, closed: \(events)")
        await server.shutdown()
    }

    func testResetBetweenFramesIsACloseByPeer() async throws {
        let (server, log) = try await startServer()
        let socket = try RawSocket(port: server.boundPort)
        let id = try await openedID(log)
        try socket.write(Framing.frame([42]))
        _ = try await log.first { $0 == .frame(id, [42]) }
        socket.reset()
        _ = try await log.first { $0 == .closed(id, .byPeer) }
        await server.shutdown()
    }

    func testResetInsideAFrameIsACutFrame() async throws {
        let (server, log) = try await startServer()
        let socket = try RawSocket(port: server.boundPort)
        let id = try await openedID(log)
        try socket.write([0, 0, 0, 10, 1, 2, 3])
        try await Task.sleep(for: .milliseconds(100))  // let the server read the partial frame first
        socket.reset()
        _ = try await log.first { $0 == .closed(id, .cutFrame) }
        await server.shutdown()
    }

    // MARK: - Limits and timers

    func testNothingIsAdmittedBeforeStartAccepting() async throws {
        let server = try await TCPServerTransport.start(configuration: .init(port: 0, acceptsImmediately: false))
        let log = await EventLog.consuming(server.events)
        let early = try RawSocket(port: server.boundPort)
        try early.write(Framing.frame([1]))
        XCTAssertEqual(try early.readUntilEndOfStream(), [], "a connection before startAccepting was not closed")
        try await Task.sleep(for: .milliseconds(50))
        let earlyEvents = await log.events
        XCTAssertEqual(earlyEvents, [], "a connection before startAccepting was reported")
        server.startAccepting()
        let later = try RawSocket(port: server.boundPort)
        let id = try await openedID(log)
        try later.write(Framing.frame([2]))
        _ = try await log.first { $0 == .frame(id, [2]) }
        later.shutdownWrite()
        await server.shutdown()
        server.startAccepting()  // after shutdown: nothing reopens
        XCTAssertThrowsError(try RawSocket(port: server.boundPort).readUntilEndOfStream())
    }

    /// `TCPServerTransport` (the listener `doctor serve` runs): a flood of connections over the
    /// cap, while the consumer is not reading, queues at most `maxQueuedRefusals` `.refused`
    /// events; the rest are turned away all the same and counted in `unreportedRefusals`. Once
    /// the consumer has taken the queued ones, refusals are reported again.
    func testRefusalEventsWaitingForTheConsumerAreBounded() async throws {
        var configuration = TCPServerTransport.Configuration(port: 0, maxConnections: 0)
        configuration.maxQueuedRefusals = 2
        let server = try await TCPServerTransport.start(configuration: configuration)
        for _ in 0..<5 {
            let socket = try RawSocket(port: server.boundPort)
            XCTAssertEqual(try socket.readUntilEndOfStream(), [], "turned away")
        }
        XCTAssertEqual(server.unreportedRefusals, 3)
        let log = await EventLog.consuming(server.events)
        _ = try await log.first { if case .refused = $0 { true } else { false } }
        try await Task.sleep(for: .milliseconds(100))
        let queued = await log.events.filter { if case .refused = $0 { true } else { false } }.count
        XCTAssertEqual(queued, 2, "only the bound's worth of refusals waited")
        XCTAssertEqual(try RawSocket(port: server.boundPort).readUntilEndOfStream(), [])
        var reported = 0
        for _ in 0..<300 where reported < 3 {
            reported = await log.events.filter { if case .refused = $0 { true } else { false } }.count
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTAssertEqual(reported, 3, "reported again once the consumer caught up")
        XCTAssertEqual(server.unreportedRefusals, 3)
        await server.shutdown()
    }

    func testConnectionCapTurnsExtraConnectionsAway() async throws {
        let (server, log) = try await startServer(maxConnections: 1)
        let first = try RawSocket(port: server.boundPort)
        let firstID = try await openedID(log)
        let second = try RawSocket(port: server.boundPort)
        let refused = try await log.first { if case .refused = $0 { true } else { false } }
        guard case .refused(let peer, .connectionLimit) = refused else { return XCTFail("\(refused)") }
        XCTAssertEqual(peer.host, "127.0.0.1")
        XCTAssertEqual(try second.readUntilEndOfStream(), [])

        first.shutdownWrite()
        _ = try await log.first { $0 == .closed(firstID, .byPeer) }
        var third: RawSocket?
        var thirdID: ConnectionID?
        // The slot frees once the first channel is fully gone; retry briefly.
        for _ in 0..<50 where thirdID == nil {
            third = try RawSocket(port: server.boundPort)
            try await Task.sleep(for: .milliseconds(20))
            thirdID = await log.events.compactMap(\.openedID).first { $0 != firstID }
        }
        XCTAssertNotNil(thirdID, "a freed slot admits a new connection")
        _ = third
        await server.shutdown()
    }

    /// A frame whose first bytes arrive alone is announced once; the transport sets no deadline
    /// on it (the runtime does) and the frame still completes later.
    func testABegunFrameIsAnnouncedAndNotTimedOutByTheTransport() async throws {
        let (server, log) = try await startServer()
        let socket = try RawSocket(port: server.boundPort)
        let id = try await openedID(log)
        try socket.write([0, 0])
        _ = try await log.first { $0 == .frameStarted(id) }
        try await Task.sleep(for: .milliseconds(300))
        try socket.write([0, 2, 7])
        try await Task.sleep(for: .milliseconds(100))
        try socket.write([8])
        _ = try await log.first { $0 == .frame(id, [7, 8]) }
        let events = await log.events(of: id)
        XCTAssertEqual(events.dropFirst(), [.frameStarted(id), .frame(id, [7, 8])], "one start, no close")
        await server.shutdown()
    }

    func testWriteTimeoutWhenThePeerDoesNotRead() async throws {
        let settings = TCPConnectionSettings(writeTimeout: .milliseconds(300), maxQueuedOutboundBytes: 64 << 20)
        let (server, log) = try await startServer(settings: settings)
        let socket = try RawSocket(port: server.boundPort, receiveBuffer: 4_096)
        let id = try await openedID(log)
        let body = [UInt8](repeating: 1, count: Framing.maxBodyLength)
        for _ in 0..<300 { server.send(body, on: id) }  // ~19 MiB: far more than the socket buffers hold
        _ = try await log.first(within: .seconds(5)) { $0 == .closed(id, .writeTimeout) }
        _ = socket
        await server.shutdown()
    }

    func testOutboundQueueBound() async throws {
        let settings = TCPConnectionSettings(maxQueuedOutboundBytes: 256 << 10)
        let (server, log) = try await startServer(settings: settings)
        let socket = try RawSocket(port: server.boundPort, receiveBuffer: 4_096)
        let id = try await openedID(log)
        let body = [UInt8](repeating: 1, count: Framing.maxBodyLength)
        for _ in 0..<300 { server.send(body, on: id) }
        _ = try await log.first { $0 == .closed(id, .outboundQueueFull) }
        _ = socket
        await server.shutdown()
    }

    // MARK: - Client and server together

    func testClientAndServerExchangeFramesAndClose() async throws {
        let (server, serverLog) = try await startServer()
        let client = TCPClientTransport()
        let clientLog = await EventLog.consuming(client.events)
        let clientID = try await client.connect(host: "127.0.0.1", port: server.boundPort)
        let opened = try await clientLog.first { $0.openedID == clientID }
        XCTAssertEqual(opened, .opened(clientID, server.localAddress))
        let serverID = try await openedID(serverLog)

        client.send([1, 2], on: clientID)
        _ = try await serverLog.first { $0 == .frame(serverID, [1, 2]) }
        server.send([3], on: serverID)
        server.send([4], on: serverID)
        server.close(serverID)
        _ = try await clientLog.first { $0 == .closed(clientID, .byPeer) }
        let clientEvents = await clientLog.events(of: clientID)
        XCTAssertEqual(clientEvents,
                       [opened, .frame(clientID, [3]), .frame(clientID, [4]), .closed(clientID, .byPeer)])
        _ = try await serverLog.first { $0 == .closed(serverID, .byLocal) }
        client.send([5], on: clientID)  // closed: ignored
        await client.shutdown()
        let finished = try await clientLog.waitUntilFinished()
        XCTAssertTrue(finished)
        await server.shutdown()
    }

    func testClientReportsAFailedConnect() async throws {
        let (server, _) = try await startServer()
        let port = server.boundPort
        await server.shutdown()
        let client = TCPClientTransport(connectTimeout: .seconds(2))
        do {
            _ = try await client.connect(host: "127.0.0.1", port: port)
            XCTFail("connected to a closed port")
        } catch {
            guard case .connectFailed(host: "127.0.0.1", port: port, reason: _) = error else {
                return XCTFail("\(error)")
            }
        }
        await client.shutdown()
    }

    func testManyFramesArriveInOrderThroughFlowControl() async throws {
        let (server, log) = try await startServer()
        let client = TCPClientTransport()
        let clientID = try await client.connect(host: "127.0.0.1", port: server.boundPort)
        let serverID = try await openedID(log)
        for index in 0..<200 { client.send([UInt8(truncatingIfNeeded: index), 0xff], on: clientID) }
        client.close(clientID)
        _ = try await log.first { $0.connection == serverID && { if case .closed = $0 { true } else { false } }($0) }
        let frames = await log.events(of: serverID).compactMap { event -> UInt8? in
            if case .frame(_, let body) = event { return body.first }
            return nil
        }
        XCTAssertEqual(frames, (0..<200).map { UInt8(truncatingIfNeeded: $0) })
        let last = await log.events(of: serverID).last
        XCTAssertEqual(last, .closed(serverID, .byPeer))
        await client.shutdown()
        await server.shutdown()
    }

    // MARK: - Shutdown

    func testShutdownClosesEverythingAndEndsTheStream() async throws {
        let (server, log) = try await startServer()
        let socket = try RawSocket(port: server.boundPort)
        let id = try await openedID(log)
        server.send([7], on: id)
        await server.shutdown()
        XCTAssertEqual(try socket.readUntilEndOfStream(), Framing.frame([7]), "flushed before closing")
        let finished = try await log.waitUntilFinished()
        XCTAssertTrue(finished)
        let last = await log.events(of: id).last
        XCTAssertEqual(last, .closed(id, .byLocal))
        XCTAssertThrowsError(try RawSocket(port: server.boundPort), "no longer listening")
    }
}
