// The soak run's verdict and report: every check with its figure and PASS/FAIL, the memory
// table over time, what the attackers tried and how the doctor refused it, and the run's
// counts. Written as Markdown and JSON.

import Foundation
import TelemedNode
import TelemedProtocol
import struct TelemedTransport.IPAddress

/// One check of the verdict.
public struct SoakCheck: Sendable, Codable {
    /// What is checked.
    public var name: String
    /// The measured figure, in words.
    public var figure: String
    /// Passed?
    public var passed: Bool
}

/// Everything a soak run reports.
public struct SoakReport: Sendable, Codable {
    /// The settings of the run.
    public var options: SoakOptions
    /// The machine it ran on.
    public var machine: MachineInfo
    /// The doctor settings changed from the defaults, in words.
    public var settings: String
    /// How long the load phase lasted, in seconds.
    public var loadSeconds: Double
    /// Samples taken during the load phase.
    public var samples: [SoakSample]
    /// The sample after the stop, once the load had quiesced (before the shutdown).
    public var endSample: SoakSample
    /// The sample a second after the doctor and its transport shut down.
    public var afterShutdown: SoakSample
    /// Descriptors of the idle doctor (listening, nobody connected).
    public var baselineFDs: Int
    /// The verdict's checks.
    public var checks: [SoakCheck]
    /// Mean RSS of the second quarter of the load phase, bytes.
    public var rssSecondQuarter: Double
    /// Mean RSS of the last quarter, bytes.
    public var rssLastQuarter: Double
    /// Mean malloc'd bytes of the second quarter.
    public var heapSecondQuarter: Double
    /// Mean malloc'd bytes of the last quarter.
    public var heapLastQuarter: Double
    /// Patients authenticated (doctor events).
    public var joins: Int
    /// Members that left, per reason.
    public var leaves: [String: Int]
    /// Epochs started.
    public var epochs: Int
    /// Broadcasts sent.
    public var broadcasts: Int
    /// Broadcast ticks skipped because nobody was connected.
    public var broadcastFailures: Int
    /// Honest sessions (patient side).
    public var sessions: Int
    /// Sessions that ended with DISCONNECT.
    public var sessionsLeft: Int
    /// Sessions that ended by dropping the connection.
    public var sessionsDropped: Int
    /// Connect → first GROUP_KEY, median ms.
    public var handshakeMillisMedian: Double?
    /// Connect → first GROUP_KEY, p99 ms.
    public var handshakeMillisP99: Double?
    /// Connect → first GROUP_KEY, max ms.
    public var handshakeMillisMax: Double?
    /// Broadcast copies members had to decrypt.
    public var broadcastCopiesOwed: Int
    /// Of those, decrypted.
    public var broadcastCopiesReceived: Int
    /// The first honest-peer errors, in words.
    public var honestErrors: [String]
    /// Honest-peer errors in all.
    public var honestErrorCount: Int
    /// Blocks issued, per kind and rule.
    public var blocks: [String: Int]
    /// Blocks that hit something other than an attacker.
    public var blockViolations: [String]
    /// Source addresses the attackers used.
    public var attackerAddresses: Int
    /// Attack attempts per kind.
    public var attempts: [String: Int]
    /// What the attackers saw, per "kind: outcome".
    public var outcomes: [String: Int]
    /// The doctor's refusals of attacker sources, per rule id.
    public var refusalsByRule: [String: Int]
    /// auth_failure rows in the audit log.
    public var auditFailureRows: Int
    /// Operator alerts, per kind.
    public var alerts: [String: Int]
    /// Things that must not happen (an attacker answered, an attacker id a member, …).
    public var anomalies: [String]

    /// True when every check passed.
    public var passed: Bool { checks.allSatisfy(\.passed) }

    // MARK: - Building

