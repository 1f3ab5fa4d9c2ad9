#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import SystemPackage

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif

// MARK: - PrivateFiles

/// Owner-only file and directory I/O for the state directory: directories are created with
/// mode 0700, files with mode 0600, written to a temporary name, flushed and renamed into place
/// so a reader never sees half a file.
enum PrivateFiles {
    /// The file `name` (one path component) inside `directory`: `s` and `s/` both give
    /// `s/name`, an empty directory gives `name` (swift-system's `FilePath`, no string joins).
    static func path(_ name: String, in directory: String) -> String {
        FilePath(directory).appending(name).string
    }

    /// Creates `path` and its missing parents with mode 0700 (an existing directory is left as
    /// it is). The parents are the prefixes of the path's components (swift-system's
    /// `FilePath`), so `s`, `./s`, `s/`, `/tmp/x/s` and `a//b` all work; no string arithmetic.
    static func makeDirectory(_ path: String) throws(KeyStoreError) {
        let target = FilePath(path)
        guard !target.isEmpty else { throw .writeFailed(path: path, reason: "the path is empty") }
        var prefix = FilePath(root: target.root)
        for component in target.components {
            prefix.append(component)
            try makeOneDirectory(prefix.string, of: path)
        }
        if target.components.isEmpty { try makeOneDirectory(target.string, of: path) }  // "/" itself
    }

    /// Creates one directory (mode 0700) unless a directory is already there.
    private static func makeOneDirectory(_ directory: String, of path: String) throws(KeyStoreError) {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw .writeFailed(path: path, reason: "\(directory) exists and is not a directory")
            }
            return
        }
        guard mkdir(directory, 0o700) == 0 else {
            let failure = errno
            if failure == EEXIST { return }  // made by someone else meanwhile
            throw .writeFailed(path: path, reason: String(cString: strerror(failure)))
        }
        chmod(directory, 0o700)
    }

    /// Writes `bytes` to `path` with mode 0600 (atomically); refuses to replace an existing
    /// file unless `overwrite`.
    static func write(_ bytes: [UInt8], to path: String, overwrite: Bool = false) throws(KeyStoreError) {
        if !overwrite, FileManager.default.fileExists(atPath: path) { throw .alreadyExists(path: path) }
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
        fchmod(fd, 0o600)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { systemWrite(fd, $0.baseAddress, $0.count) }
            guard written > 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw .writeFailed(path: path, reason: reason)
            }
            offset += written
        }
        fsync(fd)
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .writeFailed(path: path, reason: reason)
        }
    }

    /// Creates `path` empty with mode 0600 if it does not exist, and makes it 0600 either way.
    /// Returns the failure's description, or nil.
    static func createOwnerOnly(_ path: String) -> String? {
        let fd = open(path, O_RDWR | O_CREAT, 0o600)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        fchmod(fd, 0o600)
        close(fd)
        return nil
    }

    /// Reads a whole file.
    static func read(_ path: String, hint: String) throws(KeyStoreError) -> Data {
        guard FileManager.default.fileExists(atPath: path) else { throw .missing(path: path, hint: hint) }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
    }

    /// The permission bits of a file (tests and diagnostics).
    static func mode(of path: String) -> UInt16? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return UInt16(info.st_mode & 0o7777)
    }
}
