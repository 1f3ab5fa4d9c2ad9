import TelemedTestSupport
import XCTest
@testable import TelemedTransport

/// The frame layer: any chunking gives the same frames; bad lengths are refused from the
/// 4 length bytes alone; the partial-frame buffer stays within one frame + 4 bytes.
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

    func testSeededRandomChunkings() throws {
        let stream = self.stream
        for seed in try ReplaySeed.seeds(1...40) {
            var rng = SplitMix64(seed: seed)
            let replay = ReplaySeed.hint(seed, in: self)
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
                XCTAssertLessThanOrEqual(decoder.partialByteCount, Framing.maxBodyLength + 4, replay)
                frames += try drain(&decoder)
            }
            XCTAssertEqual(frames, bodies, replay)
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
        let frame = Framing.frame(Array(#"{"opcode":11,"id_i":"alice","ts":1,"skv":"00"}"#.utf8))
        for cut in 1..<frame.count {
            var decoder = FrameDecoder()
            decoder.append(frame.prefix(cut))
            XCTAssertNil(try decoder.nextFrame(), "cut \(cut)")
            XCTAssertTrue(decoder.hasPartialFrame, "cut \(cut)")
        }
    }

    // MARK: - FrameReader: the reports both transports emit

    /// The reports of one stream read in the given chunk sizes.
    private func reports(_ stream: [UInt8], chunks: [Int]) -> [FrameReader.Report] {
        var reader = FrameReader()
        var out: [FrameReader.Report] = []
        var offset = 0
        for size in chunks where offset < stream.count {
            let end = min(stream.count, offset + size)
            out += reader.receive(Array(stream[offset..<end]))
            offset = end
        }
        return out
    }

    func testReaderReportsAStartOnlyWhenAReadEndsInsideAFrame() {
        let stream = Framing.frame([1, 2, 3]) + Framing.frame([4])
        XCTAssertEqual(reports(stream, chunks: [stream.count]), [.frame([1, 2, 3]), .frame([4])])
        XCTAssertEqual(reports(stream, chunks: [2, 7, 100]),
                       [.frameStarted, .frame([1, 2, 3]), .frameStarted, .frame([4])])
        XCTAssertEqual(reports(stream, chunks: [1, 1, 1, 1, 1, 1, 1, 100]),
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

    /// Random streams (good frames, then maybe a bad prefix or a cut) read in random chunks give
    /// the same frames and refusal as one chunk, and every frame that spans a read is announced
    /// exactly once. A failure prints its `replay: TELEMED_SEED=…` line (`ReplaySeed`).
    func testReaderIsIndependentOfChunking() throws {
        for seed in try ReplaySeed.seeds(1...60) {
            var rng = SplitMix64(seed: seed)
            let replay = ReplaySeed.hint(seed, in: self)
            let bodies = (0..<Int.random(in: 1...6, using: &rng)).map { _ in
                (0..<Int.random(in: 1...2_000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            var stream = bodies.flatMap(Framing.frame)
            switch rng.next() % 3 {
            case 0: stream += [0, 0, 0, 0, 7]
            case 1: stream += [0, 0, 1]
            default: break
            }
            let whole = reports(stream, chunks: [stream.count])
            let chunks = (0..<stream.count).map { _ in Int.random(in: 1...700, using: &rng) }
            let split = reports(stream, chunks: chunks)
            let withoutStarts = split.filter { $0 != .frameStarted }
            XCTAssertEqual(withoutStarts, whole.filter { $0 != .frameStarted }, replay)
            var open = false
            for report in split {
                switch report {
                case .frameStarted:
                    XCTAssertFalse(open, "two starts for one frame; \(replay)")
                    open = true
                case .frame, .refused:
                    open = false
                }
            }
        }
    }
}
