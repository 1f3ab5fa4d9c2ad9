@_spi(Testing) import TelemedCrypto

// MARK: - Recorded randomness (the harness's insider route to a and b)
//
// Version 2's ephemerals a and b (PROTOCOL.md §8.4) never leave the machines: no frame, trace
// or store holds them, and no set of long-term keys gives them back (that is the point of
// R-FS). The harness still needs them, to prove that none of them, nor Z or the v2 SK, ever
// reaches a trace, log or store. It can get them because it supplies the machines' randomness:
// each generator it hands out is wrapped in a `RecordingRandom`, which passes every 64-bit word
// through unchanged (so runs and traces are byte for byte what they were) and keeps a copy.
// When a v2 frame is noticed, the harness rebuilds the sender's ephemeral from its long-term
// key, the context digest (h_a or h_b) and each recorded 32-byte draw in turn, and keeps the
// one whose g^a equals the frame's share; the order the machine drew in does not matter. What
// it learns this way is labelled insider knowledge in the SecretBook; a thief who later steals
// both long-term keys has none of it (see Simulation+KeyTheft.swift).

/// The words a generator handed out, in order. Bounded: past `capacity` words it stops
/// recording (the search then simply finds nothing), so a long session cannot grow it.
final class DrawLog {
    static let defaultCapacity = 4_096
    private(set) var words: [UInt64] = []
    let capacity: Int
    /// False once the harness took what it needed (it records nothing more).
    var recording = true

    init(capacity: Int = DrawLog.defaultCapacity) { self.capacity = capacity }

    func append(_ word: UInt64) {
        guard recording, words.count < capacity else { return }
        words.append(word)
    }

    /// Stops recording and forgets what was recorded.
    func close() {
        recording = false
        words = []
    }
}

/// A generator that hands out exactly its base's words and copies each into a `DrawLog`.
struct RecordingRandom: CryptographicRandomNumberGenerator {
    var base: SeededRandom
    let log: DrawLog

    mutating func next() -> UInt64 {
        let word = base.next()
        log.append(word)
        return word
    }
}

/// What the harness looks for in a recorded stream: the k' of one ephemeral.
struct EphemeralSearch: Sendable {
    /// The drawer's long-term key (x_i for a, x_GWN for b).
    let key: PrivateKey
    /// h_a or h_b.
    let context: Bytes32
    /// The recorded words, and the 32 bytes the machine drew just before k' (rn_i or rn_gwn),
    /// tried first: §8.4's draw order puts k' right after them. Every other window follows.
    let words: [UInt64]
    let precededBy: [UInt8]
    /// The share on the wire (dh_i or dh_gwn).
    let share: [UInt8]
    /// The other side's share, when Z is wanted from this ephemeral.
    let peerShare: [UInt8]?

    /// The 32 bytes `bytes(32)` returns when the generator's next words are `words[start...]`.
    static func draw(_ words: [UInt64], at start: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for word in words[start..<(start + 4)] {
            var value = word
            for _ in 0..<8 {
                out.append(UInt8(truncatingIfNeeded: value))
                value >>= 8
            }
        }
        return out
    }

    /// The window positions to try, the likeliest first.
    var order: [Int] {
        guard words.count >= 4 else { return [] }
        let all = Array(0...(words.count - 4))
        guard let after = all.first(where: { EphemeralSearch.draw(words, at: $0) == precededBy }).map({ $0 + 4 }),
              after + 4 <= words.count else { return all }
        return [after] + all.filter { $0 != after }
    }

    /// The scalar and (with a peer share that passes R-ELEM) Z, or nil when no recorded draw
    /// rebuilds the share.
    func run() -> FoundEphemeral? {
        for start in order {
            let ephemeral = key.hedgedEphemeral(context: context, extraEntropy: EphemeralSearch.draw(words, at: start))
            guard ephemeral.shareBytes == share else { continue }
            var shared: [UInt8]?
            if let peerShare, let peer = try? DiffieHellmanShare(group: key.group, bytes: peerShare) {
                shared = ephemeral.sharedSecret(with: peer).withUnsafeBytes { Array($0) }
            }
            return FoundEphemeral(scalar: ephemeral.scalarBytes, shared: shared)
        }
        return nil
    }
}

/// An ephemeral the harness rebuilt: its scalar (32 bytes) and Z when a peer share was given.
struct FoundEphemeral: Sendable {
    let scalar: [UInt8]
    let shared: [UInt8]?
}
