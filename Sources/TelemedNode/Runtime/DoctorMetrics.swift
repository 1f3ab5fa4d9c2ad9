// Metrics of the doctor's runtime
// ===============================
// Every figure is derived by the node from what its machine already tells it (events,
// actions, introspection) and from the time its store takes to commit; the pure core knows
// nothing of metrics. The handles come from swift-metrics' `MetricsFactory` (the global
// `MetricsSystem.factory` unless a host injects one), so a host that bootstraps no backend pays
// for no-op handles only. `doctor serve --metrics-port` exports them for Prometheus. Labels
// have bounded values only (rule ids, fixed kinds), never an address or a patient id.
// The catalogue with meanings is TelemedNode.docc/Metrics.md.

import Metrics
import TelemedProtocol
import TelemedTransport

/// The doctor's metrics (swift-metrics handles). Thread-safe; built once per node.
public struct DoctorMetrics: Sendable {
    /// Every metric name this type reports, for documentation and exporters.
    public enum Name {
        public static let handshakes = "telemed_doctor_handshakes_total"
        public static let sessionRejections = "telemed_doctor_session_rejections_total"
        public static let transportRefusals = "telemed_doctor_transport_refusals_total"
        public static let blocks = "telemed_doctor_blocks_total"
        public static let unblocks = "telemed_doctor_unblocks_total"
        public static let epochs = "telemed_doctor_epochs_total"
        public static let epoch = "telemed_doctor_epoch"
        /// The lowest protocol version the doctor accepts (PROTOCOL.md §8.6), a gauge.
        public static let minimumVersion = "telemed_doctor_minimum_protocol_version"
        public static let members = "telemed_doctor_members"
        public static let departures = "telemed_doctor_departures_total"
        public static let pendingHandshakes = "telemed_doctor_pending_handshakes"
        public static let tableEntries = "telemed_doctor_table_entries"
        public static let broadcasts = "telemed_doctor_broadcasts_total"
        public static let broadcastRecipients = "telemed_doctor_broadcast_recipients_total"
        public static let receipts = "telemed_doctor_receipts_total"
        public static let alerts = "telemed_doctor_alerts_total"
        public static let storeCommitSeconds = "telemed_doctor_store_commit_seconds"
        public static let storeCommitFailures = "telemed_doctor_store_commit_failures_total"
        public static let loginSeconds = "telemed_doctor_login_seconds"
    }

    /// The tables reported under ``Name/tableEntries`` (label `table`).
    public static let tables = [
        "connections", "replay_cache", "source_blocks", "prefix_blocks", "device_blocks", "failure_sources",
        "device_block_history", "timers", "held_effects", "uncommitted_inputs",
    ]

    private let factory: any MetricsFactory
    private let authenticated: Counter
    private let handshakeRejections: [RuleID: Counter]
    private let abandoned: Counter
    private let sessionRejections: [RuleID: Counter]
    private let blocks: [String: Counter]
    private let unblocks: [String: Counter]
    private let epochs: Counter
    private let epoch: Gauge
    private let minimumVersion: Gauge
    private let members: Gauge
    private let pendingHandshakes: Gauge
    private let tables: [String: Gauge]
    private let broadcasts: Counter
    private let broadcastRecipients: Counter
    private let knownReceipts: Counter
    private let unknownReceipts: Counter
    private let alerts: Counter
    private let durableCommits: Metrics.Timer
    private let relaxedCommits: Metrics.Timer
    private let commitFailures: Counter
    private let logins: Metrics.Timer

