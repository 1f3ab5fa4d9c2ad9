import enum TelemedTransport.FrameError
import struct TelemedTransport.FrameReader

// MARK: - FrameStreamModel
//
// The reference the frame drivers compare against, computed from the stream bytes alone
// (PROTOCOL.md §4 "Framing": `u32be(n) ‖ body`, 1 ≤ n ≤ limit), without the decoder. The
// stream is cut into units, each starting at a length prefix:
//
//   frame       a complete header and body: bytes [start, start + 4 + n)
//   refused     a prefix of 0 or over the limit: bytes [start, start + 4); nothing after it
//               is a unit (the reader never reads on)
//   incomplete  the stream ends inside the header or the body: [start, end of stream) is
//               all there is, and the unit never ends
//
// A unit "is open" at a chunk boundary b when start < b < end: bytes of it were received and
// it is not finished. That is exactly when the decoder holds a partial frame, and a
// `FrameReader` reports `.frameStarted` once, at the end of the first chunk after which the
// unit is open.

/// The stream cut into frame units, for the frame drivers' expectations.
struct FrameStreamModel {
    /// How a unit ends.
    enum Kind: Equatable {
        case frame([UInt8])
        case refused(FrameError)
        case incomplete
    }

    /// One length prefix and what follows it.
    struct Unit {
        var start: Int
        /// Exclusive; `Int.max` for an incomplete unit (it never ends).
        var end: Int
        var kind: Kind
    }

    let units: [Unit]

    init(_ stream: [UInt8], limit: Int) {
        var units: [Unit] = []
        var offset = 0
        while offset < stream.count {
            guard offset + 4 <= stream.count else {
                units.append(Unit(start: offset, end: .max, kind: .incomplete))
                break
            }
            let declared = stream[offset..<(offset + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            if declared == 0 {
                units.append(Unit(start: offset, end: offset + 4, kind: .refused(.emptyFrame)))
                break
            }
            if UInt64(declared) > UInt64(limit) {
                units.append(Unit(start: offset, end: offset + 4, kind: .refused(.oversize(declared: declared))))
                break
            }
            let end = offset + 4 + Int(declared)
            guard end <= stream.count else {
                units.append(Unit(start: offset, end: .max, kind: .incomplete))
                break
            }
            units.append(Unit(start: offset, end: end, kind: .frame(Array(stream[(offset + 4)..<end]))))
            offset = end
        }
        self.units = units
    }

    /// The complete bodies, in stream order.
    var frames: [[UInt8]] {
        units.compactMap { if case let .frame(body) = $0.kind { body } else { nil } }
    }

    /// The refused prefix's error, if the stream has one.
    var refusal: FrameError? {
        for unit in units { if case let .refused(error) = unit.kind { return error } }
        return nil
    }

    /// The unit open at boundary `b` (bytes of it received, not finished), if any. Units are
    /// disjoint and sorted, so only the last one starting before `b` can be open.
    func openUnit(at boundary: Int) -> Unit? {
        guard let index = lastUnit(startingBefore: boundary) else { return nil }
        return boundary < units[index].end ? units[index] : nil
    }

    /// The index of the last unit whose start is below `boundary` (binary search).
    func lastUnit(startingBefore boundary: Int) -> Int? {
        var low = 0
        var high = units.count
        while low < high {
            let middle = (low + high) / 2
            if units[middle].start < boundary { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? nil : low - 1
    }

    /// The bytes the decoder must hold at boundary `b` (`partialByteCount`): the open unit's
    /// header bytes while its header is incomplete, then its body bytes (a complete header is
    /// kept as the declared length, not as bytes).
    func partialBytes(at boundary: Int) -> Int {
        guard let open = openUnit(at: boundary) else { return 0 }
        let received = boundary - open.start
        return received < 4 ? received : received - 4
    }

    /// What `FrameReader.receive` must report for the chunk of stream bytes [from, to): the
    /// units finishing in it in order, then `.frameStarted` if a unit is open at its end that
    /// was not open at its start.
    func expectedReports(from start: Int, to end: Int) -> [FrameReader.Report] {
        var reports: [FrameReader.Report] = []
        // Units finishing in (start, end] began before `end`.
        let last = lastUnit(startingBefore: end) ?? -1
        var index = last
        while index >= 0, units[index].end > start { index -= 1 }
        for unit in units[(index + 1)..<(last + 1)] where unit.end <= end {
            switch unit.kind {
            case let .frame(body): reports.append(.frame(body))
            case let .refused(error): reports.append(.refused(error))
            case .incomplete: break
            }
        }
        if let open = openUnit(at: end), open.start >= start {
            reports.append(.frameStarted)
        }
        return reports
    }

    /// How many units are open at one boundary or more of `boundaries`: the number of
    /// `.frameStarted` reports a reader fed chunks ending there must make.
    /// `boundaries` must be in ascending order (chunk ends are).
    func unitsSpanningABoundary(_ boundaries: [Int]) -> Int {
        var spanning = Set<Int>()
        for boundary in boundaries {
            if let index = lastUnit(startingBefore: boundary), boundary < units[index].end { spanning.insert(index) }
        }
        return spanning.count
    }
}
