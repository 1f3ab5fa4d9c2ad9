import TelemedTransport
import XCTest

final class InMemoryNetworkTests: XCTestCase {
    private var network = InMemoryNetwork()
    private var doctor: InMemoryEndpoint!
    private var alice: InMemoryEndpoint!
    private var doctorAddress: PeerAddress!

    override func setUp() {
        network = InMemoryNetwork()
        doctor = network.addEndpoint(named: "doctor", host: "10.0.0.1")
        alice = network.addEndpoint(named: "alice", host: "10.0.0.2")
        doctorAddress = doctor.listen(port: 7000)
    }

    /// Connects alice and returns (alice's end, doctor's end), with the opened events taken.
    private func connectAlice() throws -> (ConnectionID, ConnectionID) {
        let client = alice.connect(to: doctorAddress)
        XCTAssertTrue(network.deliverNext())
        XCTAssertEqual(alice.takeEvents(), [.opened(client, doctorAddress)])
        let opened = doctor.takeEvents()
        guard opened.count == 1, case .opened(let server, let peer) = opened[0] else {
            XCTFail("expected one opened event, got \(opened)")
            throw CancellationError()
        }
        XCTAssertEqual(peer, PeerAddress(host: "10.0.0.2", port: 49_152))
        return (client, server)
    }

    // MARK: - Connecting and frames

    func testNothingArrivesUntilTheDriverDelivers() throws {
        let client = alice.connect(to: doctorAddress)
        XCTAssertEqual(network.pendingDeliveries.map(\.payload), [.connect])
        XCTAssertTrue(network.pendingEvents.isEmpty)
        XCTAssertFalse(network.isOpen(client))
        network.deliverNext()
        XCTAssertTrue(network.isOpen(client))
    }

    func testFramesTravelBothWaysInOrder() throws {
        let (client, server) = try connectAlice()
        alice.send([1, 2, 3], on: client)
        alice.send([4], on: client)
        doctor.send([9, 9], on: server)
        XCTAssertEqual(network.runUntilIdle(), .idle(steps: 3))
        XCTAssertEqual(doctor.takeEvents(), [.frame(server, [1, 2, 3]), .frame(server, [4])])
        XCTAssertEqual(alice.takeEvents(), [.frame(client, [9, 9])])
    }

    func testConnectingToNobodyIsRefused() {
        let client = alice.connect(to: PeerAddress(host: "10.0.0.9", port: 1)!)
        network.runUntilIdle()
        XCTAssertEqual(alice.takeEvents(), [.closed(client, .error("connection refused"))])
    }

    func testEndpointsBehindOneAddressGetDistinctPorts() throws {
        let bob = network.addEndpoint(named: "bob", host: "10.0.0.2")
        _ = alice.connect(to: doctorAddress)
        _ = bob.connect(to: doctorAddress)
        network.runUntilIdle()
        let peers = doctor.takeEvents().compactMap { event -> PeerAddress? in
            if case .opened(_, let peer) = event { return peer }
            return nil
        }
        XCTAssertEqual(peers.map(\.host), ["10.0.0.2", "10.0.0.2"])
        XCTAssertEqual(Set(peers.map(\.port)).count, 2)
    }

    // MARK: - Closing

    func testCloseFlushesThenThePeerSeesEndOfStream() throws {
        let (client, server) = try connectAlice()
        doctor.send([5], on: server)
        doctor.close(server)
        XCTAssertEqual(doctor.takeEvents(), [.closed(server, .byLocal)], "the local close is reported at once")
        doctor.send([6], on: server)  // ignored: already closed
        network.runUntilIdle()
        XCTAssertEqual(alice.takeEvents(), [.frame(client, [5]), .closed(client, .byPeer)])
        XCTAssertTrue(network.pendingEvents.isEmpty)
        alice.close(client)  // already closed: nothing happens
        XCTAssertTrue(network.pendingEvents.isEmpty)
    }

