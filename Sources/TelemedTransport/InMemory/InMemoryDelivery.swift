// MARK: - DeliveryID

/// Names one piece of traffic in flight on an ``InMemoryNetwork``.
public struct DeliveryID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Allocation order: a larger number was put in flight later.
    public let rawValue: UInt64

    /// Wraps a raw number (the network allocates these).
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Orders by allocation.
    public static func < (lhs: DeliveryID, rhs: DeliveryID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `d#3`.
    public var description: String { "d#\(rawValue)" }
}

// MARK: - InMemoryDelivery

/// One piece of traffic in flight towards one connection end, waiting for the driver.
public struct InMemoryDelivery: Sendable, Equatable, CustomStringConvertible {
    /// What travels.
    public enum Payload: Sendable, Equatable {
        /// A connection request; delivering it opens both ends (or refuses the connection).
        case connect
        /// One frame body sent with `send`; it arrives as its length prefix and body.
        case frame([UInt8])
        /// Raw stream bytes, with no framing added (a scripted attacker or a split frame).
        case bytes([UInt8])
        /// The sender closed its end: the receiver sees the end of the stream.
        case endOfStream
    }

    /// This delivery's name.
    public let id: DeliveryID
    /// The receiving connection end.
    public let connection: ConnectionID
    /// The sending end's address.
    public let from: PeerAddress
    /// The receiving end's address.
    public let to: PeerAddress
    /// What travels.
    public var payload: Payload

    /// The bytes the receiver's stream gets (empty for connect and end of stream).
    var streamBytes: [UInt8] {
        switch payload {
        case .frame(let body): Framing.frame(body)
        case .bytes(let bytes): bytes
        case .connect, .endOfStream: []
        }
    }

    /// `d#3 10.0.0.2:49152 -> 10.0.0.1:7000 (conn#2) frame[57]`.
    public var description: String {
        let what: String = switch payload {
        case .connect: "connect"
        case .frame(let body): "frame[\(body.count)]"
        case .bytes(let bytes): "bytes[\(bytes.count)]"
        case .endOfStream: "end of stream"
        }
        return "\(id) \(from) -> \(to) (\(connection)) \(what)"
    }
}

// MARK: - InMemoryEvent

/// A transport event addressed to one endpoint of an ``InMemoryNetwork``.
public struct InMemoryEvent: Sendable, Equatable, CustomStringConvertible {
    /// The name of the endpoint the event is for.
    public let endpoint: String
    /// The event.
    public let event: TransportEvent

    /// Pairs an endpoint name with an event.
    public init(endpoint: String, event: TransportEvent) {
        self.endpoint = endpoint
        self.event = event
    }

    /// `doctor: opened(...)`.
    public var description: String { "\(endpoint): \(event)" }
}
