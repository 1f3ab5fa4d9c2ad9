import TelemedProtocol
import TelemedTransport

// MARK: - Connection identifiers

/// The machines' name for a connection (a different type from the transport's).
typealias MachineConnection = TelemedProtocol.ConnectionID
/// The transport's name for a connection.
typealias WireConnection = TelemedTransport.ConnectionID

extension TelemedProtocol.ConnectionID {
    /// The same number as the transport's identifier.
    init(_ wire: TelemedTransport.ConnectionID) {
        self.init(wire.rawValue)
    }

    /// The transport's identifier with the same number.
    var wire: TelemedTransport.ConnectionID {
        TelemedTransport.ConnectionID(rawValue: rawValue)
    }
}

// MARK: - Sources and close reasons

extension SourceAddress {
    /// The source a transport address is charged to (IPv4 /32, IPv6 /64, mapped IPv4 as IPv4).
    init?(peer: PeerAddress) {
        self.init(peer.host)
    }
}

extension ConnectionEnd {
    /// How the machine should read a transport's close reason (PROTOCOL.md §5: a close by the
    /// peer between frames is no rejection; §7.6: a cut frame is R-FRAME; a write timeout and a
    /// full outbound queue are leaves with their own reason).
    init(_ reason: CloseReason) {
        switch reason {
        case .byPeer, .byLocal, .connectionLimit:
            self = .closedByPeer
        case .cutFrame:
            self = .cutFrame
        case .writeTimeout:
            self = .writeTimeout
        case .outboundQueueFull:
            self = .outboundQueueFull
        case .error:
            self = .transportFailure
        }
    }
}
