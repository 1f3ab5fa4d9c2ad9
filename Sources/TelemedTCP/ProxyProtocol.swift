import NIOCore
import TelemedTransport

// MARK: - ProxyProtocolSettings

/// HAProxy PROXY protocol v2 on a listener (opt-in): every accepted connection must begin with
/// a version 2 header, and the address the runtime sees is the header's source.
///
/// A connection is refused (`.refused(peer, .proxyHeader(why))`, before any frame and without
/// ever being reported opened) when it does not come from one of ``trustedProxies``, when its
/// first bytes are not the v2 signature, when the header is malformed, longer than
/// ``maxHeaderLength``, or not complete within ``headerTimeout``, or when a PROXY command
/// carries anything but TCP over IPv4 or IPv6. A LOCAL command (the proxy's own health check)
/// keeps the socket's address. See the TelemedTCP article "ProxyProtocol".
public struct ProxyProtocolSettings: Sendable, Equatable {
    /// The proxies allowed to connect (and so to name sources); loopback by default.
    public var trustedProxies: [IPAddressPrefix]
    /// The longest header accepted, signature and TLVs included (default 232 bytes: the
    /// 16-byte fixed part and 216 bytes of addresses and TLVs).
    public var maxHeaderLength: Int
    /// How long a connection may take to send its complete header.
    public var headerTimeout: Duration

    /// Sets every field; the defaults trust loopback proxies only.
    public init(trustedProxies: [IPAddressPrefix] = IPAddressPrefix.loopback, maxHeaderLength: Int = 232,
                headerTimeout: Duration = .seconds(5)) {
        precondition(maxHeaderLength >= 16 + 36, "A header must at least hold an IPv6 address block.")
        self.trustedProxies = trustedProxies
        self.maxHeaderLength = maxHeaderLength
        self.headerTimeout = headerTimeout
    }

    /// Whether `address` may send PROXY headers.
    public func trusts(_ address: IPAddress) -> Bool {
        trustedProxies.contains { $0.contains(address) }
    }
}

// MARK: - IPAddressPrefix

/// An address prefix such as `10.0.0.0/8` or `2001:db8::/32` (a bare address is a /32 or /128).
public struct IPAddressPrefix: Sendable, Hashable, CustomStringConvertible {
    /// The network address (bits after ``length`` cleared).
    public let network: IPAddress
    /// The prefix length in bits.
    public let length: Int

    /// Parses `address` or `address/length`; nil when the text is neither or the length does
    /// not fit the address.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = parts.first.flatMap({ IPAddress(String($0)) }) else { return nil }
        let width = address.bytes.count * 8
        var length = width
        if parts.count == 2 {
            guard parts[1].count <= 3, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(parts[1]),
                  (0...width).contains(value) else { return nil }
            length = value
        }
        self.network = address.masked(toPrefixLength: length)
        self.length = length
    }

    /// Whether `address` is inside the prefix (an IPv4 prefix never holds an IPv6 address).
    public func contains(_ address: IPAddress) -> Bool {
        address.bytes.count == network.bytes.count && address.masked(toPrefixLength: length) == network
    }

    /// `127.0.0.0/8` and `::1/128`.
    public static let loopback: [IPAddressPrefix] = ["127.0.0.0/8", "::1"].compactMap { IPAddressPrefix($0) }

    public var description: String { "\(network)/\(length)" }
}

// MARK: - ProxyHeader

