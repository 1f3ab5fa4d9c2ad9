// A machine mutant is one deliberately broken rule of the doctor, switched on by a test to
// prove that the model comparison (Tests/TelemedProtocolTests/Model) notices it. The switch
// is `package`: no embedding program can reach it, it is `nil` unless a test sets it, and
// while it is `nil` every check reads exactly as if the switch did not exist.

extension DoctorMachine {
    /// One rule of PROTOCOL.md the machine breaks on purpose (tests only).
    package enum Fault: String, Sendable, CaseIterable {
        /// A verified request is not put into the replay cache (§7.7, §7.3): its replay is
        /// answered again and the per-id quota never fills.
        case skipReplayInsert
        /// A request refused because its device is blocked counts against its source (§7.2
        /// lists the refusals that do not count; a device block is one of them).
        case countDeviceBlockedRequest
        /// KEY_CONFIRMATION skips the re-check of blocks set while the handshake was
        /// pending (§7.4).
        case skipBlockRecheckAtConfirmation
        /// An R-TIME refusal of a first frame counts against its source (§7.2).
        case countTimeRefusal
        /// An R-VERSION refusal (a request below the minimum version) counts against its
        /// source (§8.5 and §8.6.3 say it does not).
        case countVersionRefusal
        /// A version-1 request is answered even while the minimum version is 2 (§8.6.3).
        case acceptVersion1BelowMinimum
    }
}
