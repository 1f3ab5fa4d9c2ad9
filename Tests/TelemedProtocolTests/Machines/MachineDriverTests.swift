import Testing
@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol

/// The package's one machine pump, `MachineDriver` (through `Harness`, its unobserved form, and
/// a throwing observer like the fuzz checker): the order it delivers frames and fires timers
/// in, how it closes connections, and a handshake to a session. Every test drives the real
/// `DoctorMachine` and `PatientMachine`.
@Suite struct MachineDriverTests {
    let crafter = Crafter()

    /// What a flight is, readably: connection, direction and the opcode of its body.
    func describe(_ flight: Harness.Flight) -> String {
        let opcode = crafter.decode(flight.body).map { "\($0.opcode)" } ?? "?"
        return "\(flight.connection.rawValue)\(flight.direction == .toDoctor ? ">" : "<")\(opcode)"
    }

    /// Frames travel one FIFO queue: two patients' KEY_VERIFICATIONs, then the two
    /// SESSION_TOKENs, the two KEY_CONFIRMATIONs and the three GROUP_KEYs, each in the order it
    /// was queued (`DoctorMachine.frameReceived`, `PatientMachine.connected` and `frameReceived`).
    @Test func deliversFramesInTheOrderTheyWereSent() throws {
        var h = try Harness(patients: ["alice", "bob"])
        var seen: [Harness.Flight] = []
        let alice = try h.connect("alice")
        let bob = try h.connect("bob", from: "192.0.2.11")
        #expect(h.queue.map(\.connection) == [alice, bob])
        h.hook = { flight in
            seen.append(flight)
            return .deliver
        }
        h.pump()
        let order = seen.map(describe)
        #expect(Array(order.prefix(6)) == ["1>keyVerification", "2>keyVerification", "1<sessionToken", "2<sessionToken",
                                           "1>keyConfirmation", "2>keyConfirmation"], "\(order)")
        // alice's GROUP_KEY of epoch 1 was queued before bob's confirmation was read, which
        // queued epoch 2's for bob, then for alice.
        #expect(Array(order.dropFirst(6)) == ["1<groupKey", "2<groupKey", "1<groupKey"], "\(order)")
        let epochs = seen.dropFirst(6).compactMap { flight -> UInt64? in
            if case let .groupKey(key)? = crafter.decode(flight.body) { return key.epoch }
            return nil
        }
        #expect(epochs == [1, 2, 2])
        #expect(h.queue.isEmpty)
        #expect(h.patients[alice]?.epoch == 2 && h.patients[bob]?.epoch == 2)
    }

    /// The hook decides each frame's fate: a dropped KEY_VERIFICATION never reaches the doctor
    /// (no SESSION_TOKEN comes back), a duplicated one reaches it twice (the second is R-STATE on
    /// `DoctorMachine.frameReceived`, and the connection closes).
    @Test func theHookDropsAndDuplicatesFramesInFlight() throws {
        var h = try Harness(patients: ["alice", "bob"])
        let alice = try h.connect("alice")
        h.hook = { $0.direction == .toDoctor ? .drop : .deliver }
        h.pump()
        #expect(h.framesSent(to: alice).isEmpty)
        #expect(h.doctor.pendingHandshakes == 1)

        h.hook = { $0.direction == .toDoctor && $0.connection != alice ? .duplicate : .deliver }
        let bob = try h.connect("bob", from: "192.0.2.11")
        h.pump()
        #expect(h.framesSent(to: bob).compactMap { crafter.decode($0)?.opcode } == [.sessionToken, .rejected])
        #expect(h.closed.contains(bob))
        #expect(h.rejections.map(\.rule) == [.state])
    }

    /// The doctor's `.close` writes what it queued first: a kicked member reads its DISCONNECT
    /// (`DoctorMachine.kick`, `PatientMachine.frameReceived`) and ends "kicked", not with a lost
    /// connection; afterwards nothing is delivered on that connection.
    @Test func aCloseFlushesTheFramesQueuedBeforeIt() throws {
        var h = try Harness(patients: ["alice"])
        let alice = try h.connect("alice")
        h.pump()
        h.applyDoctor(try h.doctor.kick(try PeerID("alice"), now: h.now, using: &h.rng))
        #expect(h.closed.contains(alice))
        let ends = h.patientEvents(alice).compactMap { event -> PatientEnd? in
            if case let .ended(end) = event { return end }
            return nil
        }
        #expect(ends == [.disconnectedByDoctor("kicked")], "\(ends)")
        let logged = h.doctorLog.count
        h.deliver(Harness.Flight(connection: alice, direction: .toDoctor, body: [0x7B]))
        h.transportClosed(alice, .closedByPeer)
        #expect(h.doctorLog.count == logged, "the doctor heard of a connection that had ended")
    }

    /// Doctor timers due at the same time fire in connection order, whatever the dictionary's
    /// order: six handshakes that never begin all time out at 10 s, and `DoctorMachine.timerFired`
    /// rejects them (R-STATE) connection 1 first.
    @Test func timersDueTogetherFireInConnectionOrder() throws {
        var h = try Harness(patients: [])
        let connections = try (1...6).map { try h.openRaw(from: "198.51.100.\($0)") }
        #expect(h.timers.count == 6)
        #expect(h.nextDoctorTimer(dueBy: 9_999) == nil)
        h.advance(by: 10_000)
        h.fireDueTimers()
        let rejected = h.doctorEvents.compactMap { event -> ConnectionID? in
            if case let .rejected(connection, _, .state, _, _) = event { return connection }
            return nil
        }
        #expect(rejected == connections)
        #expect(h.timers.isEmpty)
    }

    /// The tie order itself: equal deadlines by connection, then the handshake timer before
    /// the frame-completion timer; an earlier deadline always first.
    @Test func theTieOrderIsDeadlineConnectionKind() throws {
        var h = try Harness(patients: [])
        let (one, two) = (ConnectionID(1), ConnectionID(2))
        h.timers = [.frameCompletion(one): 5, .handshake(two): 5, .handshake(one): 5, .frameCompletion(two): 4]
        var order: [DoctorTimer] = []
        while let (timer, _) = h.nextDoctorTimer(dueBy: 5) {
            order.append(timer)
            h.timers[timer] = nil
        }
        #expect(order == [.frameCompletion(two), .handshake(one), .frameCompletion(one), .handshake(two)])
    }

    /// `run(for:)` moves the clocks to each due timer and, at equal times, fires the doctor's
    /// before the patient's: both handshake timeouts are 10 s, so the doctor's
    /// (`DoctorMachine.timerFired`) rejects the silent connection and the patient reads the
    /// REJECTED before its own timer (`PatientMachine.timerFired`) could end it.
    @Test func atEqualTimesTheDoctorTimerFiresBeforeThePatients() throws {
        var h = try Harness(patients: ["alice"])
        let alice = try h.connect("alice")
        h.hook = { $0.direction == .toDoctor ? .drop : .deliver }
        h.pump()
        #expect(h.patientTimers[alice]?[.handshake] == 10_000)
        let start = h.now
        h.run(for: 25_000)
        #expect(h.rejections.map(\.rule) == [.state])
        #expect(h.patientEvents(alice).last == .ended(.connectionLost(.refusedByDoctor)))
        #expect(h.now.monotonic == start.monotonic + 25_000 && h.now.wall == start.wall + 25_000)
        #expect(h.patientTimers[alice]?[.handshake] == nil)
    }

    /// A patient timer alone fires at its deadline too: with the doctor's timeout longer, the
    /// patient's handshake timer ends the silent session first (`PatientMachine.timerFired`),
    /// and its close reaches the doctor as the peer's (`DoctorMachine.connectionClosed`).
    @Test func aPatientTimerFiresAtItsDeadline() throws {
        var configuration = DoctorConfiguration()
        configuration.minimumVersion = .v1
        configuration.handshakeTimeoutMillis = 20_000
        var h = try Harness(patients: ["alice"], configuration: configuration)
        let alice = try h.connect("alice")
        h.hook = { $0.direction == .toDoctor ? .drop : .deliver }
        h.pump()
        h.run(for: 15_000)
        #expect(h.patientEvents(alice).last == .ended(.handshakeTimedOut))
        #expect(h.closed.contains(alice))
        #expect(h.rejections.isEmpty)
        #expect(h.doctor.pendingHandshakes == 0)
    }

    /// A handshake to a session and a broadcast, through the driver alone: KEY_VERIFICATION,
    /// SESSION_TOKEN, KEY_CONFIRMATION, GROUP_KEY, then ENC_MSG and its receipt
    /// (`DoctorMachine.connectionOpened`, `frameReceived`, `broadcast`; `PatientMachine.connected`,
    /// `frameReceived`).
    @Test func aHandshakeReachesASessionAndABroadcastArrives() throws {
        var h = try Harness(patients: ["alice"])
        let alice = try h.connect("alice")
        h.pump()
        let patient = try #require(h.patients[alice])
        #expect(h.doctor.activePatients == [try PeerID("alice")])
        #expect(patient.isActive && patient.epoch == h.doctor.epoch)
        #expect(patient.groupKeyFingerprint == h.doctor.groupKeyFingerprint)
        #expect(h.patientEvents(alice).first == .authenticated(epoch: 1, members: 1))
        try h.broadcast("Clinic opens at nine.")
        h.pump()
        #expect(h.received(alice) == ["Clinic opens at nine."])
        #expect(h.doctorEvents.contains { if case .receipt = $0 { return true }; return false })
        #expect(h.timers.isEmpty, "no handshake timer left behind")
    }

    /// An observer sees every action list before the driver carries it out and can stop the
    /// run (as the fuzz checker does): refusing the first SESSION_TOKEN leaves it unsent.
    @Test func anObserverStopsTheRunBeforeTheActionsAreCarriedOut() throws {
        struct Refused: Error, Equatable {}
        struct NoTokens: MachineObserver {
            let crafter = Crafter()
            var opened: [ConnectionID] = []
            mutating func opened(_ connection: ConnectionID) throws(Refused) { opened.append(connection) }
            mutating func doctorActed(_ actions: [DoctorAction], doctor: DoctorMachine, now: Instant) throws(Refused) {
                for case let .send(_, body) in actions where crafter.decode(body)?.opcode == .sessionToken { throw Refused() }
            }
        }
        let template = try Harness(patients: ["alice"])
        var driver = MachineDriver(doctor: template.doctor, doctorKey: template.doctorKey, keys: template.keys,
                                   now: template.now, rng: template.rng, observer: NoTokens())
        let alice = try driver.open(from: try XCTUnwrapSource("192.0.2.10"))
        try driver.start(try PatientMachine(configuration: .version1, identity: try PeerID("alice"),
                                            privateKey: Harness.keyCache.key("alice"), doctorID: Harness.doctorID,
                                            doctorKey: driver.doctorKey.publicKey), on: alice)
        #expect(driver.observer.opened == [alice])
        #expect(throws: Refused()) { try driver.pump() }
        #expect(driver.queue.isEmpty)
        #expect(driver.framesSent(to: alice).isEmpty, "the refused list was recorded or carried out")
    }
}
