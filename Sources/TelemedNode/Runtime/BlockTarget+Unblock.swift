import TelemedProtocol

extension BlockTarget {
    /// The argument of the console's `unblock` that lifts this block: `192.0.2.7` for a source,
    /// `192.0.2.0/24` (or an IPv6 `…::/48`) for a prefix, `alice@192.0.2.7` for a device. An IPv6
    /// source is written as its /64's address (`2001:db8:1:2::`), which `unblock` reads as that
    /// /64. The doctor's console prints `unblock <this>` next to every new block.
    public var unblockArgument: String {
        switch self {
        case let .source(source): return Self.address(source)
        case let .prefix(prefix): return prefix.description
        case let .device(device): return "\(device.patient)@\(Self.address(device.source))"
        }
    }

    private static func address(_ source: SourceAddress) -> String {
        let text = source.description
        return text.hasSuffix("::/64") ? String(text.dropLast(3)) : text
    }
}
