#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking IPv4 TCP client over plain POSIX sockets, so tests can misbehave byte by byte:
/// optionally bound to a chosen loopback source (e.g. 127.0.0.2, so an attacker is a different
/// source from honest patients on 127.0.0.1). Every receive and send gives up after two
/// seconds, so no test can hang on it. The one raw socket of the transport and node tests.
public final class RawSocket {
    /// A system call failed (the text names it and errno).
    public struct Failure: Error, CustomStringConvertible {
        /// What failed.
        public let description: String

        /// A failure described by `description` (tests built on the socket throw it too).
        public init(description: String) {
            self.description = description
        }
    }

    private let fd: Int32
    private var isClosed = false

    /// Connects to 127.0.0.1:`port`, from `source` when given (else the kernel's choice);
    /// `receiveBuffer` (bytes) shrinks the socket's receive buffer before connecting, so a
    /// peer's writes back up quickly when this side does not read. TCP_NODELAY is on.
    public init(port: Int, from source: String? = nil, receiveBuffer: Int32? = nil) throws {
        #if canImport(Glibc)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if let receiveBuffer { setOption(SOL_SOCKET, SO_RCVBUF, receiveBuffer) }
        setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        if let source, Self.call(bind, fd, host: source, port: 0) != 0 {
            close(fd)
            throw Failure(description: "bind(\(source)) failed: errno \(errno)")
        }
        guard Self.call(connect, fd, host: "127.0.0.1", port: port) == 0 else {
            close(fd)
            throw Failure(description: "connect() failed: errno \(errno)")
        }
    }

    /// Calls `bind` or `connect` on `fd` with the IPv4 address `host`:`port`.
    private static func call(
        _ function: (Int32, UnsafePointer<sockaddr>?, socklen_t) -> Int32, _ fd: Int32, host: String, port: Int
    ) -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                function(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    deinit {
        if !isClosed { close(fd) }
    }

    /// Aborts the connection: SO_LINGER 0, then close, so the peer gets a reset (RST), not a FIN.
    public func reset() {
        guard !isClosed else { return }
        isClosed = true
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }

    private func setOption(_ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure(description: "send() failed: errno \(errno)") }
            offset += sent
        }
    }

    /// Writes one byte per system call, pausing a millisecond between them.
    public func writeOneByteAtATime(_ bytes: [UInt8]) throws {
        for byte in bytes {
            try write([byte])
            usleep(1_000)
        }
    }

    /// Reads exactly `count` bytes.
    public func read(count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while out.count < count {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - out.count), 0) }
            guard got > 0 else { throw Failure(description: "recv() ended after \(out.count) of \(count) bytes") }
            out.append(contentsOf: chunk[..<got])
        }
        return out
    }

    /// Reads one frame body (4-byte big-endian length, then the body).
    public func readFrame() throws -> [UInt8] {
        let header = try read(count: 4)
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        return try read(count: length)
    }

    /// Reads until the peer ends the stream (EOF or reset); returns what came before it.
    public func readUntilEndOfStream() throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got == 0 || (got < 0 && errno == ECONNRESET) { return out }
            guard got > 0 else { throw Failure(description: "no end of stream within the timeout (errno \(errno))") }
            out.append(contentsOf: chunk[..<got])
        }
    }

    /// Sends FIN (no more bytes from this side).
    public func shutdownWrite() {
        shutdown(fd, Int32(SHUT_WR))
    }
}
