/// One reading of the host's two clocks, passed into every input of a machine.
///
/// The machines never read a clock. Protocol timestamps and block expiry use ``wall``
/// (UTC Unix milliseconds); timers, the handshake timeout and the replay-cache lifetime use
/// ``monotonic`` (milliseconds from an arbitrary origin that never steps back).
public struct Instant: Sendable, Hashable, CustomStringConvertible {
    /// UTC Unix time in milliseconds.
    public var wall: UInt64
    /// Milliseconds on a clock that never goes backwards.
    public var monotonic: UInt64

    /// A reading of both clocks.
    public init(wall: UInt64, monotonic: UInt64) {
        self.wall = wall
        self.monotonic = monotonic
    }

    public var description: String { "wall=\(wall)ms mono=\(monotonic)ms" }
}

extension UInt64 {
    /// `|self − other|` without overflow. (Not `distance(to:)`: the standard library's
    /// `Strideable.distance(to:)` is signed and directional, this is neither.)
    @inlinable func absoluteDifference(from other: UInt64) -> UInt64 {
        self >= other ? self - other : other - self
    }
}