    func testEndOfStreamInsideAFrameIsACutFrame() throws {
        let (client, server) = try connectAlice()
        alice.sendRaw([0, 0, 0, 10, 1, 2], on: client)
        alice.close(client)
        network.runUntilIdle()
        XCTAssertEqual(doctor.takeEvents(), [.frameStarted(server), .closed(server, .cutFrame)])
    }

    func testFailReportsTheChosenReason() throws {
        let (client, server) = try connectAlice()
        XCTAssertTrue(network.fail(server, reason: .writeTimeout))
        XCTAssertFalse(network.fail(server, reason: .writeTimeout))
        network.runUntilIdle()
        XCTAssertEqual(doctor.takeEvents(), [.closed(server, .writeTimeout)])
        XCTAssertEqual(alice.takeEvents(), [.closed(client, .byPeer)])
    }

    // MARK: - Faults

    func testDropAndDuplicate() throws {
        let (client, server) = try connectAlice()
        alice.send([1], on: client)
        alice.send([2], on: client)
        let ids = network.pendingDeliveries.map(\.id)
        XCTAssertTrue(network.drop(ids[0]))
        XCTAssertFalse(network.drop(ids[0]))
        let copy = try XCTUnwrap(network.duplicate(ids[1]))
        XCTAssertNotEqual(copy, ids[1])
        network.runUntilIdle()
        XCTAssertEqual(doctor.takeEvents(), [.frame(server, [2]), .frame(server, [2])])
    }

    func testDeliveringOutOfOrder() throws {
        let (client, server) = try connectAlice()
        for byte: UInt8 in 1...3 { alice.send([byte], on: client) }
        let ids = network.pendingDeliveries.map(\.id)
        XCTAssertTrue(network.deliver(ids[2]))
        XCTAssertTrue(network.deliver(ids[0]))
        XCTAssertTrue(network.deliver(ids[1]))
        XCTAssertFalse(network.deliver(ids[1]))
        XCTAssertEqual(doctor.takeEvents(), [.frame(server, [3]), .frame(server, [1]), .frame(server, [2])])
    }

    func testTrafficThatOvertakesItsConnectIsDiscarded() {
        let client = alice.connect(to: doctorAddress)
        alice.send([1], on: client)
        let ids = network.pendingDeliveries.map(\.id)
        network.deliver(ids[1])
        network.deliver(ids[0])
        XCTAssertEqual(doctor.takeEvents().count, 1, "only the opened event")
    }

    func testSplitDeliversAFrameInPieces() throws {
        let (client, server) = try connectAlice()
        alice.send([1, 2, 3, 4], on: client)
        let (head, tail) = try XCTUnwrap(network.split(network.pendingDeliveries[0].id, at: 5))
        network.deliver(head)
        XCTAssertEqual(doctor.takeEvents(), [.frameStarted(server)], "the runtime learns a frame has begun")
        network.deliver(tail)
        XCTAssertEqual(doctor.takeEvents(), [.frame(server, [1, 2, 3, 4])])
        alice.send([1], on: client)
        XCTAssertNil(network.split(network.pendingDeliveries[0].id, at: 5), "cannot cut at the very end")
    }

    func testTamperingReplacesThePayload() throws {
        let (client, server) = try connectAlice()
        alice.send([1], on: client)
        XCTAssertTrue(network.replacePayload(of: network.pendingDeliveries[0].id, with: .frame([0xee])))
        network.runUntilIdle()
        XCTAssertEqual(doctor.takeEvents(), [.frame(server, [0xee])])
    }

    // MARK: - Attackers

