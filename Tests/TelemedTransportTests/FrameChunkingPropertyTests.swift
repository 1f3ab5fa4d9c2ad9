import PropertyBased
import TelemedTestSupport
import Testing
@testable import TelemedTransport

/// The frame layer under generated chunkings (swift-property-based through `forAll`, chunk sizes
/// and bodies shrunk on failure): `FrameDecoder.append`/`nextFrame` and `FrameReader.receive`
/// give the same frames whatever the chunking. A failure prints its replay line
/// (`replay: TELEMED_SEED=<seed> swift test --filter FrameChunkingPropertyTests/<test>`).
@Suite struct FrameChunkingPropertyTests {
    /// `FrameDecoder`: a fixed stream (bodies of 1, 13, 300, 1 500 and the largest allowed
    /// length) appended in generated chunk sizes, as arrays or as a non-contiguous sequence,
    /// yields its bodies, and the partial-frame buffer never exceeds one frame + 4 bytes.
    @Test func testSeededRandomChunkings() async {
        let bodies: [[UInt8]] = [[0x7b], Array(repeating: 0x41, count: 300), Array(#"{"opcode":70}"#.utf8),
                                 Array(repeating: 0x33, count: 1_500),
                                 Array(repeating: 0x5a, count: Framing.maxBodyLength)]
        let stream = bodies.flatMap { Framing.frame($0) }
        let chunks = zip(Gen.int(in: 1...9_000), Gen.bool()).array(of: 1...40)
        await forAll(count: 40, chunks) { chunks in
            var decoder = FrameDecoder()
            var frames: [[UInt8]] = []
            var index = 0
            for (size, contiguous) in Self.cycled(chunks, covering: stream.count) {
                let end = min(stream.count, index + size)
                // Alternate between arrays and a non-contiguous sequence.
                if contiguous {
                    decoder.append(stream[index..<end])
                } else {
                    decoder.append(stream[index..<end].lazy.map { $0 })
                }
                index = end
                #expect(decoder.partialByteCount <= Framing.maxBodyLength + 4)
                while let frame = try decoder.nextFrame() { frames.append(frame) }
            }
            #expect(frames == bodies)
        }
    }

    /// `FrameReader.receive`: generated streams (good frames, then maybe a zero-length prefix
    /// or a cut) read in generated chunks give the same frames and refusal as one chunk, and
    /// every frame that spans a read is announced (`frameStarted`) exactly once.
    @Test func testReaderIsIndependentOfChunking() async {
        let input = zip(Gen.uint8().array(of: 1...2_000).array(of: 1...6), Gen.int(in: 0...2),
                        Gen.int(in: 1...700).array(of: 1...50))
        await forAll(count: 60, input) { bodies, ending, sizes in
            var stream = bodies.flatMap(Framing.frame)
            switch ending {
            case 0: stream += [0, 0, 0, 0, 7]
            case 1: stream += [0, 0, 1]
            default: break
            }
            let whole = FrameReader.reports(stream, chunks: [stream.count])
            let split = FrameReader.reports(stream, chunks: Self.cycled(sizes, covering: stream.count))
            #expect(split.filter { $0 != .frameStarted } == whole.filter { $0 != .frameStarted })
            var open = false
            for report in split {
                switch report {
                case .frameStarted:
                    #expect(!open, "two starts for one frame")
                    open = true
                case .frame, .refused:
                    open = false
                }
            }
        }
    }

    /// `chunks` repeated until their sizes (the first element of a pair, or the value) add up
    /// to at least `count`.
    static func cycled<Chunk>(_ chunks: [Chunk], covering count: Int, size: (Chunk) -> Int) -> [Chunk] {
        var out: [Chunk] = [], total = 0
        while total < count, !chunks.isEmpty {
            for chunk in chunks where total < count {
                out.append(chunk)
                total += size(chunk)
            }
        }
        return out
    }

    static func cycled(_ sizes: [Int], covering count: Int) -> [Int] { cycled(sizes, covering: count) { $0 } }

    static func cycled(_ chunks: [(Int, Bool)], covering count: Int) -> [(Int, Bool)] {
        cycled(chunks, covering: count) { $0.0 }
    }
}

extension FrameReader {
    /// The reports of one stream read in the given chunk sizes.
    static func reports(_ stream: [UInt8], chunks: [Int]) -> [FrameReader.Report] {
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
}
