import TelemedCrypto
import TelemedProtocol

/// Recognises the doctor's REJECTED frame, so a patient can tell a refusal (final) from a
/// dropped connection (worth a retry). The machine itself treats both as "connection lost".
enum RejectedFrame {
    static func matches(_ body: [UInt8], group: TelemedGroup) -> Bool {
        let codec = MessageCodec(groupName: group.name, elementLength: group.elementLength)
        guard let message = try? codec.decode(body) else { return false }
        return message == .rejected
    }
}
