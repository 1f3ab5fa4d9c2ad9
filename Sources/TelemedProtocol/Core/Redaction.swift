// R-NOLEAK: the machines and the key-schedule values hold secrets (private keys, K, SK, GK,
// traffic keys). None of them prints or mirrors its stored properties: `print`, `dump`,
// string interpolation and debuggers that go through `Mirror` see only a summary.

import TelemedCrypto

extension DoctorMachine: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "DoctorMachine(\(identity), \(group.name), epoch \(epoch), \(members.count) active, \(pendingHandshakes) pending)"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension PatientMachine: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "PatientMachine(\(identity) → \(doctorID), \(group.name), epoch \(epoch), active \(isActive))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension KeySchedule.HandshakeTranscript: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "HandshakeTranscript(\(idI) ↔ \(idGWN), redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension KeySchedule.TrafficKeys: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "TrafficKeys(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
