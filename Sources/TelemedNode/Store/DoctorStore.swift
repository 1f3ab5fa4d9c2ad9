// Theory of operation
// ===================
// Everything the doctor keeps across restarts goes through one protocol, `DoctorStore`:
//
//   security state   T0, source/prefix/device blocks, failure counters, device-block history
//                    (loaded once at start, then written as the machine's `.persist` changes)
//   registry         enrolled and revoked patients, retired keys (operator commands)
//   audit log        one row per event the machine reports, plus operator and host rows
//
// The runtime (`DoctorNode`, `DoctorService`) sees only the protocol; the
// embedded default is `SecurityStore` (SQLite, WAL, one file in the state directory). Writes
// of the running doctor come as `StoreBatch`es, one per input (the input's security changes
// and its audit rows together), and the runtime hands the store several consecutive batches
// at once when inputs arrived while the previous commit was in flight (group commit,
// `CommitPipeline`). `commit(_:durability:)` writes all of them in one transaction and returns
// only once it is committed with the durability asked for, so the runtime never needs to know
// how the store does it.
//
// Durability, and what a PostgreSQL store shared by several gateways would need: see the
// documentation of `DoctorStore` below.

import TelemedCrypto
import TelemedProtocol

// MARK: - StoreBatch

/// What one input of the doctor writes: its security changes and its audit rows, committed
/// together (and with the batches of neighbouring inputs, see ``DoctorStore``).
public struct StoreBatch: Sendable, Equatable {
    /// The doctor's wall clock when the input was handled (the device-block history and the
    /// record of manual unblocks use it).
    public var wall: UInt64
    /// The machine's `.persist` changes, in order.
    public var changes: [SecurityChange]
    /// Audit rows, in order.
    public var audit: [AuditRow]

    /// A batch.
    public init(wall: UInt64, changes: [SecurityChange] = [], audit: [AuditRow] = []) {
        self.wall = wall
        self.changes = changes
        self.audit = audit
    }

    /// True when it writes nothing.
    public var isEmpty: Bool { changes.isEmpty && audit.isEmpty }

    /// The durability this batch needs: durable when it holds a security change.
    public var durability: StoreDurability { changes.isEmpty ? .relaxed : .durable }
}

// MARK: - StoreDurability

/// How durable a commit must be when ``DoctorStore/commit(_:durability:)`` returns.
public enum StoreDurability: String, Sendable, Equatable, Codable, Comparable {
    /// Ordered after every earlier commit and survives a crash of the process; a power cut may
    /// lose it until the next durable commit (audit rows alone).
    case relaxed
    /// On stable storage (security changes: blocks, counters, T0).
    case durable

    public static func < (lhs: StoreDurability, rhs: StoreDurability) -> Bool {
        lhs == .relaxed && rhs == .durable
    }
}

// MARK: - DoctorStore

/// The doctor's durable state — T0, blocks, failure counters, the patient registry and the
/// audit log — behind one interface. ``SecurityStore`` (SQLite) is the embedded
/// implementation; the runtime (``DoctorNode``, ``DoctorService``) uses only this protocol.
///
/// Every method is called from one thread at a time per store, but not always the same one:
/// ``commit(_:durability:)`` runs on the commit pipeline's writer thread while reads and
/// registry commands run on the node's context, so an implementation must be safe to call from
/// any thread and must serialise its own writes.
///
/// Writes check first and write nothing when a check fails; every failure is a typed
/// ``StoreError`` whose text names the operation, never key material.
///
/// ## Durability
///
/// The runtime commits each group of batches with ``StoreDurability/durable`` when any of them
/// holds a security change, and with ``StoreDurability/relaxed`` when they hold audit rows
/// alone. Durable means on stable storage before ``commit(_:durability:)`` returns (SQLite:
/// `synchronous = FULL`, one fsync of the write-ahead log per commit). Relaxed means ordered
/// after every earlier commit, visible to readers and kept across a crash of the process, but
/// possibly lost to a power cut until the next durable commit or checkpoint (SQLite:
/// `synchronous = NORMAL` for that one transaction). Audit rows may be weaker because nothing
/// the doctor sends depends on them: they record what happened, while blocks and counters
/// decide what happens next; and since the log is written in order, a power cut loses at most
/// the newest rows, never a row older than one that was kept. Registry changes and the start
/// record (T0) are always durable.
///
/// ## A PostgreSQL store shared by several gateways
///
/// Not built; what it would take, with the machine and the node unchanged unless said so:
///
/// - **Tables and transactions.** The same tables, with the gateway's id on every audit row,
///   and ``commit(_:durability:)`` as one transaction per group (a failed group throws
///   ``StoreError/writeFailed(_:)`` and the node fails those inputs closed, exactly as with
///   SQLite). Durable is `synchronous_commit = on` (with a synchronous standby if blocks must
///   survive the loss of the primary); relaxed is `SET LOCAL synchronous_commit = off` for
///   audit-only groups. `commit` runs on the commit pipeline's dedicated writer thread, so a
///   driver built on an event loop (PostgresNIO) may block there on its future.
/// - **Shared blocks.** ``load()`` returns every block in the table, so a gateway that starts
///   enforces the blocks of all the others. A block set by another gateway while this one
///   runs needs a feed (LISTEN/NOTIFY on a channel the writer notifies inside its transaction,
///   and polling a change sequence after a reconnect) and one new machine input that adopts an
///   external `SecurityChange`; until then, such blocks apply from the next start.
/// - **Shared failure counters.** Each gateway counts what it sees, so R-SRC's threshold holds
///   per gateway. A global threshold needs the count read back in the same transaction
///   (`INSERT … RETURNING` the window's count) and the block decided from it — a question the
///   machine asks the store, so again a new input.
/// - **Replay.** The replay cache lives in each machine's memory. Gateways sharing one doctor
///   identity accept each other's requests, so a KEY_VERIFICATION verified by one could be
///   replayed to another within ΔTS: either the (id, rn) check-and-insert moves into the
///   shared store (a unique key, inside the verification), or each gateway has an identity of
///   its own.
/// - **Clocks.** Rows carry each gateway's wall clock. T0 stays per gateway (a `start_time`
///   row keyed by gateway): it guards that gateway's replay cache, which its restart empties
///   (PROTOCOL.md §5, "Clocks"). Shared block expiries compare wall times written by different
///   gateways, so their clocks must agree (NTP) or blocks end early or late by the skew.
/// - **Registry.** ``enroll(_:publicKey:group:replace:at:)`` and ``revoke(_:at:)`` already
///   check and write in one transaction; with several writers they need `SERIALIZABLE` (or
///   `SELECT … FOR UPDATE` on the id) so one key cannot be enrolled twice, and the other
///   gateways learn of a revocation through the same feed as blocks.
/// - **Connection loss.** Reconnecting is the store's business inside `commit`; while it fails,
///   the dependent frames of those inputs are dropped and ``DoctorNode/storeFailed`` is set.
public protocol DoctorStore: AnyObject, Sendable {
    /// Where the store lives, for messages (a file path, `:memory:`, a URL without secrets).
    var location: String { get }

