import TelemedCrypto

// MARK: - RegistryError

/// Why an enrollment or a revocation was refused. Every refusal changes nothing: not the
/// machine's registry, not the security store, not the audit log.
///
/// The machine (``DoctorMachine/enroll(_:publicKey:replace:now:using:)``,
/// ``DoctorMachine/revoke(_:now:using:)``) knows only the patients enrolled now; the cases that
/// need the history of revoked ids and retired keys (``alreadyRevoked(_:)``,
/// ``keyRetired(_:)``) come from the security store, which keeps it. Cases carry ids and public
/// key fingerprints only (neither is secret).
public enum RegistryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The id is enrolled already; enrolling another key for it needs `replace`.
    case alreadyEnrolled(PeerID)
    /// The id is not enrolled (never was, or was revoked).
    case notEnrolled(PeerID)
    /// The id was revoked already.
    case alreadyRevoked(PeerID)
    /// `replace` with the key the id already has.
    case keyUnchanged(PeerID)
    /// The key was revoked or replaced once; a retired key is never enrolled again, under any id.
    case keyRetired(KeyFingerprint)
    /// Another enrolled id has this key.
    case keyInUse(KeyFingerprint, by: PeerID)
    /// The key is in another group than the deployment's (R-GROUP).
    case wrongGroup(expected: String, found: String)

    /// One line an operator can act on.
    public var description: String {
        switch self {
        case let .alreadyEnrolled(id):
            return "\(id) is already enrolled (replace its key explicitly, or revoke it first)"
        case let .notEnrolled(id): return "\(id) is not enrolled"
        case let .alreadyRevoked(id): return "\(id) is revoked already"
        case let .keyUnchanged(id): return "\(id) already has this key; nothing to replace"
        case let .keyRetired(fingerprint):
            return "the key \(fingerprint) was revoked or replaced before and cannot be enrolled again"
        case let .keyInUse(fingerprint, by: id): return "the key \(fingerprint) is enrolled for \(id) already"
        case let .wrongGroup(expected, found):
            return "the key is in group \(found.prefix(64)), but this deployment uses \(expected)"
        }
    }
}
