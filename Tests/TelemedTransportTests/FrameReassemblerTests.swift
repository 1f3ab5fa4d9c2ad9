#if canImport(Glibc)
import Glibc
#endif
import TelemedTransport
import XCTest

final class FrameReassemblerTests: XCTestCase {
    func testFramesSurviveAnySplit() {
        let bodies: [[UInt8]] = [[1], [2, 3], Array(repeating: 7, count: 300)]
        let stream = bodies.flatMap(FrameFormat.encode)
        for cut in 1..<stream.count {
            var reassembler = FrameReassembler()
            let first = reassembler.consume(Array(stream[..<cut]))
            let second = reassembler.consume(Array(stream[cut...]))
            XCTAssertEqual(first.frames + second.frames, bodies, "cut at \(cut)")
            XCTAssertFalse(reassembler.isInsideFrame)
        }
    }

    func testOversizeLengthIsRefusedBeforeAnyBody() {
        var reassembler = FrameReassembler()
        let output = reassembler.consume([0x80, 0, 0, 0])
        XCTAssertEqual(output.violation, .oversizeFrame(0x8000_0000))
        XCTAssertEqual(reassembler.consume([1, 2, 3]), FrameReassembler.Output(), "nothing after a violation")
        var atLimit = FrameReassembler()
        XCTAssertNil(atLimit.consume([0, 1, 0, 0]).violation, "65536 is allowed")
        var overLimit = FrameReassembler()
        XCTAssertEqual(overLimit.consume([0, 1, 0, 1]).violation, .oversizeFrame(65_537))
    }

    func testEmptyLengthIsRefused() {
        var reassembler = FrameReassembler()
        XCTAssertEqual(reassembler.consume(FrameFormat.encode([9]) + [0, 0, 0, 0]),
                       FrameReassembler.Output(frames: [[9]], violation: .emptyFrame))
    }

    func testPartialFrameIsReported() {
        var reassembler = FrameReassembler()
        _ = reassembler.consume([0, 0])
        XCTAssertTrue(reassembler.isInsideFrame)
    }

    /// Random frames cut at random places come out whole and in order. Replay one seed with
    /// `TRANSPORT_SEED=<n> swift test --filter FrameReassemblerTests`.
    func testSeededRandomSplits() {
        let seeds: [UInt64] = Self.replaySeed.map { [$0] } ?? Array(1...60)
        for seed in seeds {
            var rng = SplitMix64(seed: seed)
            let bodies = (0..<Int.random(in: 1...8, using: &rng)).map { _ in
                (0..<Int.random(in: 1...2_000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            let stream = bodies.flatMap(FrameFormat.encode)
            var reassembler = FrameReassembler()
            var received: [[UInt8]] = []
            var offset = 0
            while offset < stream.count {
                let take = min(Int.random(in: 1...700, using: &rng), stream.count - offset)
                received += reassembler.consume(Array(stream[offset..<offset + take])).frames
                offset += take
            }
            XCTAssertEqual(received, bodies, "seed \(seed) (replay with TRANSPORT_SEED=\(seed))")
        }
    }

    private static var replaySeed: UInt64? {
        getenv("TRANSPORT_SEED").flatMap { UInt64(String(cString: $0)) }
    }
}
