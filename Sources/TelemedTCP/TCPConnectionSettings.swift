import NIOCore
import TelemedTransport

// MARK: - TCPConnectionSettings

/// Per-connection limits and timers of the TCP transports. Every timeout closes the
/// connection at once with the matching ``CloseReason``; `nil` switches a timer off.
public struct TCPConnectionSettings: Sendable, Equatable {
    /// How long after opening the first complete frame must have arrived (`.handshakeTimeout`).
    public var handshakeTimeout: Duration?
    /// How long a frame may take from its first byte to its last (`.frameTimeout`).
    public var frameTimeout: Duration?
    /// How long the peer may send nothing at all (`.idleTimeout`).
    public var idleTimeout: Duration?
    /// How long a queued outbound frame may wait to be written to the socket (`.writeTimeout`).
    public var writeTimeout: Duration
    /// The most outbound bytes (prefixes included) a connection may hold unwritten; a send
    /// beyond it closes the connection (`.outboundQueueFull`).
    public var maxQueuedOutboundBytes: Int
    /// How many received frames may wait in the event stream, untaken, before the transport
    /// stops reading from that connection (it resumes as the consumer catches up).
    public var maxUnconsumedFrames: Int
    /// After a local close has flushed, how long to wait for the peer's end of stream before
    /// closing outright (so the peer can read the last frames instead of getting a reset).
    public var lingerTimeout: Duration
    /// The kernel send buffer of each connection in bytes (`SO_SNDBUF`); `nil` keeps the
    /// system's automatic sizing. With ``maxQueuedOutboundBytes`` it bounds what one peer that
    /// never reads can hold on this side.
    public var sendBufferBytes: Int?

    /// Sets every field; see the properties for their meaning.
    public init(
        handshakeTimeout: Duration? = .seconds(10),
        frameTimeout: Duration? = .seconds(10),
        idleTimeout: Duration? = nil,
        writeTimeout: Duration = .seconds(10),
        maxQueuedOutboundBytes: Int = 1 << 20,
        maxUnconsumedFrames: Int = 4,
        lingerTimeout: Duration = .seconds(2),
        sendBufferBytes: Int? = nil
    ) {
        precondition(maxQueuedOutboundBytes >= FrameFormat.prefixLength + FrameFormat.maximumBodyLength,
                     "The outbound bound must hold at least one largest frame (65540 bytes).")
        precondition(maxUnconsumedFrames >= 1, "At least one frame must be allowed to wait for the consumer.")
        precondition(sendBufferBytes.map { $0 > 0 } ?? true, "A send buffer size must be positive.")
        self.handshakeTimeout = handshakeTimeout
        self.frameTimeout = frameTimeout
        self.idleTimeout = idleTimeout
        self.writeTimeout = writeTimeout
        self.maxQueuedOutboundBytes = maxQueuedOutboundBytes
        self.maxUnconsumedFrames = maxUnconsumedFrames
        self.lingerTimeout = lingerTimeout
        self.sendBufferBytes = sendBufferBytes
    }

    /// The server's defaults: 10 s handshake, frame and write timeouts, no idle timeout.
    public static let serverDefault = TCPConnectionSettings()

    /// The client's defaults: as the server's, but no handshake timeout (the client speaks first).
    public static let clientDefault = TCPConnectionSettings(handshakeTimeout: nil)
}

extension Duration {
    /// The duration as an NIO time amount (saturating).
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .nanoseconds(seconds < 0 ? Int64.min : Int64.max) }
        return .nanoseconds(scaled &+ attoseconds / 1_000_000_000)
    }
}