    // MARK: Security state

    /// The saved security state, as a restarted doctor hands it to its machine.
    func load() throws(StoreError) -> SecurityState

    /// Writes consecutive batches (in order) in one transaction and returns once it is
    /// committed with at least `durability`. Throws having written none of them.
    func commit(_ batches: [StoreBatch], durability: StoreDurability) throws(StoreError)

    /// The operator unblocks recorded so far: (wall ms, target description), oldest first.
    func manualUnblocks() throws(StoreError) -> [(wall: UInt64, target: String)]

    // MARK: Audit log

    /// Audit rows in order, optionally only of one kind, at most `limit` of the most recent.
    func auditRows(kind: AuditKind?, limit: Int) throws(StoreError) -> [AuditRow]

    // MARK: Registry

    /// Every id ever enrolled, revoked ones included, in ascending id order.
    func patients() throws(StoreError) -> [EnrolledPatient]

    /// One id's registry row, if it was ever enrolled.
    func patient(_ id: PeerID) throws(StoreError) -> EnrolledPatient?

    /// Every retired key, oldest first.
    func retiredKeys() throws(StoreError) -> [RetiredKey]

    /// Enrolls `publicKey` for `id` durably, with its audit row in the same transaction (see
    /// ``SecurityStore/enroll(_:publicKey:group:replace:at:)`` for the rules).
    @discardableResult
    func enroll(_ id: PeerID, publicKey: PublicKey, group: TelemedGroup, replace: Bool,
                at wall: UInt64) throws(StoreError) -> EnrollmentKind

    /// Revokes `id` durably (row revoked, key retired, audit row), in one transaction.
    @discardableResult
    func revoke(_ id: PeerID, at wall: UInt64) throws(StoreError) -> EnrolledPatient

    /// True once ``importLegacyRegistry(_:group:at:)`` ran on this store.
    func legacyRegistryImported() throws(StoreError) -> Bool

    /// Copies legacy registry entries into the registry, once per store (see
    /// ``SecurityStore/importLegacyRegistry(_:group:at:)``).
    @discardableResult
    func importLegacyRegistry(_ entries: [PeerID: PublicKey], group: TelemedGroup,
                              at wall: UInt64) throws(StoreError) -> LegacyImport?
}

extension DoctorStore {
    /// Writes consecutive changes durably in one transaction.
    public func apply(_ changes: [SecurityChange], at wall: UInt64) throws(StoreError) {
        guard !changes.isEmpty else { return }
        try commit([StoreBatch(wall: wall, changes: changes)], durability: .durable)
    }

    /// Writes one change durably.
    public func apply(_ change: SecurityChange, at wall: UInt64) throws(StoreError) {
        try apply([change], at: wall)
    }

    /// Audit rows in order, at most the 10,000 most recent.
    public func auditRows() throws(StoreError) -> [AuditRow] {
        try auditRows(kind: nil, limit: 10_000)
    }

    /// The ids enrolled now with their keys, as the doctor's machine takes them. Every key must
    /// be in `group`; a row of another group is reported as corrupt (the deployment has one).
    public func registry(group: TelemedGroup) throws(StoreError) -> [PeerID: PublicKey] {
        let enrolled = try patients().filter { $0.status == .enrolled }
        var registry: [PeerID: PublicKey] = [:]
        for patient in enrolled {
            guard patient.publicKey.group == group else {
                throw .corruptRow(table: "patients", reason: "\(patient.id) has a key of group \(patient.publicKey.group.name), "
                                  + "not the deployment's \(group.name)")
            }
            registry[patient.id] = patient.publicKey
        }
        return registry
    }

    /// Enrolls without replacing (see ``enroll(_:publicKey:group:replace:at:)``).
    @discardableResult
    public func enroll(_ id: PeerID, publicKey: PublicKey, group: TelemedGroup,
                       at wall: UInt64) throws(StoreError) -> EnrollmentKind {
        try enroll(id, publicKey: publicKey, group: group, replace: false, at: wall)
    }
}
