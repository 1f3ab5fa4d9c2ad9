// MARK: - ConnectionMapping
//
// The one place where the transport's vocabulary becomes the machines' and back. The pure core
// (TelemedProtocol) does not depend on TelemedTransport, so each has its own `ConnectionID`; the
// two carry the same number, and every conversion between them in the package (runtime,
// simulator and tests) goes through the two members below. A source address is built here from
// the bytes the transport reports for its peer, never by re-reading address text; text from an
// operator or a scenario is parsed by the transport's one strict IP parser (`IPAddress`) first.

import TelemedProtocol
import TelemedTransport

// MARK: - Connection identifiers

/// The machines' name for a connection (a different type from the transport's).
typealias MachineConnection = TelemedProtocol.ConnectionID
/// The transport's name for a connection.
typealias WireConnection = TelemedTransport.ConnectionID

extension TelemedProtocol.ConnectionID {
    /// The same number as the transport's identifier.
    package init(_ wire: TelemedTransport.ConnectionID) {
        self.init(wire.rawValue)
    }

    /// The transport's identifier with the same number.
    package var wire: TelemedTransport.ConnectionID {
        TelemedTransport.ConnectionID(rawValue: rawValue)
    }
}

// MARK: - Sources

extension SourceAddress {
    /// The source a transport address is charged to (IPv4 /32, IPv6 /64, mapped IPv4 as IPv4),
    /// from the address bytes the transport reported.
    package init?(peer: PeerAddress) {
        self.init(ip: peer.ip)
    }

    /// The source an IP address is charged to.
    package init?(ip: IPAddress) {
        self.init(addressBytes: ip.bytes)
    }

    /// The source of IP address text (operator commands, scenarios, tests), read by the
    /// transport's strict parser; nil when the text is not an IP address.
    package init?(ipText text: String) {
        guard let ip = IPAddress(text) else { return nil }
        self.init(ip: ip)
    }
}

// MARK: - Close reasons

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
        case .error, .proxyHeader:
            self = .transportFailure
        }
    }
}
