import XCTest
@testable import TelemedBigInt

/// GMP's wiping allocator and the optimiser-proof wipe (R-NOLEAK).
final class SecureMemoryTests: XCTestCase {
    func testGMPUsesTheWipingAllocatorOnceABigIntExists() {
        let value = BigInt(7).powMod(BigInt(1_000_003), BigInt(1_000_000_007))
        XCTAssertFalse(value.isZero)
        XCTAssertTrue(SecureMemory.isWipingAllocatorInstalled)
    }

    /// The production free path (`cgmp_wipe_and_release`, which `cgmp_wiping_free` calls with
    /// `free`) zeroes every byte before the block is released.
    func testFreedBlocksAreZeroedBeforeRelease() {
        for size in [1, 8, 64, 1_000] {
            let sentinel = [UInt8](repeating: 0xA5, count: size)
            let seen = SecureMemory.bytesAtRelease(whenFreeing: sentinel)
            XCTAssertEqual(seen.count, size)
            XCTAssertEqual(seen, [UInt8](repeating: 0, count: size), "size \(size)")
        }
    }

    /// The production realloc path copies the contents and zeroes the old block.
    func testMovedBlocksKeepTheirContentsAndTheOldBlockIsZeroed() {
        let contents = (0..<100).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }
        let grown = SecureMemory.bytesAfterMoving(contents, to: 256)
        XCTAssertEqual(grown.moved, contents)
        XCTAssertEqual(grown.released, [UInt8](repeating: 0, count: 100))
        let shrunk = SecureMemory.bytesAfterMoving(contents, to: 40)
        XCTAssertEqual(shrunk.moved, Array(contents.prefix(40)))
        XCTAssertEqual(shrunk.released, [UInt8](repeating: 0, count: 100))
    }

    func testWipeZeroesArraysAndBigIntWipeUsesIt() {
        var buffer = [UInt8](repeating: 0xFF, count: 33)
        SecureMemory.wipe(&buffer)
        XCTAssertEqual(buffer, [UInt8](repeating: 0, count: 33))
        var other = [UInt8](repeating: 0x5A, count: 5)
        BigInt.wipe(&other)
        XCTAssertEqual(other, [0, 0, 0, 0, 0])
        let limbs = UnsafeMutablePointer<UInt64>.allocate(capacity: 4)
        defer { limbs.deallocate() }
        limbs.initialize(repeating: .max, count: 4)
        SecureMemory.wipe(limbs, count: 4)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: limbs, count: 4)), [0, 0, 0, 0])
    }
}
