#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix

// MARK: - SocketFailure

/// Why a socket operation failed, in words a person reads: the system's message in lower case
/// and the errno name (`address already in use (EADDRINUSE)`), or what else went wrong (a
/// timeout, a name that does not resolve). Made from SwiftNIO's errors, whose own
/// descriptions name functions and raw numbers.
public struct SocketFailure: Sendable, Equatable, CustomStringConvertible {
    /// The errno value, when the failure was a system call's.
    public let errno: Int32?
    /// The failure in one phrase, without host or port.
    public let description: String

    /// A failure with this errno and the system's message for it.
    public init(errno code: Int32) {
        errno = code
        let message = String(cString: strerror(code))
        let phrase = message.prefix(1).lowercased() + message.dropFirst()
        description = Self.name(of: code).map { "\(phrase) (\($0))" } ?? "\(phrase) (errno \(code))"
    }

    /// A failure that is not a system call's.
    public init(_ phrase: String) {
        errno = nil
        description = phrase
    }

    /// The failure behind one of SwiftNIO's errors (the first system error of a connection
    /// attempt through every resolved address, a timeout, a name that does not resolve).
    public init(_ error: any Error) {
        if let io = error as? IOError {
            self.init(errno: io.errnoCode)
        } else if let connection = error as? NIOConnectionError {
            if let first = connection.connectionErrors.lazy.map({ SocketFailure($0.error) }).first(where: { $0.errno != nil })
                ?? connection.connectionErrors.first.map({ SocketFailure($0.error) }) {
                self = first
            } else if connection.dnsAError != nil || connection.dnsAAAAError != nil {
                self.init("the host name does not resolve")
            } else {
                self.init("no address to connect to")
            }
        } else if let channel = error as? ChannelError, case .connectTimeout = channel {
            self.init("timed out (ETIMEDOUT)")
        } else if error is SocketAddressError || error is SocketAddressError.UnknownHost {
            self.init("not an IP address or a host name that resolves")
        } else {
            self.init("\(error)")
        }
    }

    /// `EADDRINUSE` for the errno values a listen or connect meets; nil for others.
    public static func name(of code: Int32) -> String? {
        let names: [(Int32, String)] = [
            (EADDRINUSE, "EADDRINUSE"), (EADDRNOTAVAIL, "EADDRNOTAVAIL"), (EACCES, "EACCES"), (EPERM, "EPERM"),
            (ECONNREFUSED, "ECONNREFUSED"), (ECONNRESET, "ECONNRESET"), (ECONNABORTED, "ECONNABORTED"),
            (ETIMEDOUT, "ETIMEDOUT"), (EHOSTUNREACH, "EHOSTUNREACH"), (ENETUNREACH, "ENETUNREACH"),
            (ENETDOWN, "ENETDOWN"), (EAFNOSUPPORT, "EAFNOSUPPORT"), (EINVAL, "EINVAL"), (EMFILE, "EMFILE"),
            (ENFILE, "ENFILE"), (ENOBUFS, "ENOBUFS"), (EPIPE, "EPIPE"), (EINTR, "EINTR"), (ENOMEM, "ENOMEM"),
        ]
        return names.first { $0.0 == code }?.1
    }
}
