// The soak run's settings and its key material. Both processes of a soak (the doctor and the
// load generator) derive the same keys from the seed, so nothing secret crosses between them.

import Foundation
@_spi(Testing) import TelemedCrypto
import TelemedProtocol

/// Everything that shapes one soak run (see `Benchmarks/soak.sh --help`).
public struct SoakOptions: Sendable, Codable {
    /// How long the churn and the attacks run, in minutes.
    public var minutes: Double = 5
    /// Honest patients (ids p0…p(N−1), all from 127.0.0.1).
    public var patients: Int = 200
    /// Attacker threads (each on its own loopback source addresses, never 127.0.0.1).
    public var attackers: Int = 4
    /// The seed of every schedule (joins, stays, leaves, drops, attacks) and of the keys.
    public var seed: UInt64 = 1
    /// A one-minute run with shorter stays.
    public var quick = false
    /// Seconds between memory and counter samples.
    public var sampleSeconds: Double = 5
    /// Seconds between the doctor's broadcasts.
    public var broadcastSeconds: Double = 3
    /// How long an honest patient stays connected once authenticated (ms, uniform).
    public var stayMillis: ClosedRange<Int> = 20_000...90_000
    /// How long it stays away between sessions (ms, uniform).
    public var offlineMillis: ClosedRange<Int> = 5_000...30_000
    /// First joins are spread uniformly over this many ms.
    public var rampMillis: Int = 20_000
    /// The share of sessions that end by dropping the connection instead of DISCONNECT (%).
    public var dropPercent: Int = 20
    /// Pause between two attempts of one attacker (ms, uniform).
    public var attackPauseMillis: ClosedRange<Int> = 500...1_500
    /// Attempts an attacker makes from one source address before it moves to a fresh one.
    public var attemptsPerAddress: Int = 8
    /// The handshake timeout of the doctor and of the honest patients (ms).
    public var handshakeTimeoutMillis: UInt64 = 30_000
    /// Allowed steady-state RSS growth: the run fails only when the last quarter's mean RSS
    /// exceeds the second quarter's by more than this many MiB AND by more than `growthPercent`.
    public var growthMiB: Double = 4
    /// See `growthMiB`.
    public var growthPercent: Double = 10

    /// The defaults.
    public init() {}

    /// Shortens the schedule for `--quick` (one minute; shorter stays so there is churn).
    public mutating func applyQuick() {
        quick = true
        minutes = 1
        sampleSeconds = 2
        broadcastSeconds = 2
        stayMillis = 5_000...20_000
        offlineMillis = 2_000...8_000
        rampMillis = 8_000
    }

    /// The ids attackers hold the enrolled keys of (their own devices: the only ids a device
    /// block may ever name).
    public static let attackerOwnedIDs = ["m0", "m1", "m2", "m3"]
    /// The one source every honest patient connects from.
    public static let honestSource = "127.0.0.1"

    /// The n-th attacker source address: 127.0.X.Y with Y in 2…251, never 127.0.0.1.
    public static func attackerAddress(_ n: Int) -> String {
        "127.0.\(n / 250 % 256).\(n % 250 + 2)"
    }
}

/// The keys of a soak run, derived from the seed (identical in both processes).
public struct SoakKeys: Sendable {
    /// The group.
    public let group: TelemedGroup
    /// The doctor's id.
    public let doctorID: PeerID
    /// The doctor's key.
    public let doctorKey: PrivateKey
    /// Honest patients' keys, index i is id "p<i>".
    public let honest: [PrivateKey]
    /// Keys of the attacker-owned enrolled ids (``SoakOptions/attackerOwnedIDs``).
    public let attackerOwned: [PrivateKey]

    /// Derives every key from `seed`.
    public init(seed: UInt64, patients: Int) throws {
        let group = TelemedGroup.telemed2048
        self.group = group
        var rng = SeededRandom(seed: Array("telemed-soak keys \(seed)".utf8))
        doctorID = try PeerID("doctor")
        doctorKey = PrivateKey(generatingIn: group, using: &rng)
        honest = (0..<patients).map { _ in PrivateKey(generatingIn: group, using: &rng) }
        attackerOwned = SoakOptions.attackerOwnedIDs.map { _ in PrivateKey(generatingIn: group, using: &rng) }
    }

    /// The doctor's registry: every honest id and every attacker-owned id.
    public func registry() throws -> [PeerID: PublicKey] {
        var registry: [PeerID: PublicKey] = [:]
        for (index, key) in honest.enumerated() { registry[try PeerID("p\(index)")] = key.publicKey }
        for (name, key) in zip(SoakOptions.attackerOwnedIDs, attackerOwned) { registry[try PeerID(name)] = key.publicKey }
        return registry
    }
}

/// A small seeded generator for schedules (SplitMix64): reproducible, not cryptographic.
public struct ScheduleRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator for one stream of the run (`stream` separates patients and attackers).
    public init(seed: UInt64, stream: UInt64) {
        state = seed &* 0x9E37_79B9_7F4A_7C15 &+ stream &* 0xD1B5_4A32_D192_ED03 &+ 0x632B_E59B_D9B4_E019
    }

    /// The next 64 bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
