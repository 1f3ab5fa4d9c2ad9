import NIOCore
import TelemedTransport

// MARK: - TCPConnectionSettings

/// Per-connection bounds of the TCP transports.
///
/// The transport runs no protocol timer: how long a handshake or a frame may take is the
/// runtime's decision (the doctor's `DoctorConfiguration.handshakeTimeoutMillis`). What only the
/// transport can see is here: how long queued frames may wait to be written, and how many bytes
/// may wait. A host builds these from its own configuration (the doctor: from
/// `DoctorConfiguration.writeTimeoutMillis` and `outboundQueueBytes`).
public struct TCPConnectionSettings: Sendable, Equatable {
    /// How long a queued outbound frame may wait to be written to the socket; then the
    /// connection closes with `.writeTimeout`.
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
    ///
    /// - Precondition: the outbound bound holds at least one largest frame (65,540 bytes),
    ///   at least one frame may wait for the consumer, and a send buffer size is positive.
    public init(
        writeTimeout: Duration = .seconds(10),
        maxQueuedOutboundBytes: Int = 1 << 20,
        maxUnconsumedFrames: Int = 4,
        lingerTimeout: Duration = .seconds(2),
        sendBufferBytes: Int? = nil
    ) {
        precondition(maxQueuedOutboundBytes >= Framing.headerLength + Framing.maxBodyLength,
                     "The outbound bound must hold at least one largest frame (65540 bytes).")
        precondition(maxUnconsumedFrames >= 1, "At least one frame must be allowed to wait for the consumer.")
        precondition(sendBufferBytes.map { $0 > 0 } ?? true, "A send buffer size must be positive.")
        self.writeTimeout = writeTimeout
        self.maxQueuedOutboundBytes = maxQueuedOutboundBytes
        self.maxUnconsumedFrames = maxUnconsumedFrames
        self.lingerTimeout = lingerTimeout
        self.sendBufferBytes = sendBufferBytes
    }

    /// The runtime's bounds (write timeout and outbound bound); the other fields keep their
    /// defaults.
    public init(bounds: TransportBounds) {
        self.init(writeTimeout: bounds.writeTimeout, maxQueuedOutboundBytes: bounds.outboundQueueBytes)
    }

    /// The server's defaults: 10 s write timeout, 1 MiB outbound bound.
    public static let serverDefault = TCPConnectionSettings()

    /// The client's defaults (the same bounds).
    public static let clientDefault = TCPConnectionSettings()
}
