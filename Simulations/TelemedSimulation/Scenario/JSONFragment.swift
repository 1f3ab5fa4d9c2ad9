import TelemedProtocol

// MARK: - JSONFragment

/// A JSON value taken from a scenario file as it is (a frame written as JSON, the new value
/// of a tampered field). Public steps carry it; its content is visible inside the package.
public struct JSONFragment: Sendable {
    /// The value.
    package let value: JSONValue

    /// Wraps `value`.
    package init(_ value: JSONValue) {
        self.value = value
    }
}
