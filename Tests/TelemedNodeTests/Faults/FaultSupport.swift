@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport
import TelemedTestSupport
import XCTest

// MARK: - TappedTransport

/// Passes a transport through unchanged while recording its opened, closed and refused events
/// as the consumer takes them (frames are not kept). It pulls from the wrapped stream only when
/// the consumer asks, so the wrapped transport's read-side flow control still works.
final class TappedTransport: AsyncTransport, @unchecked Sendable {
    private let base: any AsyncTransport
    private let recorder: Recorder<TransportEvent>

    init(_ base: any AsyncTransport, into recorder: Recorder<TransportEvent>) {
        self.base = base
        self.recorder = recorder
    }

    func send(_ body: [UInt8], on connection: TelemedTransport.ConnectionID) {
        base.send(body, on: connection)
    }

    func close(_ connection: TelemedTransport.ConnectionID) {
        base.close(connection)
    }

    var events: TransportEventStream {
        let source = IteratorBox(base.events.makeAsyncIterator())
        let recorder = self.recorder
        let stream = AsyncStream<TransportEvent> {
            let event = await source.next()
            if let event {
                if case .frame = event {} else { recorder.append(event) }
            }
            return event
        }
        return TransportEventStream(stream) { _ in }
    }

    /// One iterator, used by the single consumer task.
    private final class IteratorBox: @unchecked Sendable {
        private var iterator: TransportEventStream.AsyncIterator

        init(_ iterator: TransportEventStream.AsyncIterator) {
            self.iterator = iterator
        }

        func next() async -> TransportEvent? {
            var copy = iterator
            let event = await copy.next()
            iterator = copy
            return event
        }
    }
}

extension TCPCluster {
    /// The close reasons the doctor's transport reported, by connection.
    var closeReasons: [TelemedTransport.ConnectionID: CloseReason] {
        var reasons: [TelemedTransport.ConnectionID: CloseReason] = [:]
        for case let .closed(id, reason) in transportEvents.all { reasons[id] = reason }
        return reasons
    }

    /// The connection the doctor admitted `name` on (from its latest join).
    func connection(of name: String) -> TelemedTransport.ConnectionID? {
        doctorEvents.all.reversed().lazy.compactMap { event -> TelemedTransport.ConnectionID? in
            guard case let .patientAuthenticated(id, connection, _, _) = event, id.value == name else { return nil }
            return connection.wire
        }.first
    }

    /// The epochs the doctor started, in order.
    var startedEpochs: [(epoch: UInt64, members: [String])] {
        doctorEvents.all.compactMap { event in
            guard case let .epochStarted(epoch, members) = event else { return nil }
            return (epoch, members.map(\.value))
        }
    }
}

// MARK: - RawMember

/// An enrolled patient driven by hand over a ``RawSocket``: the real patient machine, but the
/// test decides when it reads, what it sends and when the socket dies. Every frame body it
/// sent is kept (for replays).
final class RawMember {
    let socket: RawSocket
    private(set) var machine: PatientMachine
    private var rng: SeededRandom
    private(set) var sent: [[UInt8]] = []
    private(set) var events: [PatientEvent] = []
    private let codec: MessageCodec

    init(identity: PeerID, privateKey: PrivateKey, doctorID: PeerID, doctorKey: PublicKey,
         port: Int, from source: String, seed: UInt64, receiveBuffer: Int32? = nil) throws {
        socket = try RawSocket(port: port, from: source, receiveBuffer: receiveBuffer)
        machine = try PatientMachine(configuration: .version1, identity: identity, privateKey: privateKey,
                                     doctorID: doctorID, doctorKey: doctorKey)
        rng = SeededRandom(seed: seed)
        codec = MessageCodec(groupName: privateKey.group.name, elementLength: privateKey.group.elementLength)
    }

