#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

// MARK: - StateLock

/// `<state-dir>/doctor.lock`: held (flock, exclusive) by a serving doctor for as long as its
/// process lives, so that offline `enroll` and `revoke` cannot change the registry under a
/// running doctor (which would not see the change until a restart) and two doctors cannot
/// serve one state directory. The kernel releases it when the process ends, however it ends.
enum StateLock {
    /// The lock file of a state directory.
    static func path(_ stateDir: String) -> String { FilePath(stateDir).appending("doctor.lock").string }

    /// Takes the lock for the life of the process; false when another process holds it.
    static func acquire(_ stateDir: String) -> Bool {
        let fd = open(path(stateDir), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return true }  // an unwritable directory fails later with a clear error
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return false
        }
        return true  // the descriptor stays open until the process exits
    }

    /// True when a serving doctor holds the lock now.
    static func isHeld(_ stateDir: String) -> Bool {
        let fd = open(path(stateDir), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard flock(fd, LOCK_SH | LOCK_NB) == 0 else { return true }
        flock(fd, LOCK_UN)
        return false
    }
}
