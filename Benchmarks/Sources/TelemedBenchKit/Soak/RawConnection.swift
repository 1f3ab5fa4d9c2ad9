// A blocking TCP connection bound to a chosen loopback source address, for the soak's
// attackers (the transports of the package cannot pick their source address, and attackers
// must never share 127.0.0.1 with the honest patients).

#if canImport(Glibc)
import Glibc
#endif

/// One blocking TCP connection from a chosen local IPv4 address.
final class RawConnection {
    enum Read: Equatable {
        case frame([UInt8])
        case closed
        case timedOut
    }

    private var fd: Int32

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit { close() }

    /// Connects from `source` (an IPv4 text) to 127.0.0.1:`port`; nil when it cannot.
    static func open(from source: String, port: Int, readTimeoutSeconds: Int) -> RawConnection? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        let connection = RawConnection(fd: fd)
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        guard inet_pton(AF_INET, source, &local.sin_addr) == 1 else { return nil }
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr) == 1 else { return nil }
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { return nil }
        var timeout = timeval(tv_sec: readTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        return connection
    }

    /// Writes all of `bytes`; false when the connection is gone.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }

    /// Writes one frame (4-byte big-endian length, then the body).
    @discardableResult
    func writeFrame(_ body: [UInt8]) -> Bool {
        let length = UInt32(body.count)
        return write([UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + body)
    }

    /// Reads one frame, or reports the end of the stream or the read timeout.
    func readFrame() -> Read {
        guard let prefix = read(exactly: 4) else { return lastReadTimedOut ? .timedOut : .closed }
        let length = Int(prefix[0]) << 24 | Int(prefix[1]) << 16 | Int(prefix[2]) << 8 | Int(prefix[3])
        guard length > 0, length <= 65_536 else { return .closed }
        guard let body = read(exactly: length) else { return lastReadTimedOut ? .timedOut : .closed }
        return .frame(body)
    }

    /// True when the peer has closed (a non-blocking peek sees end of stream or an error).
    var peerClosed: Bool {
        var byte: UInt8 = 0
        let got = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if got == 0 { return true }
        if got < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
        return false
    }

    private var lastReadTimedOut = false

    private func read(exactly count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var offset = 0
        lastReadTimedOut = false
        while offset < count {
            let got = buffer[offset...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got == 0 { return nil }
            if got < 0 {
                if errno == EINTR { continue }
                lastReadTimedOut = errno == EAGAIN || errno == EWOULDBLOCK
                return nil
            }
            offset += got
        }
        return buffer
    }

    /// Closes the socket (idempotent).
    func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }
}
