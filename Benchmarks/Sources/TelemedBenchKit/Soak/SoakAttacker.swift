// The soak's attackers: blocking threads, each speaking raw TCP from its own loopback source
// addresses (127.0.X.Y, never 127.0.0.1), moving to a fresh address every few attempts so the
// R-SRC blocks keep happening. Every attempt is one of the kinds below, drawn from a seeded
// schedule; the attacker records what it saw, and anything but a refusal to a forged request
// is an anomaly that fails the run.

import Foundation
@_spi(Testing) import TelemedCrypto
import TelemedNode
import TelemedProtocol

/// The kinds of attempt.
enum AttackKind: String, CaseIterable {
    /// A KEY_VERIFICATION for an honest id signed with the wrong key (R-SIG).
    case badSignature = "bad-signature"
    /// A KEY_VERIFICATION for an id nobody enrolled (R-ID).
    case unknownID = "unknown-id"
    /// An honest patient's captured KEY_VERIFICATION sent again (R-REPLAY, or R-TIME once stale).
    case replay
    /// Random bytes as the first frame (R-FRAME).
    case garbage
    /// A length prefix over 64 KiB (R-FRAME, the body is never read).
    case oversize
    /// A length prefix of zero (R-FRAME).
    case emptyFrame = "empty-frame"
    /// Connect and say nothing (the transport's handshake timeout).
    case halfOpenSilent = "half-open-silent"
    /// A frame that never completes (the frame timeout).
    case halfOpenPartial = "half-open-partial"
    /// An attacker-owned enrolled id completes KEY_VERIFICATION, then sends a wrong SKV (R-SKV:
    /// device block of that attacker device).
    case wrongSKV = "wrong-skv"

    var weight: Int {
        switch self {
        case .badSignature: 3
        case .unknownID, .replay, .garbage: 2
        case .oversize, .emptyFrame, .halfOpenSilent, .halfOpenPartial, .wrongSKV: 1
        }
    }

    static func draw(using rng: inout ScheduleRandom) -> AttackKind {
        let total = allCases.reduce(0) { $0 + $1.weight }
        var pick = Int.random(in: 0..<total, using: &rng)
        for kind in allCases {
            if pick < kind.weight { return kind }
            pick -= kind.weight
        }
        return .garbage
    }
}

/// State shared by the attackers and the honest patients of the load process.
final class AttackBoard: @unchecked Sendable {
    private let lock = NSLock()
    private var nextAddress = 0
    private var addresses: [String] = []
    private var captured: [[UInt8]] = []
    private var attempts: [String: Int] = [:]
    private var outcomes: [String: Int] = [:]
    private var anomalies: [String] = []
    private var wrongSKV = 0
    private var replays = 0
    private var busy = 0

    func freshAddress() -> String {
        lock.lock()
        defer { lock.unlock() }
        let address = SoakOptions.attackerAddress(nextAddress)
        nextAddress += 1
        addresses.append(address)
        return address
    }

    /// An honest KEY_VERIFICATION whose session authenticated (so replaying it cannot race it).
    func capture(_ frame: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        captured.append(frame)
        if captured.count > 64 { captured.removeFirst(captured.count - 64) }
    }

    func capturedFrame(using rng: inout ScheduleRandom) -> [UInt8]? {
        lock.lock()
        defer { lock.unlock() }
        return captured.isEmpty ? nil : captured[Int.random(in: 0..<captured.count, using: &rng)]
    }

    func record(_ kind: AttackKind, _ outcome: String, anomaly: String? = nil) {
        lock.lock()
        defer { lock.unlock() }
        attempts[kind.rawValue, default: 0] += 1
        outcomes["\(kind.rawValue): \(outcome)", default: 0] += 1
        if let anomaly, anomalies.count < 100 { anomalies.append(anomaly) }
        if kind == .wrongSKV && outcome == "token, then REJECTED" { wrongSKV += 1 }
        if kind == .replay { replays += 1 }
    }

    func setBusy(_ delta: Int) {
        lock.lock()
        busy += delta
        lock.unlock()
    }