    /// Handles made by `factory` (default: the process's `MetricsSystem.factory`).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        func counter(_ name: String, _ dimensions: [(String, String)] = []) -> Counter {
            Counter(label: name, dimensions: dimensions, factory: factory)
        }
        func gauge(_ name: String, _ dimensions: [(String, String)] = []) -> Gauge {
            Gauge(label: name, dimensions: dimensions, factory: factory)
        }
        authenticated = counter(Name.handshakes, [("outcome", "authenticated"), ("rule", "none")])
        abandoned = counter(Name.handshakes, [("outcome", "abandoned"), ("rule", "none")])
        var handshakeRejections: [RuleID: Counter] = [:]
        var sessionRejections: [RuleID: Counter] = [:]
        for rule in RuleID.allCases {
            handshakeRejections[rule] = counter(Name.handshakes, [("outcome", "rejected"), ("rule", rule.rawValue)])
            sessionRejections[rule] = counter(Name.sessionRejections, [("rule", rule.rawValue)])
        }
        self.handshakeRejections = handshakeRejections
        self.sessionRejections = sessionRejections
        var blocks: [String: Counter] = [:]
        var unblocks: [String: Counter] = [:]
        for kind in ["source", "prefix", "device"] {
            blocks[kind] = counter(Name.blocks, [("kind", kind)])
            unblocks[kind] = counter(Name.unblocks, [("kind", kind)])
        }
        self.blocks = blocks
        self.unblocks = unblocks
        epochs = counter(Name.epochs)
        epoch = gauge(Name.epoch)
        minimumVersion = gauge(Name.minimumVersion)
        members = gauge(Name.members)
        pendingHandshakes = gauge(Name.pendingHandshakes)
        var tables: [String: Gauge] = [:]
        for table in Self.tables { tables[table] = gauge(Name.tableEntries, [("table", table)]) }
        self.tables = tables
        broadcasts = counter(Name.broadcasts)
        broadcastRecipients = counter(Name.broadcastRecipients)
        knownReceipts = counter(Name.receipts, [("known", "true")])
        unknownReceipts = counter(Name.receipts, [("known", "false")])
        alerts = counter(Name.alerts)
        durableCommits = Metrics.Timer(label: Name.storeCommitSeconds, dimensions: [("durability", "durable")], factory: factory)
        relaxedCommits = Metrics.Timer(label: Name.storeCommitSeconds, dimensions: [("durability", "relaxed")], factory: factory)
        commitFailures = counter(Name.storeCommitFailures)
        logins = Metrics.Timer(label: Name.loginSeconds, factory: factory)
    }

    // MARK: - Recording

    /// A machine event (reported once, in order, after its audit rows are committed).
    /// `inHandshake` tells a rejection during a login from one in a member's session.
    func record(_ event: DoctorEvent, inHandshake: Bool) {
        switch event {
        case .patientAuthenticated:
            authenticated.increment()
        case let .patientLeft(_, _, reason):
            Counter(label: Name.departures, dimensions: [("reason", reason.rawValue)], factory: factory).increment()
        case let .epochStarted(number, memberList):
            epochs.increment()
            epoch.record(Double(number))
            members.record(Double(memberList.count))
        case let .rejected(_, _, rule, _, _):
            (inHandshake ? handshakeRejections : sessionRejections)[rule]?.increment()
        case let .blocked(target, _, _):
            blocks[Self.kind(of: target)]?.increment()
        case let .unblocked(target):
            unblocks[Self.kind(of: target)]?.increment()
        case let .broadcastSent(_, _, recipients):
            broadcasts.increment()
            broadcastRecipients.increment(by: recipients)
        case let .receipt(_, _, _, known):
            (known ? knownReceipts : unknownReceipts).increment()
        case .alert:
            alerts.increment()
        case let .minimumVersionChanged(version):
            minimumVersion.record(Double(version.rawValue))
        }
    }

    /// A connection closed during its handshake without a verdict.
    func recordAbandonedHandshake() {
        abandoned.increment()
    }

    /// A login took `milliseconds` from the connection's open to its authentication.
    func recordLogin(milliseconds: UInt64) {
        logins.recordMilliseconds(milliseconds)
    }

    /// A refusal by the transport before any connection was reported, counted by kind.
    func recordTransportRefusal(_ reason: CloseReason) {
        let kind: String
        switch reason {
        case .connectionLimit: kind = "connection_limit"
        case .proxyHeader: kind = "proxy_header"
        default: kind = "other"
        }
        Counter(label: Name.transportRefusals, dimensions: [("reason", kind)], factory: factory).increment()
    }

    /// One store commit (a group of batches) took `nanoseconds`.
    func recordCommit(nanoseconds: Int64, durable: Bool, failed: Bool) {
        (durable ? durableCommits : relaxedCommits).recordNanoseconds(nanoseconds)
        if failed { commitFailures.increment() }
    }

    /// Sets the gauges of table sizes (sampled: the host calls it, e.g. before each scrape).
    func record(tables sizes: [String: Int], members memberCount: Int, pendingHandshakes pending: Int, epoch number: UInt64) {
        for (table, size) in sizes { tables[table]?.record(Double(size)) }
        members.record(Double(memberCount))
        pendingHandshakes.record(Double(pending))
        epoch.record(Double(number))
    }

    private static func kind(of target: BlockTarget) -> String {
        switch target {
        case .source: "source"
        case .prefix: "prefix"
        case .device: "device"
        }
    }
}
