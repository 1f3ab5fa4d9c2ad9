/// The stable ids of the security rules (SECURITY-RULES.md). Every rejection, drop and block
/// names exactly one of them, in events, the audit log and the simulator trace.
public enum RuleID: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case time = "R-TIME"
    case start = "R-START"
    case replay = "R-REPLAY"
    case echo = "R-ECHO"
    case signature = "R-SIG"
    case identity = "R-ID"
    case group = "R-GROUP"
    case element = "R-ELEM"
    case oracle = "R-ORACLE"
    case skv = "R-SKV"
    case source = "R-SRC"
    case block = "R-BLOCK"
    case state = "R-STATE"
    case frame = "R-FRAME"
    case aead = "R-AEAD"
    case epoch = "R-EPOCH"
    case broadcast = "R-BCAST"
    case limit = "R-LIMIT"
    case noLeak = "R-NOLEAK"
    case version = "R-VERSION"
    case forwardSecrecy = "R-FS"
    case transcript = "R-TRANSCRIPT"

    public var description: String { rawValue }
}
