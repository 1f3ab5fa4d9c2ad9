#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

// MARK: - StateLock

/// `<state-dir>/doctor.lock`: held (flock, exclusive) by every `doctor` command that writes the
/// state directory, for as long as its process lives: `serve` for all of its run, `init`,
/// `enroll`, `revoke` (and `patients` when it imports legacy files) for their few
/// milliseconds. So two doctors cannot serve one state directory, and an offline `enroll` or
/// `revoke` cannot change the registry under a running doctor (which would not see the change
/// until a restart). The kernel releases the lock when the process ends, however it ends (a
/// crash or SIGKILL leaves no stale lock). The holder writes its pid and command into the file
/// so a refusal can name it.
enum StateLock {
    /// Exit status of a command refused because another process holds the lock (EX_TEMPFAIL of
    /// sysexits.h: try again once the other doctor has stopped). Nothing was changed.
    static let lockedExitCode: Int32 = 75

    /// The lock file of a state directory.
    static func path(_ stateDir: String) -> String { (FilePath(stateDir).appending("doctor.lock")).string }

    /// Why the lock could not be taken.
    enum Failure: Error, CustomStringConvertible {
        /// Another process holds it; `holder` is what it wrote ("pid 123: doctor serve").
        case held(stateDir: String, holder: String?)
        /// The state directory or the lock file cannot be created or opened.
        case unusable(path: String, reason: String)

        var description: String {
            switch self {
            case let .held(stateDir, holder):
                return "the state directory \(stateDir) is in use by another doctor process"
                    + (holder.map { " (\($0))" } ?? "")
                    + "; nothing was changed. Stop it first, or, while it serves, use its console"
            case let .unusable(path, reason):
                return "\(path): cannot lock the state directory: \(reason)"
            }
        }
    }

    /// Takes the lock for the life of the process, creating the state directory (mode 0700)
    /// when it is missing and `creating` (a command that only changes an existing state
    /// directory takes no lock on a missing one, and fails on its own files with its own
    /// message). Throws ``Failure/held(stateDir:holder:)`` when another process holds it.
    static func acquire(_ stateDir: String, command: String, creating: Bool = true) throws(Failure) {
        if creating {
            try makeDirectory(FilePath(stateDir))
        } else {
            var info = stat()
            guard stat(stateDir, &info) == 0 else { return }
        }
        let file = path(stateDir)
        let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .unusable(path: file, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = String(cString: strerror(errno))
            close(fd)
            guard busy else { throw .unusable(path: file, reason: reason) }
            throw .held(stateDir: stateDir, holder: holder(file))
        }
        // Who holds it, for the refusal of the next one (best effort: the lock is what counts).
        let note = Array("pid \(getpid()): \(command)\n".utf8)
        if ftruncate(fd, 0) == 0 {
            _ = note.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        // The descriptor stays open (and the lock held) until the process exits.
    }

    /// Takes the lock when no one holds it; false (and nothing taken) when another process does.
    static func acquireIfFree(_ stateDir: String, command: String) throws(Failure) -> Bool {
        do {
            try acquire(stateDir, command: command, creating: false)
            return true
        } catch .held {
            return false
        }
    }

    /// What the holder wrote into the lock file, if readable.
    private static func holder(_ file: String) -> String? {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
            .split(separator: "\n").first.map(String.init) ?? ""
        // Only printable ASCII: the file is ours, but a refusal must not echo control bytes.
        guard !text.isEmpty, text.utf8.allSatisfy({ (0x20...0x7e).contains($0) }) else { return nil }
        return text
    }

    /// `mkdir -p` with mode 0700 for the directories it creates.
    private static func makeDirectory(_ directory: FilePath) throws(Failure) {
        var current = FilePath()
        current.root = directory.root
        for component in directory.components {
            current.append(component)
            var info = stat()
            if stat(current.string, &info) == 0 {
                guard (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFDIR) else {
                    throw .unusable(path: current.string, reason: "exists and is not a directory")
                }
                continue
            }
            guard mkdir(current.string, 0o700) == 0 || errno == EEXIST else {
                throw .unusable(path: current.string, reason: String(cString: strerror(errno)))
            }
        }
    }
}
