import TelemedProtocol

// MARK: - UnblockTarget

/// What the operator's `unblock` lifts, read from its argument with one rule per kind, so the
/// console can say which kind it took and a mistyped address is an error rather than an id:
///
/// | argument | kind |
/// |---|---|
/// | `192.0.2.7`, `2001:db8::7` | ``source(_:)``: an IP address (IPv6: its /64) |
/// | `192.0.2.0/24`, `2001:db8:1::/48` | ``prefix(_:)`` |
/// | `alice@192.0.2.7` | ``device(_:)``: one patient id from one address |
/// | `alice` | ``devices(of:)``: every device block of that id |
/// | `id 1.2.3` | ``devices(of:)`` for an id made of digits and dots |
///
/// Text of digits and dots only, or with a colon, is an IP address or an error (`999.1.1.1`
/// is an invalid IPv4 address, never a patient id); text with `/` is a prefix or an error.
public enum UnblockTarget: Sendable, Equatable, CustomStringConvertible {
    /// One source address.
    case source(SourceAddress)
    /// An IPv4 /24 or IPv6 /48 prefix.
    case prefix(SourcePrefix)
    /// One (patient id, source) pair.
    case device(DeviceKey)
    /// Every device block of one patient id.
    case devices(of: PeerID)

    /// Reads an `unblock` argument (see the type's table).
    ///
    /// - Throws: ``UnblockTargetError`` naming the kind the text looked like and why it is not one.
    public init(parsing argument: String) throws(UnblockTargetError) {
        let text = argument.trimmingWhitespace
        let shown = String(text.prefix(80))
        if text.hasPrefix("id ") {
            let id = String(text.dropFirst(3).drop { $0 == " " })
            guard let patient = try? PeerID(id) else { throw .invalidPatientID(String(id.prefix(80))) }
            self = .devices(of: patient)
            return
        }
        if text.contains("/") {
            guard let prefix = SourcePrefix(operatorText: text) else { throw .invalidPrefix(shown) }
            self = .prefix(prefix)
            return
        }
        if let at = text.lastIndex(of: "@") {
            let idText = String(text[..<at]), ipText = String(text[text.index(after: at)...])
            guard let patient = try? PeerID(idText) else { throw .invalidPatientID(String(idText.prefix(80))) }
            guard let source = SourceAddress(ipText: ipText) else { throw .invalidAddress(String(ipText.prefix(80))) }
            self = .device(DeviceKey(patient: patient, source: source))
            return
        }
        if let source = SourceAddress(ipText: text) {
            self = .source(source)
            return
        }
        if text.contains(":") || (text.contains(".") && text.allSatisfy { $0 == "." || ("0"..."9").contains($0) }) {
            throw .invalidAddress(shown)
        }
        guard let patient = try? PeerID(text) else { throw .invalidPatientID(shown) }
        self = .devices(of: patient)
    }

    /// The kind taken, for the console: `IP address`, `prefix`, `device`, `patient id`.
    public var kind: String {
        switch self {
        case .source: return "IP address"
        case .prefix: return "prefix"
        case .device: return "device (id@ip)"
        case .devices: return "patient id"
        }
    }

    public var description: String {
        switch self {
        case let .source(source): return "IP address \(source)"
        case let .prefix(prefix): return "prefix \(prefix)"
        case let .device(device): return "device \(device)"
        case let .devices(patient): return "patient id \(patient) (its device blocks)"
        }
    }
}

/// Why an `unblock` argument names nothing.
public enum UnblockTargetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Looked like an IP address (digits and dots, or a colon) but is not one.
    case invalidAddress(String)
    /// Had a `/` but is not an IPv4 /24 or IPv6 /48 prefix.
    case invalidPrefix(String)
    /// Not a patient id (before `@`, after `id `, or on its own).
    case invalidPatientID(String)

    public var description: String {
        switch self {
        case let .invalidAddress(text):
            return "\"\(text)\" is not a valid IP address (IPv4: four numbers 0–255 such as 192.0.2.7; "
                + "IPv6 such as 2001:db8::7); for a patient id made of digits and dots write `unblock id <id>`"
        case let .invalidPrefix(text):
            return "\"\(text)\" is not a prefix (an IPv4 /24 such as 192.0.2.0/24 or an IPv6 /48 such as 2001:db8:1::/48)"
        case let .invalidPatientID(text):
            return "\"\(text)\" is not a patient id (1 to 64 characters of A-Z a-z 0-9 . _ -), IP address, "
                + "prefix or <id>@<ip>"
        }
    }
}
