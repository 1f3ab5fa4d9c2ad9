// MARK: - FuzzViolation
//
// The fuzz drivers in this directory are shared by two users: the libFuzzer targets of the
// Fuzz package (which turn a thrown violation into a crash, so libFuzzer reports it and
// saves the input) and the regression tests of TelemedProtocolTests (which include these
// files through symlinks and assert that no violation is thrown). The drivers therefore use
// only the public API of TelemedProtocol and TelemedCrypto, and report problems by throwing.

/// A property the fuzzed code must keep did not hold.
public struct FuzzViolation: Error, CustomStringConvertible, Sendable {
    /// What was violated, with the values involved (never secrets).
    public let message: String

    /// A violation described by `message`.
    public init(_ message: String) { self.message = message }

    /// "invariant violated: " and the message (what libFuzzer and XCTest print).
    public var description: String { "invariant violated: \(message)" }
}

/// Throws a violation unless `condition` holds.
@inline(__always)
func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzViolation) {
    if !condition { throw FuzzViolation(message()) }
}

/// Reads a fuzz input front to back; past the end it yields zeros and `isAtEnd` is true.
struct FuzzInput {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { index >= bytes.count }
    var remaining: Int { max(0, bytes.count - index) }

    mutating func byte() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func u16() -> Int { Int(byte()) << 8 | Int(byte()) }

    /// Up to `count` bytes (fewer at the end of the input).
    mutating func take(_ count: Int) -> [UInt8] {
        let end = min(bytes.count, index + max(0, count))
        defer { index = max(index, end) }
        return index < end ? Array(bytes[index..<end]) : []
    }
}