    var busyCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return busy
    }

    func fill(_ report: inout SoakLoadReport) {
        lock.lock()
        defer { lock.unlock() }
        report.attempts = attempts
        report.outcomes = outcomes
        report.anomalies = anomalies
        report.attackerAddresses = addresses
        report.wrongSKVAttempts = wrongSKV
        report.replays = replays
    }
}

/// One attacker thread's loop.
final class SoakAttacker: @unchecked Sendable {
    private let index: Int
    private let options: SoakOptions
    private let keys: SoakKeys
    private let port: Int
    private let board: AttackBoard
    private let stopping: @Sendable () -> Bool
    private var rng: ScheduleRandom
    private var cryptoRandom: SeededRandom
    private let forgeryKey: PrivateKey
    private let codec: MessageCodec
    private var halfOpen: [(connection: RawConnection, opened: UInt64)] = []

    init(index: Int, options: SoakOptions, keys: SoakKeys, port: Int, board: AttackBoard,
         stopping: @escaping @Sendable () -> Bool) {
        self.index = index
        self.options = options
        self.keys = keys
        self.port = port
        self.board = board
        self.stopping = stopping
        rng = ScheduleRandom(seed: options.seed, stream: 1_000_000 + UInt64(index))
        cryptoRandom = SeededRandom(seed: Array("telemed-soak attacker \(options.seed) \(index)".utf8))
        forgeryKey = PrivateKey(generatingIn: keys.group, using: &cryptoRandom)
        codec = MessageCodec(groupName: keys.group.name, elementLength: keys.group.elementLength)
    }

    /// Runs until `stopping()` turns true; returns when every half-open socket is closed.
    func run() {
        var address = board.freshAddress()
        var used = 0
        var attempt = 0
        while !stopping() {
            if used >= options.attemptsPerAddress {
                address = board.freshAddress()
                used = 0
            }
            used += 1
            attempt += 1
            let kind = AttackKind.draw(using: &rng)
            board.setBusy(1)
            perform(kind, from: address, attempt: attempt)
            board.setBusy(-1)
            sweepHalfOpen(force: false)
            let pause = Int.random(in: options.attackPauseMillis, using: &rng)
            Thread.sleep(forTimeInterval: Double(pause) / 1_000)
        }
        sweepHalfOpen(force: true)
    }

    private func sweepHalfOpen(force: Bool) {
        let now = monotonicNanoseconds()
        halfOpen.removeAll { entry in
            if force || entry.connection.peerClosed || now - entry.opened > 15_000_000_000 {
                entry.connection.close()
                return true
            }
            return false
        }
    }

    // MARK: - Attempts

