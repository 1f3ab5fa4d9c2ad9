import TelemedCrypto
@testable import TelemedProtocol

/// What a patient that has left (its DISCONNECT, a kick) still holds, read from its
/// PatientMachine as it was when it left: GK of its last epoch and its session's k_d2p. Those
/// are the only keys it has; it can record every frame on the wire.
///
/// `firstOpened(in:codec:)` tries exactly those keys on what the doctor sent after the
/// departure, through the production AEAD (`OpeningKey.open`) and the production AAD
/// builders (`AssociatedData.broadcast`, `AssociatedData.groupKey`) fed with the frame's own
/// fields — not through `PatientMachine.frameReceived`, whose epoch check would drop a later
/// broadcast before any key is tried and so hide a doctor that never changed GK.
struct DepartedPatient {
    let identity: PeerID
    let connection: ConnectionID
    let doctorID: PeerID
    /// The epoch of the GK it holds.
    let epoch: UInt64
    let groupKey: GroupKey
    /// Its k_d2p as it held it (with the last GROUP_KEY/DISCONNECT seq it accepted).
    let doctorToPatient: OpeningKey
    /// The doctor's log length when it left: the frames at and after this index came later.
    let leftAt: Int

    /// Nil unless `machine` is active (only an active patient holds a GK).
    init?(_ machine: PatientMachine, connection: ConnectionID, leftAt: Int) {
        guard case let .active(session) = machine.stage else { return nil }
        identity = machine.identity
        self.connection = connection
        doctorID = machine.doctorID
        epoch = session.epoch
        groupKey = session.groupKey
        doctorToPatient = session.keyed.receiving
        self.leftAt = leftAt
    }

    /// The first frame sent after the departure that opens under a key it holds, described;
    /// nil when none does.
    ///
    /// - An ENC_MSG goes to every member, so the departed patient can record each one: it
    ///   must not open under the old GK.
    /// - A GROUP_KEY is sealed under its recipient's k_d2p, which only that recipient holds;
    ///   the one a departed patient could open is one still addressed to its own connection,
    ///   under its own k_d2p and with its own id in the AAD.
    func firstOpened(in log: [DoctorAction], codec: MessageCodec) -> String? {
        guard leftAt < log.count else { return nil }
        for (index, action) in log[leftAt...].enumerated() {
            guard case let .send(recipient, body) = action, let message = try? codec.decode(body) else { continue }
            switch message {
            case let .encMsg(broadcast):
                let aad = AssociatedData.broadcast(idGWN: doctorID, epoch: broadcast.epoch, seq: broadcast.seq,
                                                   ts: broadcast.ts)
                var key = OpeningKey(groupKey)
                if (try? key.open(broadcast.ct, seq: broadcast.seq, aad: aad)) != nil {
                    return "\(identity) (left on epoch \(epoch)) opened the broadcast (epoch \(broadcast.epoch), seq "
                        + "\(broadcast.seq)) sent \(index) actions after it left, with its old GK"
                }
            case let .groupKey(groupKey) where recipient == connection:
                let aad = AssociatedData.groupKey(idGWN: doctorID, idI: identity, epoch: groupKey.epoch,
                                                  seq: groupKey.seq, members: groupKey.members)
                var key = doctorToPatient
                if (try? key.open(groupKey.ct, seq: groupKey.seq, aad: aad)) != nil {
                    return "\(identity) (left on epoch \(epoch)) opened the GROUP_KEY of epoch \(groupKey.epoch) "
                        + "sent to its old connection \(index) actions after it left, with its k_d2p"
                }
            default:
                continue
            }
        }
        return nil
    }
}
