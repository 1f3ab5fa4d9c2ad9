// What the load process (honest patients and attackers) hands back to the doctor process at
// the end of a soak run, as JSON in a file.

import Foundation

/// One honest session, as the patient saw it.
public struct SoakSession: Sendable, Codable {
    /// The patient index (id "p<index>").
    public var patient: Int
    /// The epoch of its first GROUP_KEY (nil: never authenticated).
    public var authEpoch: UInt64?
    /// The largest epoch whose GROUP_KEY it opened.
    public var maxEpoch: UInt64
    /// Broadcasts decrypted, as [epoch, seq] pairs.
    public var received: [[UInt64]]
    /// Connect → first GROUP_KEY, in ms.
    public var handshakeMillis: Double?
    /// How it ended: "left", "dropped" (our abrupt close), "shutdown" (the doctor's DISCONNECT at
    /// the end of the run) or an error text.
    public var end: String
    /// True when the session ended by the patient's own choice (left or dropped).
    public var byChoice: Bool
    /// Errors seen in this session (rejections, decrypt failures, timeouts, unexpected ends).
    public var errors: [String]
}

/// Everything the load process reports.
public struct SoakLoadReport: Sendable, Codable {
    /// Honest sessions, in the order they ended.
    public var sessions: [SoakSession]
    /// Attack attempts made, per kind.
    public var attempts: [String: Int]
    /// What attackers observed, per "kind: outcome".
    public var outcomes: [String: Int]
    /// Things an attacker must never see (an answer other than REJECTED to a forged request).
    public var anomalies: [String]
    /// Every source address an attacker used.
    public var attackerAddresses: [String]
    /// Attacker-owned devices that completed a valid KEY_VERIFICATION (then sent a wrong SKV).
    public var wrongSKVAttempts: Int
    /// Honest KEY_VERIFICATIONs captured and replayed.
    public var replays: Int
}
