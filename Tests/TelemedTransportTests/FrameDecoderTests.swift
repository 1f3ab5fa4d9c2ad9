import XCTest
@testable import TelemedTransport

/// The frame layer: any chunking gives the same frames; bad lengths are refused from the
/// 4 length bytes alone; the partial-frame buffer stays within one frame + 4 bytes. Generated
/// chunkings are in `FrameChunkingPropertyTests`.
final class FrameDecoderTests: XCTestCase {
    private let bodies: [[UInt8]] = [[0x7b], Array(repeating: 0x41, count: 300), Array(#"{"opcode":70}"#.utf8),
                                     Array(repeating: 0x33, count: 1_500),
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
        let frame = Framing.frame(Array(#"{"opcode":11,"id_i":"alice","ts":1,"skv":"00"}"#.utf8))
        for cut in 1..<frame.count {
            var decoder = FrameDecoder()
            decoder.append(frame.prefix(cut))
            XCTAssertNil(try decoder.nextFrame(), "cut \(cut)")
            XCTAssertTrue(decoder.hasPartialFrame, "cut \(cut)")
        }
    }

    // MARK: - FrameReader: the reports both transports emit

    func testReaderReportsAStartOnlyWhenAReadEndsInsideAFrame() {
        let stream = Framing.frame([1, 2, 3]) + Framing.frame([4])
        XCTAssertEqual(FrameReader.reports(stream, chunks: [stream.count]), [.frame([1, 2, 3]), .frame([4])])
        XCTAssertEqual(FrameReader.reports(stream, chunks: [2, 7, 100]),
                       [.frameStarted, .frame([1, 2, 3]), .frameStarted, .frame([4])])
        XCTAssertEqual(FrameReader.reports(stream, chunks: [1, 1, 1, 1, 1, 1, 1, 100]),
                       [.frameStarted, .frame([1, 2, 3]), .frame([4])], "one start per frame")
    }

    func testReaderRefusesBadPrefixesAndIgnoresTheRest() {
        for (prefix, declared): ([UInt8], UInt32) in [([0, 0, 0, 0], 0), ([0, 1, 0, 1], 65_537),
                                                      ([0x80, 0, 0, 0], 1 << 31)] {
            var reader = FrameReader()
            let first = reader.receive(Framing.frame([9]) + prefix + [1, 2, 3])
            XCTAssertEqual(first.count, 2)
            XCTAssertEqual(first.first, .frame([9]))
            guard case let .refused(error)? = first.last else { return XCTFail("no refusal for \(prefix)") }
            XCTAssertEqual(error.declaredLength, declared)
            XCTAssertEqual(error.description, "frame length \(declared) outside 1...65536")
            XCTAssertEqual(reader.receive(Framing.frame([5])), [], "nothing is read after a refusal")
            XCTAssertFalse(reader.isInsideFrame, "a refused stream holds no partial frame")
        }
    }
}