    static func build(options: SoakOptions, machine: MachineInfo, settings: String, samples: [SoakSample],
                      endSample: SoakSample, afterShutdown: SoakSample, baselineFDs: Int, loadSeconds: Double,
                      recorder: SoakRecorder, load: SoakLoadReport?, broadcastLog: String, auditBlocks: [AuditRow],
                      auditFailureRows: Int, broadcastFailures: Int, harnessFailure: String?) -> SoakReport {
        var checks: [SoakCheck] = []
        var honestErrors: [String] = []
        var anomalies: [String] = recorder.snapshot { $0.anomalies }
        let sessions = load?.sessions ?? []
        for session in sessions {
            for error in session.errors { honestErrors.append("p\(session.patient): \(error)") }
        }
        anomalies += load?.anomalies ?? []

        // Missed broadcasts: a member of epoch e must decrypt every broadcast of e unless its
        // session ended by its own choice before the frame could arrive (TCP keeps order, so a
        // later frame seen in the same session proves the broadcast arrived before it).
        var byPatient: [Int: [SoakSession]] = [:]
        for session in sessions where session.authEpoch != nil { byPatient[session.patient, default: []].append(session) }
        var owed = 0, got = 0, missed = 0
        for line in broadcastLog.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3, let epoch = UInt64(parts[0]), let seq = UInt64(parts[1]) else { continue }
            for member in parts[2].split(separator: ",").compactMap({ Int($0) }) {
                guard let session = byPatient[member]?.filter({ ($0.authEpoch ?? .max) <= epoch })
                    .max(by: { ($0.authEpoch ?? 0) < ($1.authEpoch ?? 0) }) else {
                    missed += 1
                    honestErrors.append("p\(member): member of epoch \(epoch) with no session that authenticated by then")
                    continue
                }
                let receivedIt = session.received.contains { $0 == [epoch, seq] }
                if session.maxEpoch < epoch {
                    if !session.byChoice {
                        missed += 1
                        honestErrors.append("p\(member): never got the GROUP_KEY of epoch \(epoch) (broadcast \(seq))")
                    }
                    continue
                }
                let laterFrame = session.maxEpoch > epoch
                    || session.received.contains { $0[0] == epoch && $0[1] > seq } || !session.byChoice
                if receivedIt { got += 1; owed += 1 } else if laterFrame {
                    owed += 1
                    missed += 1
                    honestErrors.append("p\(member): missed broadcast (\(epoch), \(seq)) while a member")
                }
            }
        }
        let rejections = recorder.snapshot { ($0.honestRejections, $0.honestRejectionCount) }
        honestErrors += rejections.0.map { "doctor rejected an honest connection: \($0)" }
        let honestErrorCount = sessions.reduce(0) { $0 + $1.errors.count } + missed + rejections.1

        // Memory: second quarter vs last quarter of the load phase (the first is warm-up).
        let duration = loadSeconds
        let q2 = samples.filter { $0.seconds >= duration * 0.25 && $0.seconds < duration * 0.5 }
        let q4 = samples.filter { $0.seconds >= duration * 0.75 }
        func mean(_ values: [Int]) -> Double { values.isEmpty ? 0 : Double(values.reduce(0, +)) / Double(values.count) }
        let rss2 = mean(q2.map(\.rss)), rss4 = mean(q4.map(\.rss))
        let heap2 = mean(q2.map(\.heap)), heap4 = mean(q4.map(\.heap))
        let growth = rss4 - rss2
        let growthPercent = rss2 > 0 ? growth / rss2 * 100 : 0
        let mib = 1_048_576.0
        checks.append(SoakCheck(
            name: "steady-state RSS growth (mean of the last quarter vs the second; fails only above both "
                + "\(fmt(options.growthMiB)) MiB and \(fmt(options.growthPercent)) %)",
            figure: "\(fmt(rss2 / mib)) → \(fmt(rss4 / mib)) MiB: \(growth >= 0 ? "+" : "")\(fmt(growth / mib)) MiB "
                + "(\(growth >= 0 ? "+" : "")\(fmt(growthPercent)) %); heap \(fmt(heap2 / mib)) → \(fmt(heap4 / mib)) MiB",
            passed: !q2.isEmpty && !q4.isEmpty
                && !(growth / mib > options.growthMiB && growthPercent > options.growthPercent)))