    /// A member with the test keys of `name` (enrolled by ``TestKeys/doctor(enrolling:)``).
    convenience init(_ name: String, port: Int, from source: String, seed: UInt64, receiveBuffer: Int32? = nil) throws {
        try self.init(identity: TestKeys.id(name), privateKey: TestKeys.key(name), doctorID: TestKeys.id("doctor"),
                      doctorKey: TestKeys.key("doctor").publicKey, port: port, from: source, seed: seed,
                      receiveBuffer: receiveBuffer)
    }

    /// Sends KEY_VERIFICATION; returns its body.
    @discardableResult
    func start() throws -> [UInt8] {
        try perform(machine.connected(now: SystemClock().now(), using: &rng))
        guard let request = sent.last else { throw RawSocket.Failure(description: "no KEY_VERIFICATION was sent") }
        return request
    }

    /// Reads one frame from the doctor and lets the machine answer it; returns the body.
    @discardableResult
    func step() throws -> [UInt8] {
        let body = try socket.readFrame()
        try perform(machine.frameReceived(body, now: SystemClock().now(), using: &rng))
        return body
    }

    /// The whole handshake: KEY_VERIFICATION, SESSION_TOKEN, KEY_CONFIRMATION, first GROUP_KEY.
    func join() throws {
        try start()
        for _ in 0..<3 where !machine.isActive && machine.end == nil { try step() }
        guard machine.isActive else {
            throw RawSocket.Failure(description: "the handshake did not complete: \(String(describing: machine.end))")
        }
    }

    /// Decodes a frame body the doctor sent.
    func decode(_ body: [UInt8]) throws -> Message {
        try codec.decode(body)
    }

    private func perform(_ actions: [PatientAction]) throws {
        for action in actions {
            switch action {
            case let .send(body):
                sent.append(body)
                try socket.write(Framing.frame(body))
            case let .event(event):
                events.append(event)
            case .close, .scheduleTimer, .cancelTimer:
                break
            }
        }
    }
}

// MARK: - Forged requests

/// KEY_VERIFICATION bodies an attacker can make without a patient's private key.
enum Forge {
    /// A well-formed request from `identity` with one bit of s flipped (R-SIG), stamped now.
    static func badSignature(identity: PeerID, privateKey: PrivateKey, doctorID: PeerID, doctorKey: PublicKey,
                             seed: UInt64) throws -> [UInt8] {
        let codec = MessageCodec(groupName: privateKey.group.name, elementLength: privateKey.group.elementLength)
        let body = try request(identity: identity, privateKey: privateKey, doctorID: doctorID, doctorKey: doctorKey,
                               seed: seed)
        guard case let .keyVerification(request) = try codec.decode(body) else {
            throw RawSocket.Failure(description: "the patient machine did not send a KEY_VERIFICATION")
        }
        var s = request.sigS.bytes
        s[s.count - 1] ^= 0x01
        let forged = KeyVerification(group: request.group, idI: request.idI, idGWN: request.idGWN, tsI: request.tsI,
                                     rnI: request.rnI, c1: request.c1, c2: request.c2, sigR: request.sigR,
                                     sigS: try Bytes32(s))
        return codec.encode(.keyVerification(forged))
    }

    /// A correctly signed request from an id the doctor never enrolled (its own fresh key).
    static func unknownID(_ name: String, doctorID: PeerID, doctorKey: PublicKey, seed: UInt64) throws -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        let key = PrivateKey(generatingIn: doctorKey.group, using: &rng)
        return try request(identity: TestKeys.id(name), privateKey: key, doctorID: doctorID, doctorKey: doctorKey,
                           seed: seed)
    }

    /// A genuine request (what an eavesdropper captures), stamped now.
    static func request(identity: PeerID, privateKey: PrivateKey, doctorID: PeerID, doctorKey: PublicKey,
                        seed: UInt64) throws -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        var machine = try PatientMachine(configuration: .version1, identity: identity,
                                         privateKey: privateKey, doctorID: doctorID, doctorKey: doctorKey)
        for case let .send(body) in machine.connected(now: SystemClock().now(), using: &rng) { return body }
        throw RawSocket.Failure(description: "the patient machine sent nothing")
    }
}
