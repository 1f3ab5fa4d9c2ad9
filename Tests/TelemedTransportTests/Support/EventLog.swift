import TelemedTransport
import XCTest

/// Collects a transport's events on a background task so tests can wait for them with a bound.
actor EventLog {
    private(set) var events: [TransportEvent] = []
    private(set) var finished = false
    private var task: Task<Void, Never>?

    /// Starts consuming `stream`.
    static func consuming(_ stream: TransportEventStream) async -> EventLog {
        let log = EventLog()
        await log.start(stream)
        return log
    }

    private func start(_ stream: TransportEventStream) {
        task = Task { [weak self] in
            for await event in stream { await self?.append(event) }
            await self?.finish()
        }
    }

    private func append(_ event: TransportEvent) { events.append(event) }
    private func finish() { finished = true }

    /// The first event matching `predicate`, waiting up to `timeout` for it.
    func first(
        within timeout: Duration = .seconds(3),
        file: StaticString = #filePath, line: UInt = #line,
        where predicate: (TransportEvent) -> Bool
    ) async throws -> TransportEvent {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let event = events.first(where: predicate) { return event }
            try await Task.sleep(for: .milliseconds(5))
        }
        XCTFail("No matching event within \(timeout); saw \(events)", file: file, line: line)
        throw CancellationError()
    }

    /// Waits up to `timeout` for the stream to end.
    func waitUntilFinished(within timeout: Duration = .seconds(5)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, !finished {
            try await Task.sleep(for: .milliseconds(5))
        }
        return finished
    }

    /// The events about one connection, in order.
    func events(of connection: ConnectionID) -> [TransportEvent] {
        events.filter { $0.connection == connection }
    }
}

extension TransportEvent {
    /// The identifier of an `.opened` event.
    var openedID: ConnectionID? {
        if case .opened(let id, _) = self { return id }
        return nil
    }
}
