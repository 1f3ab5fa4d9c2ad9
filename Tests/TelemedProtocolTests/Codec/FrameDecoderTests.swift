import TelemedCrypto
import XCTest
@testable import TelemedProtocol

/// The frame layer: any chunking gives the same frames; bad lengths are refused from the
/// 4 length bytes alone; the partial-frame buffer stays within one frame + 4 bytes.
final class FrameDecoderTests: XCTestCase {
    private let bodies: [[UInt8]] = [[0x7b], Array(repeating: 0x41, count: 300), CodecFixtures.codec.encode(.rejected),
                                     CodecFixtures.codec.encode(.keyVerification(CodecFixtures.keyVerification)),
                                     Array(repeating: 0x5a, count: Framing.maxBodyLength)]

    private var stream: [UInt8] { bodies.flatMap { Framing.frame($0) } }

    private func drain(_ decoder: inout FrameDecoder) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let frame = try decoder.nextFrame() { out.append(frame) }
        return out
    }

    func testFrameLayout() {
        XCTAssertEqual(Framing.frame([0xaa]), [0, 0, 0, 1, 0xaa])
        let big = Framing.frame(Array(repeating: 0, count: 65_536))
        XCTAssertEqual(Array(big.prefix(4)), [0, 1, 0, 0])
        XCTAssertEqual(big.count, 65_540)
    }

    func testWholeStreamAtOnce() throws {
        var decoder = FrameDecoder()
        decoder.append(stream)
        XCTAssertEqual(try drain(&decoder), bodies)
        XCTAssertFalse(decoder.hasPartialFrame)
    }

    func testOneByteAtATime() throws {
        var decoder = FrameDecoder()
        var frames: [[UInt8]] = []
        for byte in stream {
            decoder.append(CollectionOfOne(byte))
            XCTAssertLessThanOrEqual(decoder.partialByteCount, Framing.maxBodyLength + 4)
            frames += try drain(&decoder)
        }
        XCTAssertEqual(frames, bodies)
        XCTAssertFalse(decoder.hasPartialFrame)
    }

    func testSeededRandomChunkings() throws {
        let stream = self.stream
        for seed: UInt64 in 1...40 {
            var rng = SplitMix64(seed: seed)
            var decoder = FrameDecoder()
            var frames: [[UInt8]] = []
            var index = 0
            while index < stream.count {
                let size = Int(rng.next() % 9000) + 1
                let end = min(stream.count, index + size)
                // Alternate between arrays and a non-contiguous sequence.
                if rng.next() % 2 == 0 {
                    decoder.append(stream[index..<end])
                } else {
                    decoder.append(stream[index..<end].lazy.map { $0 })
                }
                index = end
                XCTAssertLessThanOrEqual(decoder.partialByteCount, Framing.maxBodyLength + 4, "seed \(seed)")
                frames += try drain(&decoder)
            }
            XCTAssertEqual(frames, bodies, "seed \(seed)")
        }
    }

    func testHasPartialFrameTracksIncompleteFrames() throws {
        var decoder = FrameDecoder()
        XCTAssertFalse(decoder.hasPartialFrame)
        decoder.append([0])
        XCTAssertTrue(decoder.hasPartialFrame)
        decoder.append([0, 0, 2])
        XCTAssertTrue(decoder.hasPartialFrame)
        XCTAssertNil(try decoder.nextFrame())
        decoder.append([7])
        XCTAssertTrue(decoder.hasPartialFrame)
        decoder.append([8])
        XCTAssertFalse(decoder.hasPartialFrame)
        XCTAssertEqual(try decoder.nextFrame(), [7, 8])
        XCTAssertNil(try decoder.nextFrame())
    }

    func testTwoToTheThirtyOneIsRefusedAfterExactlyFourBytes() {
        var decoder = FrameDecoder()
        let header: [UInt8] = [0x80, 0, 0, 0]
        for byte in header.dropLast() {
            decoder.append([byte])
            XCTAssertEqual(try decoder.nextFrame(), nil)
        }
        decoder.append([header[3]])
        XCTAssertThrowsError(try decoder.nextFrame()) { error in
            XCTAssertEqual(error as? FrameError, .oversize(declared: 0x8000_0000))
        }
        XCTAssertEqual(decoder.partialByteCount, 0)
        XCTAssertFalse(decoder.hasPartialFrame)
        // The body that follows is never buffered, and the decoder stays failed.
        decoder.append(Array(repeating: 0x41, count: 100_000))
        XCTAssertEqual(decoder.partialByteCount, 0)
        for _ in 0..<3 {
            XCTAssertThrowsError(try decoder.nextFrame()) { error in
                XCTAssertEqual(error as? FrameError, .oversize(declared: 0x8000_0000))
            }
        }
    }

    func testOversizeInOneChunkBuffersNoBodyByte() {
        var decoder = FrameDecoder()
        decoder.append([0, 1, 0, 1] + Array(repeating: 0x41, count: 65_537))
        XCTAssertEqual(decoder.partialByteCount, 0)
        XCTAssertThrowsError(try decoder.nextFrame()) { error in
            XCTAssertEqual(error as? FrameError, .oversize(declared: 65_537))
        }
    }

    func testZeroLengthIsRefused() {
        var decoder = FrameDecoder()
        decoder.append([0, 0, 0, 0, 0, 0, 0, 1, 0x41])
        XCTAssertThrowsError(try decoder.nextFrame()) { error in
            XCTAssertEqual(error as? FrameError, .emptyFrame)
        }
        XCTAssertThrowsError(try decoder.nextFrame()) { error in
            XCTAssertEqual(error as? FrameError, .emptyFrame)
        }
    }

    func testFramesBeforeABadHeaderAreDeliveredFirst() throws {
        var decoder = FrameDecoder()
        decoder.append(Framing.frame([1]) + Framing.frame([2, 3]) + [0, 0, 0, 0] + Framing.frame([4]))
        XCTAssertEqual(try decoder.nextFrame(), [1])
        XCTAssertEqual(try decoder.nextFrame(), [2, 3])
        XCTAssertThrowsError(try decoder.nextFrame())
        XCTAssertThrowsError(try decoder.nextFrame())
    }

    func testCustomLimit() throws {
        var decoder = FrameDecoder(maxBodyLength: 3)
        decoder.append(Framing.frame([1, 2, 3]))
        XCTAssertEqual(try decoder.nextFrame(), [1, 2, 3])
        decoder.append([0, 0, 0, 4])
        XCTAssertThrowsError(try decoder.nextFrame()) { error in
            XCTAssertEqual(error as? FrameError, .oversize(declared: 4))
        }
    }

    func testLargestFrameIsAccepted() throws {
        var decoder = FrameDecoder()
        let body = Array(repeating: UInt8(7), count: Framing.maxBodyLength)
        decoder.append(Framing.frame(body))
        XCTAssertEqual(try decoder.nextFrame(), body)
    }

    func testCutAtEveryOffsetLeavesAPartialFrame() throws {
        let frame = CodecFixtures.codec.encodeFrame(.keyConfirmation(CodecFixtures.keyConfirmation))
        for cut in 1..<frame.count {
            var decoder = FrameDecoder()
            decoder.append(frame.prefix(cut))
            XCTAssertNil(try decoder.nextFrame(), "cut \(cut)")
            XCTAssertTrue(decoder.hasPartialFrame, "cut \(cut)")
        }
    }
}
