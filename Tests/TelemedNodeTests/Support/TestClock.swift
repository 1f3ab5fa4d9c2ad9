import Foundation
import TelemedNode
import TelemedProtocol

/// A virtual clock the test moves by hand (both clocks advance together unless told otherwise).
final class TestClock: NodeClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Instant

    init(wall: UInt64 = 1_764_000_000_000, monotonic: UInt64 = 1_000) {
        current = Instant(wall: wall, monotonic: monotonic)
    }

    func now() -> Instant {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    func advance(millis: UInt64) {
        lock.lock()
        current.wall += millis
        current.monotonic += millis
        lock.unlock()
    }
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass.
func eventually(within seconds: Double = 5, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// A thread-safe list the observers append to.
final class Recorder<Element: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Element] = []

    func append(_ item: Element) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    var all: [Element] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

/// A fresh temporary directory, removed by the caller.
func temporaryDirectory(_ label: String) throws -> String {
    let path = NSTemporaryDirectory() + "telemed-node-\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
