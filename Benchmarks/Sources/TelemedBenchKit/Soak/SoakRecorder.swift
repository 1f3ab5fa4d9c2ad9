// The doctor side's record of a soak run, fed by the doctor service's observer (any thread).
// It keeps counts and the few lists the verdict needs; the per-broadcast member lists go to a
// file as they happen so that the harness itself does not grow the process it measures.

import Foundation
import TelemedNode
import TelemedProtocol

/// Counts and checks the doctor's events.
final class SoakRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private let broadcastLog: FileHandle?
    private var currentEpoch: UInt64 = 0
    private var currentMembers: [UInt16] = []

    private(set) var joins = 0
    private(set) var leaves: [String: Int] = [:]
    private(set) var epochs = 0
    private(set) var broadcasts = 0
    private(set) var attackerRefusals: [String: Int] = [:]
    private(set) var honestRejections: [String] = []
    private(set) var honestRejectionCount = 0
    private(set) var blocks: [String: Int] = [:]
    private(set) var blockViolations: [String] = []
    private(set) var blockedTargets: [BlockTarget] = []
    private(set) var alerts: [String: Int] = [:]
    private(set) var anomalies: [String] = []
    /// Monotonic ms of every request that passed its signature check and was answered (a
    /// replay-cache insert): joins and wrong-SKV refusals.
    private var verifiedTimes: [UInt64] = []

    init(broadcastLogPath: String) {
        _ = FileManager.default.createFile(atPath: broadcastLogPath, contents: Data())
        broadcastLog = FileHandle(forWritingAtPath: broadcastLogPath)
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    func observe(_ event: DoctorEvent) {
        let now = monotonicNanoseconds() / 1_000_000
        locked {
            switch event {
            case let .patientAuthenticated(patient, _, source, _):
                joins += 1
                verifiedTimes.append(now)
                if honestIndex(patient) == nil || source.description != SoakOptions.honestSource {
                    note("\(patient) from \(source) became a member (only honest ids from 127.0.0.1 may)")
                }
            case let .patientLeft(_, _, reason):
                leaves[reason.rawValue, default: 0] += 1
            case let .epochStarted(epoch, members):
                epochs += 1
                currentEpoch = epoch
                currentMembers = members.compactMap { honestIndex($0).map(UInt16.init) }
            case let .rejected(_, source, rule, reason, patient):
                if source.description == SoakOptions.honestSource {
                    honestRejectionCount += 1
                    if honestRejections.count < 50 {
                        honestRejections.append("\(patient?.value ?? "-") from \(source): \(rule) \(reason)")
                    }
                } else {
                    attackerRefusals[rule.rawValue, default: 0] += 1
                    if rule == .skv { verifiedTimes.append(now) }
                }
            case let .blocked(target, _, rule):
                blocks["\(kind(of: target)) (\(rule))", default: 0] += 1
                blockedTargets.append(target)
            case .unblocked:
                break
            case let .broadcastSent(epoch, seq, recipients):
                broadcasts += 1
                if epoch != currentEpoch || recipients != currentMembers.count {
                    note("broadcast (\(epoch), \(seq)) went to \(recipients) members, epoch \(currentEpoch) has \(currentMembers.count)")
                }
                let line = "\(epoch) \(seq) " + currentMembers.map(String.init).joined(separator: ",") + "\n"
                broadcastLog?.write(Data(line.utf8))
            case .receipt, .minimumVersionChanged:
                break
            case let .alert(alert):
                alerts[alertKind(alert), default: 0] += 1
            }
        }
    }

    private func alertKind(_ alert: SecurityAlert) -> String {
        switch alert {
        case .failureTableFull: return "failure-counter table full"
        case .sourceBlockTableSaturated: return "source-block table saturated"
        case let .repeatedDeviceBlocks(id, _): return "\(id) device-blocked from several sources"
        case .clockBehindStart: return "clock behind the start time"
        }
    }

    private func note(_ text: String) {
        if anomalies.count < 50 { anomalies.append(text) }
    }

    private func kind(of target: BlockTarget) -> String {
        switch target {
        case .source: return "source"
        case .prefix: return "prefix"
        case .device: return "device"
        }
    }

    /// Requests verified within the last `millis` (an upper bound for live replay-cache entries).
    func verified(within millis: UInt64) -> Int {
        let now = monotonicNanoseconds() / 1_000_000
        return locked {
            // Times are in order; drop the ones no window will need again.
            let horizon = now > 4 * millis ? now - 4 * millis : 0
            if let firstLive = verifiedTimes.firstIndex(where: { $0 >= horizon }), firstLive > 256 {
                verifiedTimes.removeFirst(firstLive)
            }
            let since = now > millis ? now - millis : 0
            return verifiedTimes.reduce(0) { $0 + ($1 >= since ? 1 : 0) }
        }
    }

    func closeLog() {
        try? broadcastLog?.close()
    }

    func snapshot<T>(_ body: (SoakRecorder) -> T) -> T {
        locked { body(self) }
    }
}

/// "p<n>" → n.
func honestIndex(_ id: PeerID) -> Int? {
    guard id.value.hasPrefix("p") else { return nil }
    return Int(id.value.dropFirst())
}
