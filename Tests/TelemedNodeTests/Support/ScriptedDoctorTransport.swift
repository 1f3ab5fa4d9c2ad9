import Foundation
import TelemedNode
import TelemedProtocol
import TelemedTransport

/// A fake doctor behind an `AsyncTransport`, for driving `PatientService` through situations a
/// real doctor does not produce on demand (a malformed answer). `answer` sees every frame the
/// patient sends and returns the doctor's reply, if any; `open()` plays the completed connect.
final class ScriptedDoctorTransport: AsyncTransport, @unchecked Sendable {
    let events: TransportEventStream
    private let continuation: AsyncStream<TransportEvent>.Continuation
    private let answer: @Sendable ([UInt8]) -> [UInt8]?
    private let lock = NSLock()
    private var nextID: UInt64 = 1
    private var closedIDs: Set<TelemedTransport.ConnectionID> = []
    private var sentFrames: [[UInt8]] = []

    init(answer: @escaping @Sendable ([UInt8]) -> [UInt8]?) {
        let (stream, continuation) = AsyncStream.makeStream(of: TransportEvent.self)
        self.events = TransportEventStream(stream, taken: { _ in })
        self.continuation = continuation
        self.answer = answer
    }

    /// A new connection, reported as `.opened` from the doctor's address.
    func open() -> TelemedTransport.ConnectionID {
        lock.lock()
        let id = TelemedTransport.ConnectionID(rawValue: nextID)
        nextID += 1
        lock.unlock()
        guard let doctor = PeerAddress(host: "192.0.2.1", port: 8000) else { preconditionFailure("a valid address") }
        continuation.yield(.opened(id, doctor))
        return id
    }

    /// The connections the patient closed.
    var closed: Set<TelemedTransport.ConnectionID> {
        lock.lock()
        defer { lock.unlock() }
        return closedIDs
    }

    /// Every frame the patient sent.
    var sent: [[UInt8]] {
        lock.lock()
        defer { lock.unlock() }
        return sentFrames
    }

    func send(_ body: [UInt8], on connection: TelemedTransport.ConnectionID) {
        lock.lock()
        let open = !closedIDs.contains(connection)
        if open { sentFrames.append(body) }
        lock.unlock()
        guard open, let reply = answer(body) else { return }
        continuation.yield(.frame(connection, reply))
    }

    func close(_ connection: TelemedTransport.ConnectionID) {
        lock.lock()
        let (inserted, _) = closedIDs.insert(connection)
        lock.unlock()
        if inserted { continuation.yield(.closed(connection, .byLocal)) }
    }

    func shutdown() {
        continuation.finish()
    }
}

/// The system clocks with the wall clock set back by an adjustable lag (a patient device whose
/// clock runs behind); the monotonic clock is untouched.
final class LaggingClock: NodeClock, @unchecked Sendable {
    private let lock = NSLock()
    private var lag: UInt64

    init(lagMillis: UInt64) {
        lag = lagMillis
    }

    func setLag(millis: UInt64) {
        lock.lock()
        lag = millis
        lock.unlock()
    }

    func now() -> Instant {
        lock.lock()
        let lag = self.lag
        lock.unlock()
        var instant = SystemClock().now()
        instant.wall -= lag
        return instant
    }
}
