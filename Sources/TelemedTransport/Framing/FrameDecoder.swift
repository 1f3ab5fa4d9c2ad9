// MARK: - FrameDecoder
//
// Theory of operation
//
// The decoder cuts a byte stream into frame bodies (PROTOCOL.md §4 "Framing"). It is eager:
// `append` walks the new bytes at once, so a bad length prefix is judged the moment its
// fourth byte arrives, before a single body byte is kept (R-FRAME: "refused before the body
// is read"). It has three parts of state:
//
//   * the partial frame: 0–4 header bytes, then the body being assembled. It never holds more
//     than `maxBodyLength + 4` bytes, whatever the peer declares or sends;
//   * completed bodies not yet taken by `nextFrame`, in stream order. They hold only bytes the
//     caller already passed in, so the caller bounds them by calling `nextFrame()` until it
//     returns nil after every `append` (what a transport does);
//   * the failure, once there is one. A failed decoder keeps no partial bytes, ignores
//     everything appended later, hands out the bodies completed before the bad prefix, and
//     then throws the same error on every call.
//
// Chunking does not matter: one byte at a time and one large chunk give the same frames.
// This is the only length-prefix decoder of the package: `FrameReader` wraps it for both
// transports (the TCP handler and the in-memory network), and the `frame` fuzz target and the
// transport tests drive it.

/// Incremental frame decoder: accepts bytes in any chunking and yields complete bodies.
public struct FrameDecoder: Sendable {
    /// The largest body accepted; a larger length prefix is `FrameError.oversize`.
    public let maxBodyLength: Int

    private var headerValue: UInt32 = 0
    private var headerCount = 0
    /// The declared body length once the header is complete and accepted.
    private var declaredLength: Int?
    private var body: [UInt8] = []
    private var completed: [[UInt8]] = []
    private var completedHead = 0
    private var failure: FrameError?

    /// A decoder refusing bodies longer than `maxBodyLength` (1…2^32−1; default 65536).
    public init(maxBodyLength: Int = Framing.maxBodyLength) {
        precondition(
            maxBodyLength >= 1 && UInt64(maxBodyLength) <= UInt64(UInt32.max),
            "maxBodyLength must be in 1...2^32-1"
        )
        self.maxBodyLength = maxBodyLength
    }

    // MARK: - Input

    /// Consumes `bytes`. Complete bodies become available through `nextFrame()`; a bad length
    /// prefix fails the decoder at once and the rest of the input is dropped unread.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        bytes.withMemoryRebound(to: UInt8.self) { consume($0) }
    }

    /// Consumes `bytes`, as the raw-buffer overload does.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        let consumedContiguously: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            consume(buffer)
        }
        if consumedContiguously == nil {
            let copy = Array(bytes)
            copy.withUnsafeBufferPointer { consume($0) }
        }
    }

    private mutating func consume(_ input: UnsafeBufferPointer<UInt8>) {
        var index = 0
        while index < input.count, failure == nil {
            if let declared = declaredLength {
                let take = min(declared - body.count, input.count - index)
                body.append(contentsOf: input[index..<(index + take)])
                index += take
                if body.count == declared { finishBody() }
            } else {
                headerValue = headerValue << 8 | UInt32(input[index])
                headerCount += 1
                index += 1
                if headerCount == Framing.headerLength { finishHeader() }
            }
        }
    }

    private mutating func finishHeader() {
        let declared = headerValue
        headerValue = 0
        headerCount = 0
        if declared == 0 {
            fail(.emptyFrame)
        } else if UInt64(declared) > UInt64(maxBodyLength) {
            fail(.oversize(declared: declared))
        } else {
            // No reservation for the declared length: the peer chose it, so memory grows only
            // with the body bytes that actually arrive.
            declaredLength = Int(declared)
        }
    }

    private mutating func finishBody() {
        completed.append(body)
        body = []
        declaredLength = nil
    }

    private mutating func fail(_ error: FrameError) {
        failure = error
        body = []
        declaredLength = nil
    }

    // MARK: - Output

    /// The next complete body, or nil if none is complete yet.
    ///
    /// - Throws: the decoder's `FrameError` once every body completed before the bad length
    ///   prefix has been returned; from then on every call throws the same error.
    public mutating func nextFrame() throws(FrameError) -> [UInt8]? {
        if completedHead < completed.count {
            let frame = completed[completedHead]
            completedHead += 1
            if completedHead == completed.count {
                completed.removeAll(keepingCapacity: true)
                completedHead = 0
            }
            return frame
        }
        if let failure { throw failure }
        return nil
    }

    /// True while any byte of an incomplete frame (header or body) is buffered; a connection
    /// closing in this state ended with a cut frame. False after a failure (nothing is kept).
    public var hasPartialFrame: Bool {
        failure == nil && (headerCount > 0 || declaredLength != nil)
    }

    /// Bytes held for the incomplete frame: the length bytes read so far, or, once the length
    /// is accepted (its 4 bytes are then no longer held), the body bytes; never more than
    /// `maxBodyLength`.
    public var partialByteCount: Int {
        headerCount + body.count
    }

    /// Capacity allocated for the incomplete body (for tests and the fuzzer: it follows the
    /// bytes received, never the length the peer declared).
    public var partialBodyCapacity: Int {
        body.capacity
    }
}
