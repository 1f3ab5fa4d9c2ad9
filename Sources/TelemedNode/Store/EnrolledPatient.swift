import TelemedCrypto
import TelemedProtocol

// MARK: - EnrolledPatient

/// One row of the patient registry: an id, the public key it was enrolled with, when, and
/// whether (and when) it was revoked. Nothing here is secret.
public struct EnrolledPatient: Sendable, Equatable, CustomStringConvertible {
    /// Whether the id is enrolled now.
    public enum Status: String, Sendable, Equatable {
        /// Enrolled: its key may log in.
        case enrolled
        /// Revoked: refused like an unknown id until enrolled again with a new key.
        case revoked
    }

    /// The patient id.
    public let id: PeerID
    /// The public key of its latest enrollment (retired if revoked).
    public let publicKey: PublicKey
    /// When it was (last) enrolled or its key replaced (doctor wall clock, UTC ms).
    public let enrolledAt: UInt64
    /// When it was revoked, if it is revoked now.
    public let revokedAt: UInt64?

    /// A registry row.
    public init(id: PeerID, publicKey: PublicKey, enrolledAt: UInt64, revokedAt: UInt64?) {
        self.id = id
        self.publicKey = publicKey
        self.enrolledAt = enrolledAt
        self.revokedAt = revokedAt
    }

    /// SHA-256 of the public key (`KeyFingerprint`).
    public var fingerprint: KeyFingerprint { publicKey.fingerprint }

    /// ``Status/enrolled`` or ``Status/revoked``.
    public var status: Status { revokedAt == nil ? .enrolled : .revoked }

    /// `alice enrolled 1764000000000 3f2a 9c01 …` (the fingerprint in its spoken form).
    public var description: String {
        let when = revokedAt.map { "revoked \($0)" } ?? "enrolled \(enrolledAt)"
        return "\(id) \(when) \(fingerprint)"
    }
}

// MARK: - RetiredKey

/// A key that was revoked or replaced: it is never enrolled again, under any id.
public struct RetiredKey: Sendable, Equatable {
    /// Why the key was retired.
    public enum Reason: String, Sendable, Equatable {
        /// Its id was revoked.
        case revoked
        /// Another key replaced it.
        case replaced
    }

    /// The key's fingerprint.
    public let fingerprint: KeyFingerprint
    /// The id it belonged to.
    public let patient: PeerID
    /// When it was retired (doctor wall clock, UTC ms).
    public let retiredAt: UInt64
    /// Revoked or replaced.
    public let reason: Reason

    /// A retired-key row.
    public init(fingerprint: KeyFingerprint, patient: PeerID, retiredAt: UInt64, reason: Reason) {
        self.fingerprint = fingerprint
        self.patient = patient
        self.retiredAt = retiredAt
        self.reason = reason
    }
}

// MARK: - EnrollmentKind

/// What ``SecurityStore/enroll(_:publicKey:group:replace:at:)`` did.
public enum EnrollmentKind: String, Sendable, Equatable {
    /// A new id.
    case enrolled
    /// A revoked id enrolled again with a new key.
    case reenrolled
    /// An enrolled id's key replaced (the old one is retired).
    case replaced
}

// MARK: - LegacyImport

/// The outcome of the one-time import of the legacy `registry/<id>.json` files
/// (``SecurityStore/importLegacyRegistry(_:group:at:)``).
public struct LegacyImport: Sendable, Equatable {
    /// Ids enrolled from the files, ascending.
    public let imported: [PeerID]
    /// Entries left out, ascending by id, with the reason (the store already knew the id, the
    /// key is retired or enrolled under another id, or it is in another group).
    public let skipped: [(id: PeerID, reason: RegistryError)]

    /// An import outcome.
    public init(imported: [PeerID], skipped: [(id: PeerID, reason: RegistryError)]) {
        self.imported = imported
        self.skipped = skipped
    }

    /// Equal when both lists are.
    public static func == (lhs: LegacyImport, rhs: LegacyImport) -> Bool {
        lhs.imported == rhs.imported
            && lhs.skipped.map(\.id) == rhs.skipped.map(\.id) && lhs.skipped.map(\.reason) == rhs.skipped.map(\.reason)
    }
}

// MARK: - PatientListing

/// One line of the doctor's `patients` listing: the registry row and whether the id holds a
/// session now.
public struct PatientListing: Sendable, Equatable {
    /// The registry row (id, key, fingerprint, enrolled/revoked).
    public let patient: EnrolledPatient
    /// True while the id is an active member.
    public let connected: Bool

    /// A listing line.
    public init(patient: EnrolledPatient, connected: Bool) {
        self.patient = patient
        self.connected = connected
    }
}
