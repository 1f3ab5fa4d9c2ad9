// MARK: - KeyStoreError

/// Why a key file or the state directory could not be used. Every case names the file; none
/// carries key material.
public enum KeyStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not exist (with a hint of what creates it).
    case missing(path: String, hint: String)
    /// The file exists but could not be read.
    case unreadable(path: String, reason: String)
    /// The file is not a valid key file of its kind (bad JSON, wrong format tag, bad hex,
    /// a value that is not a key of its group, a public key that does not match).
    case malformed(path: String, reason: String)
    /// One field of the file has a bad value (an id that is not an id, a public key that is not
    /// an element of the group's order-q subgroup, a fingerprint that is not its key's, ...).
    /// The reason never repeats a secret.
    case invalidField(path: String, field: String, reason: String)
    /// The file holds a key of another group than the deployment's (its field `group`).
    case wrongGroup(path: String, expected: String, found: String)
    /// The file or directory could not be written.
    case writeFailed(path: String, reason: String)
    /// Refused to overwrite an existing file.
    case alreadyExists(path: String)
    /// The text is not a valid patient or doctor id (1–64 of `A-Z a-z 0-9 . _ -`).
    case invalidID(String)
    /// The doctor's key file is missing but the state directory holds a doctor's state (the
    /// paths in `found`): the key was lost, and a new one would break every patient's pinned
    /// card. Nothing is created.
    case lostDoctorKey(path: String, found: [String])

    /// One line naming the file and the problem.
    public var description: String {
        switch self {
        case let .missing(path, hint): return "\(path): no such file (\(hint))"
        case let .unreadable(path, reason): return "\(path): cannot be read: \(reason)"
        case let .malformed(path, reason): return "\(path): malformed: \(reason)"
        case let .invalidField(path, field, reason): return "\(path): field \"\(field)\" \(reason)"
        case let .wrongGroup(path, expected, found):
            return "\(path): field \"group\" is \(found), but this deployment uses \(expected)"
        case let .writeFailed(path, reason): return "\(path): cannot be written: \(reason)"
        case let .alreadyExists(path): return "\(path): already exists (refusing to overwrite it)"
        case let .lostDoctorKey(path, found):
            return """
                \(path): no such file, but this state directory holds a doctor's state \
                (\(found.joined(separator: ", "))): the doctor key was lost, and a new key would break the \
                key every patient pinned. Nothing was created. Restore doctor.json from a backup; if it is \
                lost for good, move the state directory aside, `doctor init` a new one, enroll each patient \
                again from its request file (`doctor enroll --request`; devices keep their keys) and have \
                each device pin the new card (`patient pin --replace`)
                """
        case let .invalidID(text):
            return "\"\(text.prefix(80))\" is not a valid id (1 to 64 characters of A-Z a-z 0-9 . _ -)"
        }
    }
}
