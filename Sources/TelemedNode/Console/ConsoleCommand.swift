import TelemedProtocol

// MARK: - ConsoleCommand

/// One command typed at the doctor's console, parsed from the raw bytes of its line.
///
/// ``parse(_:)`` is the only way in: it refuses a line that is too long, not UTF-8, or holds a
/// control character (see ``ConsoleText``) before it looks at the command, so nothing the
/// operator types or pastes reaches a patient's terminal or the audit log altered or raw.
public enum ConsoleCommand: Sendable, Equatable {
    /// `broadcast <text>`: the text, 1 to ``ConsoleText/maximumBroadcastBytes`` bytes.
    case broadcast(String)
    /// `list`
    case list
    /// `patients`
    case patients
    /// `enroll <file> [--replace]`
    case enroll(path: String, replace: Bool)
    /// `revoke <id>`
    case revoke(PeerID)
    /// `kick <id>`
    case kick(PeerID)
    /// `rekey`
    case rekey
    /// `min-version 1|2`: the lowest protocol version the doctor accepts from now on
    case minimumVersion(ProtocolVersion)
    /// `blocks`
    case blocks
    /// `unblock <target>`
    case unblock(UnblockTarget)
    /// `disconnect`
    case disconnect
    /// `quit` or `exit`: stop; patients are told "restarting" (or "shutdown" when the doctor
    /// runs with `--close-for-good`)
    case quit
    /// `close`: stop for good; patients are told "shutdown" and do not reconnect
    case close
    /// `help`
    case help

    /// The command's word (`broadcast`, `unblock`, …), to name it in a message.
    public var name: String {
        switch self {
        case .broadcast: return "broadcast"
        case .list: return "list"
        case .patients: return "patients"
        case .enroll: return "enroll"
        case .revoke: return "revoke"
        case .kick: return "kick"
        case .rekey: return "rekey"
        case .minimumVersion: return "min-version"
        case .blocks: return "blocks"
        case .unblock: return "unblock"
        case .disconnect: return "disconnect"
        case .quit: return "quit"
        case .close: return "close"
        case .help: return "help"
        }
    }

    /// The console's help text (what `help` prints), limits included.
    public static let helpText = """
        broadcast <text>    send <text> to every connected patient (at most 16384 bytes,
                            16 KiB, of UTF-8; no control characters: no tab, escape
                            sequence or bell)
        list                patients, epoch, last receipt
        patients            registry: ids, fingerprints, enrolled/revoked, connected
        enroll <file> [--replace]
                            enroll a patient from its request file; writes doctor-card.json
        revoke <id>         revoke a patient: its session ends, its key is refused
        kick <id>           disconnect one patient
        rekey               new group key for the same patients
        min-version 1|2     lowest protocol version accepted; 2 ends version-1 handshakes
                            and sessions at once
        blocks              active blocks (expiry in UTC)
        unblock <target>    lift a block; <target> is an IP address (192.0.2.7, 2001:db8::7),
                            a prefix (192.0.2.0/24, 2001:db8:1::/48), a device (<id>@<ip>)
                            or a patient id (all its device blocks); `unblock id <id>` for
                            an id made of digits and dots
        disconnect          disconnect every patient (told "restarting": they reconnect)
        quit                disconnect everyone ("restarting") and exit; patients reconnect
                            when the doctor is back (with --close-for-good: as `close`)
        close               disconnect everyone ("shutdown": patients stop) and exit
        help                this list
        A line must be valid UTF-8 without control characters and at most 16640 bytes long;
        anything else is refused whole and nothing is done.
        """

    /// Parses one console line: its bytes without the line feed (a carriage return before it
    /// is part of the line ending and ignored). Nil for a blank line.
    ///
    /// - Throws: ``ConsoleInputError``: the line is longer than ``ConsoleText/maximumLineBytes``,
    ///   not UTF-8, holds a control character, or is not a command with valid arguments.
    ///   A refused line has no effect.
    public static func parse(_ line: some Collection<UInt8>) throws(ConsoleInputError) -> ConsoleCommand? {
        var bytes = Array(line)
        if bytes.last == 0x0D { bytes.removeLast() }
        guard bytes.count <= ConsoleText.maximumLineBytes else {
            throw .lineTooLong(bytes: bytes.count, limit: ConsoleText.maximumLineBytes)
        }
        let text = try decode(bytes)
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { return nil }
        let word = String(trimmed.prefix { $0 != " " })
        let argument = String(trimmed.dropFirst(word.count)).trimmingSpaces
        switch word {
        case "broadcast":
            guard !argument.isEmpty else { throw .usage("broadcast <text>") }
            let size = argument.utf8.count
            guard size <= ConsoleText.maximumBroadcastBytes else { throw .broadcastTooLong(bytes: size) }
            return .broadcast(argument)
        case "enroll":
            var words = argument.split(separator: " ").map(String.init)
            let replace = words.contains("--replace")
            words.removeAll { $0 == "--replace" }
            guard words.count == 1, let path = words.first else { throw .usage("enroll <request file> [--replace]") }
            return .enroll(path: path, replace: replace)
        case "revoke":
            return .revoke(try patient(argument, usage: "revoke <patient id>"))
        case "kick":
            return .kick(try patient(argument, usage: "kick <patient id>"))
        case "min-version":
            guard let number = Int(argument), let version = ProtocolVersion(rawValue: number) else {
                throw .usage("min-version 1|2")
            }
            return .minimumVersion(version)
        case "unblock":
            guard !argument.isEmpty else { throw .usage("unblock <ip | a.b.c.0/24 | id@ip | id>") }
            do throws(UnblockTargetError) {
                return .unblock(try UnblockTarget(parsing: argument))
            } catch {
                throw .invalidUnblockTarget(error)
            }
        case "list", "patients", "rekey", "blocks", "disconnect", "quit", "exit", "close", "help":
            guard argument.isEmpty else { throw .usage("\(word) (no argument)") }
            switch word {
            case "list": return .list
            case "patients": return .patients
            case "rekey": return .rekey
            case "blocks": return .blocks
            case "disconnect": return .disconnect
            case "help": return .help
            case "close": return .close
            default: return .quit
            }
        default:
            throw .unknownCommand(String(word.prefix(40)))
        }
    }

