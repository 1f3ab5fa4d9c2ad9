// `sin_addr` and `sin6_addr` are members of the C socket structs; on Linux the Clang importer
// attributes those headers to swift-nio's CNIOLinux module, on Darwin to Darwin.
#if canImport(CNIOLinux)
import CNIOLinux
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import TelemedTransport

// MARK: - PeerAddress from a socket address

extension PeerAddress {
    /// The normalised address of an IPv4 or IPv6 socket address; nil for anything else.
    init?(_ address: SocketAddress?) {
        guard let address, let port = address.port else { return nil }
        let bytes: [UInt8]
        switch address {
        case .v4(let v4):
            bytes = withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6):
            bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        case .unixDomainSocket:
            return nil
        }
        guard let ip = IPAddress(bytes: bytes) else { return nil }
        self.init(ip: ip, port: port)
    }
}