        // The doctor's tables. Timers: one handshake timer per pending handshake, plus at most
        // one epoch-window timer while membership changes wait for their batched epoch (§7.1).
        let tableViolations = samples.filter { sample in
            let c = sample.counters
            return c.connections != c.members + c.pendingHandshakes || c.timers > c.pendingHandshakes + 1
                || c.lastReceipts > c.members || c.replayCacheEntries > sample.replayBound
        }
        let maxReplay = samples.map(\.counters.replayCacheEntries).max() ?? 0
        let maxPending = samples.map(\.counters.pendingHandshakes).max() ?? 0
        checks.append(SoakCheck(
            name: "doctor tables bounded at every sample (connections = members + pending; timers ≤ pending + 1 epoch window; "
                + "receipts ≤ members; replay-cache entries ≤ requests verified in the last 2·ΔTS + 5 s, plus pending)",
            figure: tableViolations.isEmpty
                ? "all \(samples.count) samples: max replay cache \(maxReplay), max pending \(maxPending)"
                : "\(tableViolations.count) samples out of bounds, first at \(fmt(tableViolations[0].seconds)) s: "
                    + "\(tableViolations[0].counters)",
            passed: tableViolations.isEmpty))
        let shutdownCounters = afterShutdown.counters
        let fdsOK = afterShutdown.fds <= baselineFDs + 8
        checks.append(SoakCheck(
            name: "nothing left after the shutdown (no member, pending handshake or timer; descriptors back to the "
                + "idle doctor's \(baselineFDs) + 8)",
            figure: "members \(shutdownCounters.members), pending \(shutdownCounters.pendingHandshakes), timers "
                + "\(shutdownCounters.timers), connections \(shutdownCounters.connections), descriptors \(afterShutdown.fds)",
            passed: shutdownCounters.members == 0 && shutdownCounters.pendingHandshakes == 0
                && shutdownCounters.timers == 0 && shutdownCounters.connections == 0 && fdsOK))

        // Honest peers.
        checks.append(SoakCheck(
            name: "honest-peer errors (authentication failures, REJECTED, missed broadcasts, decrypt failures, "
                + "unexpected ends): must be 0",
            figure: "\(honestErrorCount) in \(sessions.count) sessions; \(got) of \(owed) broadcast copies owed were decrypted",
            passed: honestErrorCount == 0 && !sessions.isEmpty))

        // Blocks.
        let addresses = Set(load?.attackerAddresses ?? [])
        let owned = Set(SoakOptions.attackerOwnedIDs)
        var violations: [String] = []
        let targets = recorder.snapshot { $0.blockedTargets }
        for target in targets {
            switch target {
            case let .source(source):
                if !addresses.contains(source.description) { violations.append("blocked \(target), not an attacker address") }
            case let .prefix(prefix):
                if let honest = IPAddress(SoakOptions.honestSource).flatMap({ SourceAddress(addressBytes: $0.bytes) }),
                   prefix.contains(honest) {
                    violations.append("blocked \(target), which covers the honest patients")
                }
            case let .device(device):
                if !owned.contains(device.patient.value) || !addresses.contains(device.source.description) {
                    violations.append("blocked \(target), not an attacker-controlled device")
                }
            }
        }
        for row in auditBlocks {
            let text = row.source ?? ""
            if text.hasSuffix(" \(SoakOptions.honestSource)") || text.hasSuffix("@\(SoakOptions.honestSource)")
                || (row.patient.map { !owned.contains($0) } ?? false) {
                violations.append("audit row \(row.id): block on \(text)")
            }
        }
        if auditBlocks.count != targets.count {
            violations.append("\(targets.count) block events but \(auditBlocks.count) block rows in the audit log")
        }
        let blocks = recorder.snapshot { $0.blocks }
        checks.append(SoakCheck(
            name: "blocks only on attackers (every blocked source an attacker address, every device block an "
                + "attacker-owned id from an attacker address; audit log agrees)",
            figure: "\(targets.count) blocks (" + blocks.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
                .joined(separator: ", ") + "), \(violations.count) wrong",
            passed: violations.isEmpty && !targets.isEmpty))

        // Attackers.
        let refusals = recorder.snapshot { $0.attackerRefusals }
        let attempts = load?.attempts ?? [:]
        checks.append(SoakCheck(
            name: "attackers got nothing (no answer but REJECTED to a forged request; no attacker id became a member)",
            figure: "\(attempts.values.reduce(0, +)) attempts from \(addresses.count) addresses, "
                + "\(refusals.values.reduce(0, +)) refusals; \(anomalies.count) anomalies",
            passed: anomalies.isEmpty && !attempts.isEmpty))
        if let harnessFailure {
            checks.append(SoakCheck(name: "the harness ran to the end", figure: harnessFailure, passed: false))
        }
        let handshakes = sessions.compactMap(\.handshakeMillis).sorted()
        func percentile(_ p: Double) -> Double? {
            handshakes.isEmpty ? nil : handshakes[min(handshakes.count - 1, Int((p * Double(handshakes.count)).rounded(.up)) - 1)]
        }
        checks.append(SoakCheck(
            name: "honest handshakes well within their timeout (p99 below half of \(options.handshakeTimeoutMillis / 1_000) s)",
            figure: "median \(fmt(percentile(0.5) ?? 0)) ms, p99 \(fmt(percentile(0.99) ?? 0)) ms, max \(fmt(handshakes.last ?? 0)) ms",
            passed: (percentile(0.99) ?? .infinity) < Double(options.handshakeTimeoutMillis) / 2))

