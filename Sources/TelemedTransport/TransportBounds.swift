// MARK: - TransportBounds

/// The limits a runtime hands to its transport: the parts of its policy that only the
/// transport can enforce, because only it sees bytes leave and connections arrive.
///
/// The doctor's runtime derives them from its configuration (`DoctorConfiguration.transportBounds`
/// in TelemedNode), so the write timeout and outbound bound are configured once; a TCP server
/// takes them through `TCPConnectionSettings(bounds:)`. A close caused by either is reported
/// with its own `CloseReason` (`.writeTimeout`, `.outboundQueueFull`).
public struct TransportBounds: Sendable, Equatable {
    /// How long queued outbound frames may wait to be written before the connection closes.
    public var writeTimeout: Duration
    /// The most outbound bytes (length prefixes included) one connection may hold unwritten.
    public var outboundQueueBytes: Int
    /// The most connections open at once. Beyond it the transport turns a peer away by itself,
    /// unread and without an answer, so a runtime sets it above every limit of its own (which
    /// do answer) and uses it only as the last guard of the host's file descriptors.
    public var maxConnections: Int

    /// Sets every field.
    public init(writeTimeout: Duration, outboundQueueBytes: Int, maxConnections: Int) {
        self.writeTimeout = writeTimeout
        self.outboundQueueBytes = outboundQueueBytes
        self.maxConnections = maxConnections
    }
}