/// One parsed PROXY protocol v2 header.
package struct ProxyHeader: Sendable, Equatable {
    /// The client the proxy speaks for; nil for a LOCAL command (use the socket's address).
    package var source: PeerAddress?
    /// How many bytes the header took (signature to the end of its TLVs).
    package var length: Int

    /// The 12-byte signature.
    package static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// What the first bytes of a connection say.
    package enum Parse: Sendable, Equatable {
        /// Not enough bytes yet (nothing wrong so far).
        case needMore
        /// A complete, valid header.
        case header(ProxyHeader)
        /// Not a valid header; the text says why (never echoing a byte of it).
        case invalid(String)
    }

    /// Parses the start of `bytes` (the connection's first bytes, possibly incomplete).
    package static func parse(_ bytes: some Collection<UInt8>, maxLength: Int) -> Parse {
        let bytes = Array(bytes.prefix(maxLength + 1))
        for (index, byte) in bytes.prefix(signature.count).enumerated() where byte != signature[index] {
            return .invalid("the connection did not start with a PROXY protocol v2 signature")
        }
        guard bytes.count >= 16 else { return .needMore }
        let version = bytes[12] >> 4
        let command = bytes[12] & 0x0F
        guard version == 2 else { return .invalid("PROXY protocol version \(version), not 2") }
        guard command <= 1 else { return .invalid("unknown PROXY command \(command)") }
        let addressLength = Int(bytes[14]) << 8 | Int(bytes[15])
        let total = 16 + addressLength
        guard total <= maxLength else { return .invalid("a header of \(total) bytes is over the limit of \(maxLength)") }
        guard bytes.count >= total else { return .needMore }
        if command == 0 {  // LOCAL: the proxy's own connection; addresses (if any) are skipped
            return .header(ProxyHeader(source: nil, length: total))
        }
        let family = bytes[13]
        let block = bytes[16..<total]
        let start = block.startIndex
        let addressBytes: Int
        switch family {
        case 0x11: addressBytes = 4   // TCP over IPv4
        case 0x21: addressBytes = 16  // TCP over IPv6
        default: return .invalid("PROXY command with address family 0x\(String(family, radix: 16)), not TCP4 or TCP6")
        }
        guard addressLength >= 2 * addressBytes + 4 else {
            return .invalid("an address block of \(addressLength) bytes is too short for its family")
        }
        let ip = Array(block[start..<start + addressBytes])
        let portOffset = start + 2 * addressBytes
        let port = Int(block[portOffset]) << 8 | Int(block[portOffset + 1])
        guard let address = IPAddress(bytes: ip) else { return .invalid("an unreadable source address") }
        return .header(ProxyHeader(source: PeerAddress(ip: address, port: port), length: total))
    }
}

// MARK: - ProxyHeaderHandler

/// The first handler of a connection on a PROXY-protocol listener: it reads the header, then
/// tells the next handler the source (``ProxyHeaderHandler/Parsed``), passes on the bytes that
/// followed the header and removes itself; or it refuses the connection (the `refuse` callback
/// reports it, then the channel is closed) before any frame reaches the runtime.
package final class ProxyHeaderHandler: ChannelInboundHandler, RemovableChannelHandler {
    package typealias InboundIn = ByteBuffer
    package typealias InboundOut = ByteBuffer

    /// The user inbound event announcing the connection's source (the header's, or the
    /// socket's for a LOCAL command).
    package struct Parsed: Sendable, Equatable {
        package let source: PeerAddress
    }

    private let settings: ProxyProtocolSettings
    private let refuse: (PeerAddress, String) -> Void
    private var buffered: [UInt8] = []
    private var done = false
    private var timer: Scheduled<Void>?

    /// - Parameter refuse: called once, on the channel's event loop, with the socket's address
    ///   and the reason, when the connection is turned away.
    package init(settings: ProxyProtocolSettings, refuse: @escaping (PeerAddress, String) -> Void) {
        self.settings = settings
        self.refuse = refuse
    }

    package func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { activate(context: context) }
    }

    package func channelActive(context: ChannelHandlerContext) {
        activate(context: context)
        context.fireChannelActive()
    }

    private func activate(context: ChannelHandlerContext) {
        guard timer == nil, !done else { return }
        guard let peer = PeerAddress(context.channel.remoteAddress) else {
            done = true
            context.close(promise: nil)
            return
        }
        guard settings.trusts(peer.ip) else {
            fail(context: context, "\(peer.host) is not a configured PROXY protocol source")
            return
        }
        let seconds = settings.headerTimeout
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(seconds)) {
            self.fail(context: context, "no complete PROXY header within \(seconds)")
        }
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var buffer = unwrapInboundIn(data)
        buffered += buffer.readBytes(length: buffer.readableBytes) ?? []
        switch ProxyHeader.parse(buffered, maxLength: settings.maxHeaderLength) {
        case .needMore:
            return
        case let .invalid(why):
            fail(context: context, why)
        case let .header(header):
            guard let socketPeer = PeerAddress(context.channel.remoteAddress) else {
                fail(context: context, "the connection has no IP address")
                return
            }
            done = true
            timer?.cancel()
            context.fireUserInboundEventTriggered(Parsed(source: header.source ?? socketPeer))
            let rest = buffered[header.length...]
            buffered = []
            if !rest.isEmpty { context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: rest))) }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    package func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        if !done {
            done = true
            if let peer = PeerAddress(context.channel.remoteAddress) {
                refuse(peer, "the connection closed before a complete PROXY header")
            }
        }
        context.fireChannelInactive()
    }

    private func fail(context: ChannelHandlerContext, _ why: String) {
        guard !done else { return }
        done = true
        timer?.cancel()
        buffered = []
        if let peer = PeerAddress(context.channel.remoteAddress) { refuse(peer, why) }
        context.close(promise: nil)
    }
}