    func testAttackerWithAHugeLengthPrefixIsReportedAndLeftToTheRuntime() throws {
        let mallory = network.addEndpoint(named: "mallory", host: "203.0.113.7")
        let attack = mallory.connect(to: doctorAddress)
        network.deliverNext()
        let opened = doctor.takeEvents()
        XCTAssertEqual(opened.count, 1)
        let server = try XCTUnwrap(opened.first?.connection)
        XCTAssertEqual(opened.first, .opened(server, PeerAddress(host: "203.0.113.7", port: 49_152)!))
        mallory.sendRaw([0x80, 0x00, 0x00, 0x00, 0x41], on: attack)
        network.runUntilIdle()
        XCTAssertEqual(doctor.takeEvents(), [.frameRefused(server, .oversize(declared: 0x8000_0000))])
        XCTAssertTrue(network.isOpen(server), "the network closes nothing by itself")
        doctor.send([0x2a], on: server)
        doctor.close(server)
        network.runUntilIdle()
        XCTAssertEqual(mallory.takeEvents(), [.opened(attack, doctorAddress), .frame(attack, [0x2a]), .closed(attack, .byPeer)])
    }

    func testInjectedBytesIntoAnExistingConnection() throws {
        let (_, server) = try connectAlice()
        XCTAssertNotNil(network.inject(.frame([7]), into: server))
        XCTAssertNotNil(network.inject(.bytes([0, 0, 0, 0]), into: server))
        network.runUntilIdle()
        XCTAssertEqual(doctor.takeEvents(), [.frame(server, [7]), .frameRefused(server, .emptyFrame)])
        XCTAssertNotNil(network.inject(.frame([8]), into: server), "the end is still open")
        network.runUntilIdle()
        XCTAssertEqual(doctor.takeEvents(), [], "nothing is read after a refused prefix")
    }

    // MARK: - Connection cap

    func testListenerCapRefusesExtraConnections() throws {
        let clinic = network.addEndpoint(named: "clinic", host: "10.0.0.3")
        let clinicAddress = clinic.listen(port: 8000, maxConnections: 1)
        let first = alice.connect(to: clinicAddress)
        let second = alice.connect(to: clinicAddress)
        network.runUntilIdle()
        let clinicEvents = clinic.takeEvents()
        XCTAssertEqual(clinicEvents.count, 2)
        XCTAssertEqual(clinicEvents.last, .refused(PeerAddress(host: "10.0.0.2", port: 49_153)!, .connectionLimit))
        XCTAssertEqual(alice.takeEvents(), [
            .opened(first, clinicAddress), .opened(second, clinicAddress), .closed(second, .byPeer),
        ])
        alice.close(first)
        network.runUntilIdle()
        _ = clinic.takeEvents()
        let third = alice.connect(to: clinicAddress)
        network.runUntilIdle()
        XCTAssertEqual(alice.takeEvents().last, .opened(third, clinicAddress), "a slot was freed")
    }

    // MARK: - Bounded runs

    func testRunUntilIdleStopsAtItsBound() throws {
        let (client, _) = try connectAlice()
        alice.send([0], on: client)
        // An echo pair that never stops: each frame is answered by another.
        let outcome = network.runUntilIdle(maxSteps: 50) { event in
            guard case .frame(let id, let body) = event.event else { return }
            let endpoint = event.endpoint == "doctor" ? self.doctor! : self.alice!
            endpoint.send(body, on: id)
        }
        XCTAssertEqual(outcome, .stepLimitReached)
        XCTAssertEqual(network.pendingDeliveries.count, 1)
    }

    func testRunUntilIdleHandsOutEventsToAnAnsweringHandler() throws {
        let (client, _) = try connectAlice()
        alice.send([3], on: client)
        var seen: [InMemoryEvent] = []
        let outcome = network.runUntilIdle(maxSteps: 100) { event in
            seen.append(event)
            guard case .frame(let id, let body) = event.event, let first = body.first, first > 0 else { return }
            (event.endpoint == "doctor" ? self.doctor! : self.alice!).send([first - 1], on: id)
        }
        XCTAssertEqual(outcome, .idle(steps: 4))
        XCTAssertEqual(seen.map(\.endpoint), ["doctor", "alice", "doctor", "alice"])
        XCTAssertTrue(network.pendingEvents.isEmpty)
    }
}
