// Zeroization of secret memory (R-NOLEAK).
//
// Theory of operation: GMP allocates limbs through functions installed once, before the first
// `GMPStorage` exists (`SecureMemory.installWipingAllocator`). They are malloc and free with a
// wipe in between: every block GMP frees is zeroed first (`size` bytes, as GMP reports it), and
// a reallocation copies into a fresh block and wipes the old one instead of letting realloc
// leave a copy behind. The wipes go through `cgmp_secure_zero`, a volatile store loop the
// optimiser may not remove. Swift byte arrays that held secrets are wiped the same way by
// their owners (`SecureMemory.wipe`).

import CGMP
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wiping of secret bytes and GMP's wiping allocator.
package enum SecureMemory {
    /// Installs the wiping allocation functions; runs once (a lazy global).
    package static let installWipingAllocator: Void = cgmp_install_wiping_allocator()

    /// True when GMP's current memory functions are the wiping ones.
    package static var isWipingAllocatorInstalled: Bool {
        _ = installWipingAllocator
        return cgmp_wiping_allocator_installed() != 0
    }

    /// Zeroes every byte of `buffer` in a way the optimiser keeps.
    package static func wipe(_ buffer: inout [UInt8]) {
        buffer.withUnsafeMutableBytes { wipe($0) }
    }

    /// Zeroes every byte of `buffer` in a way the optimiser keeps.
    package static func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        cgmp_secure_zero(base, buffer.count)
    }

    /// Zeroes `count` elements at `pointer` (limb buffers before they are deallocated) in a way
    /// the optimiser keeps.
    package static func wipe<Element>(_ pointer: UnsafeMutablePointer<Element>, count: Int) {
        guard count > 0 else { return }
        cgmp_secure_zero(pointer, count * MemoryLayout<Element>.stride)
    }

    // MARK: - Test hooks: the production wipe paths with an inspecting releaser

    /// Runs the allocator's free path (`cgmp_wipe_and_release`) on a malloc block holding
    /// `contents`, with a releaser that copies the block before freeing it; returns that copy.
    package static func bytesAtRelease(whenFreeing contents: [UInt8]) -> [UInt8] {
        var seen = [UInt8]()
        withUnsafeMutablePointer(to: &seen) { context in
            let block = copyToMalloc(contents)
            cgmp_wipe_and_release(block, contents.count, inspectingRelease, context)
        }
        return seen
    }

    /// Runs the allocator's realloc path (`cgmp_wipe_and_move`) on a malloc block holding
    /// `contents`, moving it to `newSize` bytes; returns the first min(old, new) bytes of the new
    /// block and what the old block held when it was released.
    package static func bytesAfterMoving(_ contents: [UInt8], to newSize: Int) -> (moved: [UInt8], released: [UInt8]) {
        var seen = [UInt8]()
        let moved = withUnsafeMutablePointer(to: &seen) { context -> [UInt8] in
            let block = copyToMalloc(contents)
            guard let fresh = cgmp_wipe_and_move(block, contents.count, newSize, inspectingRelease, context) else { return [] }
            defer { free(fresh) }
            return Array(UnsafeRawBufferPointer(start: fresh, count: min(contents.count, newSize)))
        }
        return (moved, seen)
    }

    private static func copyToMalloc(_ contents: [UInt8]) -> UnsafeMutableRawPointer? {
        let block = malloc(max(contents.count, 1))
        contents.withUnsafeBytes { source in
            if let base = source.baseAddress, let block { block.copyMemory(from: base, byteCount: source.count) }
        }
        return block
    }
}

/// Copies the block into the `[UInt8]` behind `context`, then frees it.
private func inspectingRelease(_ block: UnsafeMutableRawPointer?, _ size: Int, _ context: UnsafeMutableRawPointer?) {
    if let block, let context {
        context.assumingMemoryBound(to: [UInt8].self).pointee = Array(UnsafeRawBufferPointer(start: block, count: size))
    }
    free(block)
}