    /// The line as text: refused unless it is UTF-8 without a control character.
    private static func decode(_ bytes: [UInt8]) throws(ConsoleInputError) -> String {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        var scalars = String.UnicodeScalarView()
        while true {
            switch decoder.decode(&iterator) {
            case let .scalarValue(scalar):
                guard !ConsoleText.isControl(scalar) else { throw .controlCharacter(scalar.value, byteOffset: offset) }
                scalars.append(scalar)
                offset += UTF8.width(scalar)
            case .emptyInput:
                return String(scalars)
            case .error:
                throw .notUTF8(byteOffset: offset)
            }
        }
    }

    private static func patient(_ text: String, usage: String) throws(ConsoleInputError) -> PeerID {
        guard !text.isEmpty else { throw .usage(usage) }
        do {
            return try PeerID(text)
        } catch {
            throw .invalidPatientID(String(text.prefix(80)))
        }
    }
}

// MARK: - ConsoleInputError

/// Why a console line was refused. Every message says what was wrong, where, and that
/// nothing was done.
public enum ConsoleInputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The line is longer than the console reads.
    case lineTooLong(bytes: Int, limit: Int)
    /// The broadcast text is longer than ``ConsoleText/maximumBroadcastBytes``.
    case broadcastTooLong(bytes: Int)
    /// The line is not valid UTF-8; the offset of the first byte that is not.
    case notUTF8(byteOffset: Int)
    /// The line holds a control character (its code point) at this byte offset.
    case controlCharacter(UInt32, byteOffset: Int)
    /// No such command.
    case unknownCommand(String)
    /// A command's argument is missing or extra; its usage.
    case usage(String)
    /// Not a patient id.
    case invalidPatientID(String)
    /// `unblock`'s argument names nothing that can be blocked.
    case invalidUnblockTarget(UnblockTargetError)

    public var description: String {
        let limit = "\(ConsoleText.maximumBroadcastBytes) bytes (16 KiB)"
        switch self {
        case let .lineTooLong(bytes, lineLimit):
            return "refused: the line is \(bytes) bytes, over the console's limit of \(lineLimit); a broadcast text "
                + "may hold at most \(limit) of UTF-8; nothing was done"
        case let .broadcastTooLong(bytes):
            return "refused: the broadcast text is \(bytes) bytes; the limit is \(limit) of UTF-8; nothing was sent"
        case let .notUTF8(offset):
            return "refused: the line is not valid UTF-8 (byte \(offset) is not); nothing was done"
        case let .controlCharacter(value, offset):
            let name = Unicode.Scalar(value).map(ConsoleText.name) ?? "U+\(String(value, radix: 16, uppercase: true))"
            return "refused: control character \(name) at byte \(offset); control characters "
                + "(U+0000–U+001F, U+007F, U+0080–U+009F: tabs, escape sequences, bells) are not accepted; "
                + "nothing was done"
        case let .unknownCommand(word):
            return "unknown command \"\(word)\"; type \"help\""
        case let .usage(usage):
            return "usage: \(usage)"
        case let .invalidPatientID(text):
            return "\"\(text)\" is not a patient id (1 to 64 characters of A-Z a-z 0-9 . _ -)"
        case let .invalidUnblockTarget(error):
            return "unblock: \(error)"
        }
    }
}

// MARK: - ConsoleLineReader

/// Splits the console's standard input into lines without ever holding more than one line
/// of at most `limit` bytes: the rest of a longer line is counted and dropped, and the line
/// comes out as ``Line/tooLong(bytes:)``. Bytes are kept as they are (no UTF-8 repair), so
/// ``ConsoleCommand/parse(_:)`` sees exactly what was typed.
public struct ConsoleLineReader: Sendable {
    /// One line of input.
    public enum Line: Sendable, Equatable {
        /// A line's bytes, without its line feed.
        case line([UInt8])
        /// A line of this many bytes (line feed excluded), over the limit and dropped.
        case tooLong(bytes: Int)
    }

    private let limit: Int
    private var pending: [UInt8] = []
    private var overflow = 0

    /// A reader keeping at most `limit` bytes of a line.
    public init(limit: Int = ConsoleText.maximumLineBytes) {
        self.limit = limit
    }

    /// Takes more input; returns the lines it completed.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Line] {
        var lines: [Line] = []
        for byte in bytes {
            if byte == 0x0A {
                lines.append(takeLine())
            } else if overflow > 0 {
                overflow += 1
            } else if pending.count == limit {
                overflow = pending.count + 1
                pending = []
            } else {
                pending.append(byte)
            }
        }
        return lines
    }

    /// The end of input: the last line if it had no line feed.
    public mutating func finish() -> Line? {
        guard overflow > 0 || !pending.isEmpty else { return nil }
        return takeLine()
    }

    private mutating func takeLine() -> Line {
        defer { pending = []; overflow = 0 }
        return overflow > 0 ? .tooLong(bytes: overflow) : .line(pending)
    }
}

extension String {
    /// Without leading and trailing spaces (U+0020).
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
