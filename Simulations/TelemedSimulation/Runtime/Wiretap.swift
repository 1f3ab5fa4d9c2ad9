import TelemedCrypto
import TelemedProtocol
import TelemedTransport

typealias WireConnection = TelemedTransport.ConnectionID

// MARK: - Flow

/// One connection between a client (a patient session or an attacker) and the doctor, with
/// what the harness recovered from its traffic.
final class Flow {
    /// Who opened it.
    enum Owner {
        case patient(String)
        case attacker(name: String, label: String)
    }

    let client: WireConnection
    let server: WireConnection
    let clientAddress: PeerAddress
    let owner: Owner
    /// The doctor run the connection was opened to (a restart resets every earlier one).
    let run: Int

    // Recovered from the wire with the keys the harness holds.
    var requestElement: [UInt8]?
    var request: KeyVerification?
    /// The KEY_VERIFICATION on this flow verified under the enrolled key of its claimed id.
    var verifiedRequestFor: PeerID?
    var token: SessionToken?
    var tokenElement: [UInt8]?
    var trafficKeys: KeySchedule.TrafficKeys?
    /// The doctor has sent a SESSION_TOKEN on this flow; then a GROUP_KEY (PROTOCOL.md §7.1:
    /// nothing but GROUP_KEY or REJECTED may come between).
    var sawSessionToken = false
    var sawGroupKey = false
    /// Version 2, the thief's view (PROTOCOL.md §8.8 attack 30): the request and answer as
    /// recorded on this flow.
    var requestV2: KeyVerificationV2?
    var tokenV2: SessionTokenV2?
    /// The patient id the session's answer names (either version): the GROUP_KEY's AAD.
    var sessionPatient: PeerID?
    /// The randomness the patient device of this flow drew, recorded for the insider route to
    /// a, and the key the device signs with (DrawRecorder.swift). Nil for attacker flows.
    var patientDraws: DrawLog?
    var deviceKey: PrivateKey?
    /// Decryptions of this flow's frames the harness has queued but not applied yet.
    var recoveriesQueued = 0
    /// Where the wiretap recorded this flow's KEY_VERIFICATION frames towards the doctor (indices
    /// into ``Wiretap/frames``, in order): the invariant that a member's session rests on a
    /// verified request reads these instead of rescanning the whole wiretap for every member.
    /// Indices, not frames, since a frame refers to its flow.
    var requestFrames: [Int] = []

    init(client: WireConnection, server: WireConnection, clientAddress: PeerAddress, owner: Owner, run: Int) {
        self.client = client
        self.server = server
        self.clientAddress = clientAddress
        self.owner = owner
        self.run = run
    }

    /// The patient id or the attacker connection label.
    var name: String {
        switch owner {
        case let .patient(id): return id
        case let .attacker(_, label): return label
        }
    }

    /// The patient id, for a patient session.
    var patientID: String? {
        if case let .patient(id) = owner { return id }
        return nil
    }

    /// The attacker's name, for an attacker connection.
    var attackerName: String? {
        if case let .attacker(name, _) = owner { return name }
        return nil
    }
}

// MARK: - WireFrame

/// One frame put on the wire, as sent (before any tampering on the path).
struct WireFrame {
    let delivery: DeliveryID
    let time: UInt64
    let flow: Flow
    let towardsDoctor: Bool
    let opcode: Opcode?
    let body: [UInt8]

    /// `alice`, `eve#1`, or `doctor`.
    var sender: String { towardsDoctor ? flow.name : "doctor" }
    /// The other end.
    var receiver: String { towardsDoctor ? "doctor" : flow.name }
}

// MARK: - Wiretap

/// Every frame the network carried, in order, bounded.
struct Wiretap {
    private(set) var frames: [WireFrame] = []
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Records a frame; false when the log is full. A KEY_VERIFICATION towards the doctor is
    /// also indexed on its flow (``Flow/requestFrames``).
    mutating func record(_ frame: WireFrame) -> Bool {
        guard frames.count < capacity else { return false }
        if frame.towardsDoctor, frame.opcode == .keyVerification || frame.opcode == .keyVerificationV2 { frame.flow.requestFrames.append(frames.count) }
        frames.append(frame)
        return true
    }

    /// The frame a capture reference names.
    func find(_ ref: CaptureRef, doctorID: String) -> WireFrame? {
        let fromDoctor = ref.sender == "doctor" || ref.sender == doctorID
        let matches = frames.filter { frame in
            guard frame.opcode == ref.opcode else { return false }
            if fromDoctor {
                guard !frame.towardsDoctor else { return false }
                if let to = ref.to { return frame.flow.name == to || frame.flow.attackerName == to }
                return true
            }
            return frame.towardsDoctor && (frame.flow.name == ref.sender || frame.flow.attackerName == ref.sender)
        }
        let index = ref.nth >= 0 ? ref.nth : matches.count + ref.nth
        guard index >= 0, index < matches.count else { return nil }
        return matches[index]
    }

    /// Reads the opcode of a body without trusting it (nil for anything but a JSON object
    /// with a small integer `opcode`).
    static func opcode(of body: [UInt8]) -> Opcode? {
        // Fast path: the codec writes `{"opcode":NN,` first.
        let prefix = Array("{\"opcode\":".utf8)
        if body.count > prefix.count + 2, body.starts(with: prefix) {
            var value = 0
            var index = prefix.count
            while index < body.count, index < prefix.count + 3, body[index] >= 0x30, body[index] <= 0x39 {
                value = value * 10 + Int(body[index] - 0x30)
                index += 1
            }
            if index > prefix.count, index < body.count, body[index] == UInt8(ascii: ",") || body[index] == UInt8(ascii: "}") {
                return value <= 255 ? Opcode(rawValue: UInt8(value)) : nil
            }
        }
        guard let value = try? StrictJSONParser.parseDocument(body), case let .number(number)? = value["opcode"],
              case let .integer(opcode) = number.kind, opcode <= 255 else {
            return nil
        }
        return Opcode(rawValue: UInt8(opcode))
    }
}