        return recorder.snapshot { recorder in
            SoakReport(
                options: options, machine: machine, settings: settings, loadSeconds: loadSeconds, samples: samples,
                endSample: endSample, afterShutdown: afterShutdown, baselineFDs: baselineFDs, checks: checks,
                rssSecondQuarter: rss2, rssLastQuarter: rss4, heapSecondQuarter: heap2, heapLastQuarter: heap4,
                joins: recorder.joins, leaves: recorder.leaves, epochs: recorder.epochs, broadcasts: recorder.broadcasts,
                broadcastFailures: broadcastFailures, sessions: sessions.count,
                sessionsLeft: sessions.filter { $0.end == "left" }.count,
                sessionsDropped: sessions.filter { $0.end == "dropped" }.count,
                handshakeMillisMedian: percentile(0.5), handshakeMillisP99: percentile(0.99),
                handshakeMillisMax: handshakes.last, broadcastCopiesOwed: owed, broadcastCopiesReceived: got,
                honestErrors: Array(honestErrors.prefix(100)), honestErrorCount: honestErrorCount, blocks: recorder.blocks,
                blockViolations: Array(violations.prefix(100)), attackerAddresses: addresses.count, attempts: attempts,
                outcomes: load?.outcomes ?? [:], refusalsByRule: recorder.attackerRefusals,
                auditFailureRows: auditFailureRows, alerts: recorder.alerts, anomalies: anomalies)
        }
    }

    // MARK: - Markdown

    /// The report as Markdown.
    public var markdown: String {
        let mib = 1_048_576.0
        var out = "# Soak run\n\n"
        out += "**Verdict: \(passed ? "PASS" : "FAIL")** — \(options.patients) honest patients, \(options.attackers) attackers, "
            + "\(fmt(loadSeconds / 60)) min of load, seed \(options.seed)\(options.quick ? " (--quick)" : "").\n\n"
        out += "Machine: \(machine.cpu), \(machine.cores) cores (shared with other work during the run); "
            + "\(machine.date); GMP \(machine.gmp).\n\n"
        out += "Layout: the doctor (DoctorService + TCPServerTransport on 127.0.0.1, SQLite security store and audit log "
            + "in a temporary state directory) runs in this process; the honest patients (PatientService over "
            + "TCPClientTransport from 127.0.0.1) and the attackers (raw sockets bound to 127.0.X.Y, never 127.0.0.1) "
            + "run in a second process, so the RSS below is the doctor's own plus this harness's small bookkeeping "
            + "(member lists per broadcast go to a file). RSS is read from /proc/self/statm after malloc_trim(0); "
            + "heap is glibc's mallinfo2 in-use bytes.\n\n"
        out += "Doctor settings: \(settings).\n\n"
        out += "Schedule: each patient joins within the first \(options.rampMillis / 1_000) s, stays "
            + "\(options.stayMillis.lowerBound / 1_000)–\(options.stayMillis.upperBound / 1_000) s, then leaves with "
            + "DISCONNECT or (\(options.dropPercent) %) drops its connection, stays away "
            + "\(options.offlineMillis.lowerBound / 1_000)–\(options.offlineMillis.upperBound / 1_000) s, and comes back; "
            + "the doctor broadcasts every \(fmt(options.broadcastSeconds)) s; each attacker pauses "
            + "\(options.attackPauseMillis.lowerBound)–\(options.attackPauseMillis.upperBound) ms between attempts and "
            + "moves to a fresh source address every \(options.attemptsPerAddress) attempts.\n\n"
        out += "## Verdict\n\n| check | figure | result |\n|---|---|---|\n"
        for check in checks { out += "| \(check.name) | \(check.figure) | \(check.passed ? "PASS" : "**FAIL**") |\n" }
        out += "\n## Memory and tables over time (doctor process)\n\n"
        out += "| t (s) | RSS (MiB) | heap (MiB) | fds | connections | members | pending | replay cache | timers | "
            + "source blocks | device blocks | failure sources | epoch |\n"
        out += "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        let stride = max(1, samples.count / 40)
        var rows = samples.enumerated().filter { $0.offset % stride == 0 }.map(\.element)
        if let last = samples.last, rows.last?.seconds != last.seconds { rows.append(last) }
        func row(_ label: String, _ s: SoakSample) -> String {
            let c = s.counters
            return "| \(label) | \(fmt(Double(s.rss) / mib)) | \(fmt(Double(s.heap) / mib)) | \(s.fds) | \(c.connections) | "
                + "\(c.members) | \(c.pendingHandshakes) | \(c.replayCacheEntries) | \(c.timers) | \(c.sourceBlocks) | "
                + "\(c.deviceBlocks) | \(c.failureSources) | \(c.epoch) |\n"
        }
        for sample in rows { out += row(String(format: "%.0f", sample.seconds), sample) }
        out += row("stop", endSample)
        out += row("after shutdown", afterShutdown)
        out += "\nMean RSS: second quarter \(fmt(rssSecondQuarter / mib)) MiB, last quarter \(fmt(rssLastQuarter / mib)) MiB; "
            + "heap \(fmt(heapSecondQuarter / mib)) → \(fmt(heapLastQuarter / mib)) MiB. Source blocks and failure "
            + "sources grow with the number of attacker addresses (blocks last 24 h, failures 15 min), bounded by "
            + "their tables (65,536 each).\n"
        out += "\n## Honest patients\n\n"
        out += "- sessions: \(sessions) (\(sessionsLeft) left with DISCONNECT, \(sessionsDropped) dropped the connection, "
            + "the rest disconnected by the doctor's shutdown)\n"
        out += "- joins \(joins), leaves " + leaves.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            + ", epochs \(epochs), broadcasts \(broadcasts)"
            + (broadcastFailures > 0 ? " (\(broadcastFailures) skipped: nobody connected)" : "") + "\n"
        out += "- handshake (connect → first GROUP_KEY): median \(fmt(handshakeMillisMedian ?? 0)) ms, p99 "
            + "\(fmt(handshakeMillisP99 ?? 0)) ms, max \(fmt(handshakeMillisMax ?? 0)) ms (timeout "
            + "\(options.handshakeTimeoutMillis / 1_000) s)\n"
        out += "- broadcast copies owed to members \(broadcastCopiesOwed), decrypted \(broadcastCopiesReceived)\n"
        out += "- errors: \(honestErrorCount)\n"
        for error in honestErrors.prefix(20) { out += "  - \(error)\n" }
        out += "\n## Attackers\n\n"
        out += "\(attackerAddresses) source addresses used. Attempts per kind, and what the attacker saw:\n\n"
        out += "| kind | attempts | outcomes |\n|---|---:|---|\n"
        for (kind, count) in attempts.sorted(by: { $0.key < $1.key }) {
            let seen = outcomes.filter { $0.key.hasPrefix(kind + ": ") }.sorted { $0.key < $1.key }
                .map { "\($0.key.dropFirst(kind.count + 2)) \($0.value)" }.joined(separator: ", ")
            out += "| \(kind) | \(count) | \(seen) |\n"
        }
        out += "\nRefused by the doctor, per rule (events from attacker sources; \(auditFailureRows) auth_failure rows "
            + "in the audit log):\n\n| rule | refusals |\n|---|---:|\n"
        for (rule, count) in refusalsByRule.sorted(by: { $0.key < $1.key }) { out += "| \(rule) | \(count) |\n" }
        out += "\nBlocks issued: " + (blocks.isEmpty ? "none" : blocks.sorted { $0.key < $1.key }
            .map { "\($0.value) \($0.key)" }.joined(separator: ", ")) + ".\n"
        if !alerts.isEmpty {
            out += "Alerts: " + alerts.sorted { $0.key < $1.key }.map { "\($0.value) × \($0.key)" }.joined(separator: "; ") + ".\n"
        }
        for violation in blockViolations.prefix(20) { out += "- WRONG BLOCK: \(violation)\n" }
        for anomaly in anomalies.prefix(20) { out += "- ANOMALY: \(anomaly)\n" }
        return out
    }
}

func fmt(_ value: Double) -> String {
    String(format: abs(value) >= 100 ? "%.0f" : "%.1f", value)
}
