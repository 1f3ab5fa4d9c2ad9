// Theory of operation: `SecurityPolicy.purgeExpired` runs on every accept and every first frame
// (PROTOCOL.md §5, "On accept, before reading"), so it must not scan the tables, which hold tens
// of thousands of entries. The policy records, for every entry it writes, the wall-clock time
// from which the entry may be expired (a block's expiry, a failure list's oldest time plus the
// window, a device-block record's time plus 24 h) in this min-heap. A purge pops what is due and
// re-checks each popped entry against the table, so a stale item (the entry was lifted,
// extended or replaced since) costs one lookup and changes nothing. The heap is rebuilt from
// the tables when stale items outnumber live entries, which bounds its size by the tables'.

/// One table entry the purge may have to drop.
enum ExpiringEntry: Hashable, Sendable {
    case source(SourceAddress)
    case prefix(SourcePrefix)
    case device(DeviceKey)
    /// The failure list of a source (its oldest time leaves the window).
    case failures(SourceAddress)
    /// The device-block history of an id (its oldest record turns 24 h old).
    case history(PeerID)
}

/// A min-heap of (due, entry) on the doctor's wall clock.
struct ExpiryQueue: Sendable {
    private var heap: [(due: UInt64, entry: ExpiringEntry)] = []

    /// Items held, stale ones included.
    var count: Int { heap.count }

    /// The earliest due time, if any item is held.
    var nextDue: UInt64? { heap.first?.due }

    /// Records that `entry` may expire from `due` on.
    mutating func schedule(_ entry: ExpiringEntry, at due: UInt64) {
        heap.append((due, entry))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].due < heap[parent].due else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns every entry due at or before `now` (possibly stale, possibly twice).
    mutating func popDue(atOrBefore now: UInt64) -> [ExpiringEntry] {
        var due: [ExpiringEntry] = []
        while let first = heap.first, first.due <= now {
            due.append(first.entry)
            let last = heap.removeLast()
            guard !heap.isEmpty else { break }
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < heap.count, heap[left].due < heap[smallest].due { smallest = left }
                if right < heap.count, heap[right].due < heap[smallest].due { smallest = right }
                guard smallest != parent else { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return due
    }

    /// Forgets everything (before a rebuild).
    mutating func removeAll() {
        heap.removeAll(keepingCapacity: true)
    }
}
