import Foundation
import TelemedCrypto
import TelemedNode
import TelemedProtocol

/// A ``DoctorStore`` over a real ``SecurityStore`` whose commits a test can hold (a slow disk)
/// or make fail (a full or broken disk). Everything else goes straight to the real store, so
/// what a commit that passes the gate writes is exactly what the doctor asked for.
final class GatedStore: DoctorStore, @unchecked Sendable {
    let base: SecurityStore
    private let condition = NSCondition()
    private var isOpen = true
    private var failing = false
    private var entered = 0
    private var groupSizes: [Int] = []

    init(_ base: SecurityStore) {
        self.base = base
    }

    var location: String { base.location }

    // MARK: Control

    /// Commits wait at the gate from now on.
    func hold() {
        condition.lock()
        isOpen = false
        condition.unlock()
    }

    /// Lets waiting and later commits through.
    func release() {
        condition.lock()
        isOpen = true
        condition.broadcast()
        condition.unlock()
    }

    /// Commits that pass the gate throw instead of writing.
    func fail(_ on: Bool) {
        condition.lock()
        failing = on
        condition.unlock()
    }

    /// Waits (up to `seconds`) until `count` commits reached the gate.
    func waitUntilEntered(_ count: Int, seconds: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        defer { condition.unlock() }
        while entered < count {
            if !condition.wait(until: deadline) { return entered >= count }
        }
        return true
    }

    /// Batches per commit that wrote, in order.
    var groups: [Int] {
        condition.lock()
        defer { condition.unlock() }
        return groupSizes
    }

    // MARK: DoctorStore

    func commit(_ batches: [StoreBatch], durability: StoreDurability) throws(StoreError) {
        condition.lock()
        entered += 1
        condition.broadcast()
        while !isOpen { condition.wait() }
        let fails = failing
        condition.unlock()
        if fails { throw .writeFailed("injected by the test") }
        try base.commit(batches, durability: durability)
        condition.lock()
        groupSizes.append(batches.count)
        condition.unlock()
    }

    func load() throws(StoreError) -> SecurityState { try base.load() }
    func manualUnblocks() throws(StoreError) -> [(wall: UInt64, target: String)] { try base.manualUnblocks() }
    func auditRows(kind: AuditKind?, limit: Int) throws(StoreError) -> [AuditRow] {
        try base.auditRows(kind: kind, limit: limit)
    }
    func patients() throws(StoreError) -> [EnrolledPatient] { try base.patients() }
    func patient(_ id: PeerID) throws(StoreError) -> EnrolledPatient? { try base.patient(id) }
    func retiredKeys() throws(StoreError) -> [RetiredKey] { try base.retiredKeys() }
    func enroll(_ id: PeerID, publicKey: PublicKey, group: TelemedGroup, replace: Bool,
                at wall: UInt64) throws(StoreError) -> EnrollmentKind {
        try base.enroll(id, publicKey: publicKey, group: group, replace: replace, at: wall)
    }
    func revoke(_ id: PeerID, at wall: UInt64) throws(StoreError) -> EnrolledPatient { try base.revoke(id, at: wall) }
    func legacyRegistryImported() throws(StoreError) -> Bool { try base.legacyRegistryImported() }
    func importLegacyRegistry(_ entries: [PeerID: PublicKey], group: TelemedGroup,
                              at wall: UInt64) throws(StoreError) -> LegacyImport? {
        try base.importLegacyRegistry(entries, group: group, at: wall)
    }
}
