import TelemedProtocol

// MARK: - StoreError

/// Why the doctor's database could not be used, or refused a registry change. Messages name the file or the operation and
/// never carry key material (the database holds none).
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The database could not be opened or migrated.
    case openFailed(path: String, reason: String)
    /// Reading the saved state failed.
    case readFailed(String)
    /// A write (a security change or an audit row) failed: the change is not durable.
    case writeFailed(String)
    /// A stored row could not be turned back into a value.
    case corruptRow(table: String, reason: String)
    /// An enrollment or revocation was refused (nothing was written).
    case registry(RegistryError)

    /// One line describing the problem.
    public var description: String {
        switch self {
        case let .openFailed(path, reason): return "\(path): cannot open the database: \(reason)"
        case let .readFailed(reason): return "cannot read the security store: \(reason)"
        case let .writeFailed(reason): return "cannot write the security store: \(reason)"
        case let .corruptRow(table, reason): return "corrupt row in \(table): \(reason)"
        case let .registry(error): return "\(error)"
        }
    }
}