    private func perform(_ kind: AttackKind, from address: String, attempt: Int) {
        guard let connection = RawConnection.open(from: address, port: port, readTimeoutSeconds: 15) else {
            board.record(kind, "connect failed")
            return
        }
        switch kind {
        case .badSignature:
            let victim = Int.random(in: 0..<max(1, options.patients), using: &rng)
            guard let frame = request(id: "p\(victim)", key: forgeryKey) else { return }
            connection.writeFrame(frame)
            expectRefusal(kind, connection)
        case .unknownID:
            guard let frame = request(id: "intruder\(index)-\(attempt)", key: forgeryKey) else { return }
            connection.writeFrame(frame)
            expectRefusal(kind, connection)
        case .replay:
            guard let frame = board.capturedFrame(using: &rng) else {
                board.record(kind, "nothing captured yet")
                return
            }
            connection.writeFrame(frame)
            expectRefusal(kind, connection)
        case .garbage:
            let length = Int.random(in: 1...400, using: &rng)
            connection.writeFrame((0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) })
            expectRefusal(kind, connection)
        case .oversize:
            connection.write([0x00, 0x01, 0x00, 0x01, 0x7B])
            expectRefusal(kind, connection)
        case .emptyFrame:
            connection.write([0, 0, 0, 0])
            expectRefusal(kind, connection)
        case .halfOpenSilent:
            halfOpen.append((connection, monotonicNanoseconds()))
            board.record(kind, "held open")
        case .halfOpenPartial:
            connection.write([0x00, 0x00, 0x00, 0xC8] + [UInt8](repeating: 0x7B, count: 20))
            halfOpen.append((connection, monotonicNanoseconds()))
            board.record(kind, "held open")
        case .wrongSKV:
            wrongSKV(connection)
        }
    }

    /// A KEY_VERIFICATION for `id` signed with `key` (valid in form; the signature verifies only
    /// when `key` is the enrolled key of `id`).
    private func request(id: String, key: PrivateKey) -> [UInt8]? {
        guard let identity = try? PeerID(id),
              var machine = try? PatientMachine(configuration: PatientConfiguration(), identity: identity, privateKey: key,
                                                doctorID: keys.doctorID, doctorKey: keys.doctorKey.publicKey)
        else { return nil }
        return firstSend(machine.connected(now: SystemClock().now(), using: &cryptoRandom))
    }

    private func firstSend(_ actions: [PatientAction]) -> [UInt8]? {
        for action in actions {
            if case let .send(body) = action { return body }
        }
        return nil
    }

    /// Reads until the doctor closes: a REJECTED (or nothing) then end of stream is the only
    /// acceptable answer.
    private func expectRefusal(_ kind: AttackKind, _ connection: RawConnection) {
        var sawRejected = false
        while true {
            switch connection.readFrame() {
            case let .frame(body):
                if case .rejected? = try? codec.decode(body) {
                    sawRejected = true
                    continue
                }
                board.record(kind, "ANSWERED", anomaly: "\(kind.rawValue): the doctor answered a forged request "
                             + "with a \(body.count)-byte frame other than REJECTED")
                connection.close()
                return
            case .closed:
                board.record(kind, sawRejected ? "REJECTED" : "closed")
                return
            case .timedOut:
                board.record(kind, "no answer within 15 s")
                return
            }
        }
    }

    /// An attacker device that holds the key of an attacker-owned id: a valid handshake up to
    /// KEY_CONFIRMATION, whose SKV is then corrupted.
    private func wrongSKV(_ connection: RawConnection) {
        let which = Int.random(in: 0..<SoakOptions.attackerOwnedIDs.count, using: &rng)
        guard let identity = try? PeerID(SoakOptions.attackerOwnedIDs[which]),
              var machine = try? PatientMachine(configuration: PatientConfiguration(), identity: identity,
                                                privateKey: keys.attackerOwned[which], doctorID: keys.doctorID,
                                                doctorKey: keys.doctorKey.publicKey),
              let request = firstSend(machine.connected(now: SystemClock().now(), using: &cryptoRandom))
        else { return }
        connection.writeFrame(request)
        guard case let .frame(token) = connection.readFrame() else {
            board.record(.wrongSKV, "no token")
            return
        }
        if case .rejected? = try? codec.decode(token) {
            // A blocked source or device: the doctor refused before answering.
            board.record(.wrongSKV, "REJECTED before any token")
            return
        }
        guard let confirmation = firstSend(machine.frameReceived(token, now: SystemClock().now(), using: &cryptoRandom)),
              case let .keyConfirmation(valid)? = try? codec.decode(confirmation),
              let corrupted = try? Bytes32(valid.skv.bytes.enumerated().map { $0.offset == 0 ? $0.element ^ 0x01 : $0.element })
        else {
            board.record(.wrongSKV, "token did not verify", anomaly: "wrong-skv: the doctor's SESSION_TOKEN did not verify")
            return
        }
        connection.writeFrame(codec.encode(.keyConfirmation(KeyConfirmation(idI: valid.idI, ts: valid.ts, skv: corrupted))))
        switch connection.readFrame() {
        case let .frame(body):
            if case .rejected? = try? codec.decode(body) {
                board.record(.wrongSKV, "token, then REJECTED")
            } else {
                board.record(.wrongSKV, "ANSWERED", anomaly: "wrong-skv: a wrong SKV was answered with a frame other than REJECTED")
            }
        case .closed:
            board.record(.wrongSKV, "token, then closed")
        case .timedOut:
            board.record(.wrongSKV, "token, then no answer within 15 s")
        }
    }
}
