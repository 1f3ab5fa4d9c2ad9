import TelemedProtocol

// MARK: - Operator commands

extension DoctorNode {
    /// Seals, signs and sends `text` to every member.
    public func broadcast(_ text: String) throws(DoctorCommandError) {
        let now = clock.now()
        apply(try machine.broadcast(text, now: now, using: &rng), now: now)
    }

    /// Disconnects one member ("kicked") and rekeys the rest.
    public func kick(_ patient: PeerID) throws(DoctorCommandError) {
        let now = clock.now()
        apply(try machine.kick(patient, now: now, using: &rng), now: now)
    }

    /// Starts a new epoch with the same members.
    public func rekey() throws(DoctorCommandError) {
        let now = clock.now()
        let actions = try machine.rekey(now: now, using: &rng)
        writeAudit([AuditRow(wall: now.wall, kind: .rekey, detail: "operator rekey")])
        apply(actions, now: now)
    }

    /// Lifts a block by hand (audited and recorded in the store). `target` is one of:
    /// an IP address (its source block, or the prefix block covering it), a prefix written
    /// `a.b.c.0/24` or `x:x:x::/48`, a device `id@ip`, or a patient id (all of its device blocks).
    public func unblock(_ target: String) throws(DoctorCommandError) {
        let now = clock.now()
        apply(try machine.unblockTarget(target), now: now)
    }

    /// Disconnects every member ("shutdown", ascending id order, no new epoch) and rejects
    /// every pending handshake.
    public func disconnectAll() {
        let now = clock.now()
        apply(machine.disconnectAll(now: now), now: now)
    }

    /// Records the doctor's stop in the audit log (the host calls it once, at shutdown).
    public func recordStop(_ detail: String) {
        writeAudit([AuditRow(wall: clock.now().wall, kind: .stop, detail: detail)])
    }

    // MARK: - Introspection for the console

    /// The blocks in force at the doctor's wall clock now (``DoctorMachine/activeBlocks(at:)``).
    public func activeBlocks() -> [DoctorMachine.BlockInForce] {
        machine.activeBlocks(at: clock.now().wall)
    }
}

extension DoctorMachine {
    /// Resolves operator text to block targets and lifts them.
    mutating func unblockTarget(_ text: String) throws(DoctorCommandError) -> [DoctorAction] {
        let trimmed = text.trimmingWhitespace
        if let source = SourceAddress(ipText: trimmed) {
            return try unblock(.source(source))
        }
        if let prefix = SourcePrefix(operatorText: trimmed) {
            return try unblock(.prefix(prefix))
        }
        if let at = trimmed.lastIndex(of: "@"),
           let id = try? PeerID(String(trimmed[..<at])),
           let source = SourceAddress(ipText: String(trimmed[trimmed.index(after: at)...])) {
            return try unblock(.device(DeviceKey(patient: id, source: source)))
        }
        guard let id = try? PeerID(trimmed) else { throw .noSuchBlock(String(trimmed.prefix(80))) }
        return try unblockDevices(of: id)
    }
}

extension SourcePrefix {
    /// Parses `a.b.c.0/24` or an IPv6 address text followed by `/48`.
    init?(operatorText text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let source = SourceAddress(ipText: String(parts[0])) else { return nil }
        guard (source.isIPv4 && parts[1] == "24") || (!source.isIPv4 && parts[1] == "48") else { return nil }
        self = source.prefix
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and newlines.
    var trimmingWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
