// MARK: - TelemedRelease

/// The release of this package: what `doctor --version`, `patient --version` and
/// `simulate --version` print (one constant for the three).
public enum TelemedRelease {
    /// The version, `major.minor.patch`.
    public static let version = "0.1.0"
}
