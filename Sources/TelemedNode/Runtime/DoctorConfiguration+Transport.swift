import TelemedProtocol
import TelemedTransport

extension DoctorConfiguration {
    /// The bounds the doctor's transport enforces for it: the write timeout and outbound bound
    /// of this configuration, and a connection cap above every table of the machine (pending
    /// handshakes plus active patients, plus 64 so that connections over the machine's own
    /// limits still reach it and get REJECTED rather than being dropped unanswered).
    public var transportBounds: TransportBounds {
        TransportBounds(writeTimeout: .milliseconds(Int64(clamping: writeTimeoutMillis)),
                        outboundQueueBytes: outboundQueueBytes,
                        maxConnections: pendingTotal + maxActivePatients + 64)
    }
}
