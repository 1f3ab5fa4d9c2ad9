import Foundation
import Logging
import TelemedCrypto
import TelemedNode
import TelemedProtocol
import TelemedTransport
import XCTest

/// `PatientService.run()`: what ends a run (the first end, not a later leave) and the bounded
/// retries of a refused login, against a real doctor over TCP where the doctor can produce the
/// situation, and against a scripted fake doctor where it cannot (a malformed answer).
final class PatientServiceTests: XCTestCase {
    /// Fast refusal retries for tests: 20, 40, 80 ms, no jitter.
    static let quickRefusals = ReconnectPolicy(
        initialDelayMillis: 20, maximumDelayMillis: 100,
        refusals: RefusalRetryPolicy(retries: 3, windowMillis: 60_000, initialDelayMillis: 20,
                                     maximumDelayMillis: 1_000, jitterPercent: 0))

    // MARK: - Issue 11 item 6: the first end decides the outcome

    /// The doctor answers KEY_VERIFICATION with a malformed frame: the session ends in a
    /// protocol violation (R-FRAME). A leave (SIGTERM in the `patient` executable) comes after
    /// that end but before the run has returned. The outcome is the violation, not `.left`.
    func testAViolationFollowedByALeaveEndsAsTheViolation() async throws {
        let transport = ScriptedDoctorTransport { _ in Array("{".utf8) }
        let box = ServiceBox()
        let leftAfterTheEnd = Recorder<Bool>()
        let service = PatientService(
            credential: TestKeys.credential("alice"), transport: transport,
            connect: {
                let id = transport.open()
                // The run is suspended in this connect: the patient handles the fake doctor's
                // answer meanwhile and closes on it. Then the leave request comes, before the
                // run has looked at how the session ended.
                let closed = await eventually { transport.closed.contains(id) }
                leftAfterTheEnd.append(closed)
                await box.service?.leave()
                return id
            },
            reconnect: Self.quickRefusals, logger: TestLog.logger("test.alice"), observer: { _ in })
        box.service = service
        let outcome = await service.run()
        transport.shutdown()
        XCTAssertEqual(leftAfterTheEnd.all, [true], "the leave came after the patient closed")
        guard case .protocolViolation(.frame, _) = outcome else {
            return XCTFail("expected the R-FRAME violation, got \(outcome)")
        }
        XCTAssertEqual(transport.sent.count, 1, "KEY_VERIFICATION only: no DISCONNECT after the end")
    }

    /// A leave while a refusal's retry is pending ends the run as `.left`: the leave, not the
    /// refusal, is what ended it (a retry was due). The backoff does not delay it.
    func testALeaveDuringARefusalBackoffEndsAsLeft() async throws {
        let rejected = MessageCodec(groupName: TestKeys.group.name, elementLength: TestKeys.group.elementLength)
            .encode(.rejected)
        let transport = ScriptedDoctorTransport { _ in rejected }
        let box = ServiceBox()
        let events = Recorder<PatientServiceEvent>()
        let slow = ReconnectPolicy(refusals: RefusalRetryPolicy(retries: 3, initialDelayMillis: 60_000, jitterPercent: 0))
        let service = PatientService(
            credential: TestKeys.credential("alice"), transport: transport,
            connect: { transport.open() }, reconnect: slow, logger: TestLog.logger("test.alice"),
            observer: { event in
                events.append(event)
                if case .refused = event { Task { await box.service?.leave() } }
            })
        box.service = service
        let started = Date()
        let outcome = await service.run()
        transport.shutdown()
        XCTAssertEqual(outcome, .left)
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "the leave cut the 60 s backoff short")
        XCTAssertEqual(events.all.filter { if case .connecting = $0 { return true }; return false }.count, 1)
        XCTAssertTrue(events.all.contains(.refused(retryAfterMillis: 60_000, attempt: 1, of: 3)))
    }

    // MARK: - Refused logins, against a live doctor over TCP

    /// A patient whose clock lags the doctor's by two minutes is refused (R-TIME/R-START) on
    /// every attempt: it retries exactly three times, says so each time, then gives up with
    /// `.rejected`. The doctor saw exactly four requests, all refused for time.
    func testARefusedLoginIsRetriedThreeTimesThenGivesUp() async throws {
        let cluster = try await TCPCluster(enrolling: ["alice"])
        cluster.startPatient("alice", clock: LaggingClock(lagMillis: 120_000), reconnect: Self.quickRefusals)
        let run = try XCTUnwrap(cluster.runs["alice"])
        let outcome = await run.value
        XCTAssertEqual(outcome, .rejected)

        let events = cluster.serviceEvents("alice")
        XCTAssertEqual(events.compactMap { if case let .connecting(_, _, attempt) = $0 { return attempt }; return nil },
                       [1, 2, 3, 4], "every service event: \(events)")
        XCTAssertEqual(events.filter { if case .refused = $0 { return true }; return false },
                       [.refused(retryAfterMillis: 20, attempt: 1, of: 3),
                        .refused(retryAfterMillis: 40, attempt: 2, of: 3),
                        .refused(retryAfterMillis: 80, attempt: 3, of: 3)])
        XCTAssertEqual(events.last, .refusedGivingUp(times: 4, windowMillis: 60_000))
        XCTAssertEqual(cluster.sessionEvents("alice").filter { if case .ended = $0 { return true }; return false },
                       Array(repeating: .ended(.connectionLost(.refusedByDoctor)), count: 4))

        let refusedForTime = await eventually { Self.rejections(cluster).count == 4 }
        XCTAssertTrue(refusedForTime, "\(Self.rejections(cluster))")
        XCTAssertTrue(Self.rejections(cluster).allSatisfy { $0 == .time || $0 == .start }, "\(Self.rejections(cluster))")
        await cluster.shutdown()
    }

    /// The same lagging patient, whose clock is corrected after the first refusal (as after a
    /// doctor restart once the patient's clock passes T0): the retry is accepted and it joins.
    func testARefusedLoginThatIsAcceptedOnRetryJoins() async throws {
        let cluster = try await TCPCluster(enrolling: ["alice"])
        let clock = LaggingClock(lagMillis: 120_000)
        cluster.startPatient("alice", clock: clock, reconnect: Self.quickRefusals, observe: { event in
            if case .refused = event { clock.setLag(millis: 0) }
        })
        let joined = await eventually { cluster.sessionEvents("alice").contains { if case .authenticated = $0 { return true }; return false } }
        XCTAssertTrue(joined, "\(cluster.serviceEvents("alice"))")

        let events = cluster.serviceEvents("alice")
        let kinds = events.map { event -> String in
            switch event {
            case let .connecting(_, _, attempt): return "connecting \(attempt)"
            case let .refused(after, attempt, retries): return "refused \(after) \(attempt)/\(retries)"
            case .session(.ended(.connectionLost(.refusedByDoctor))): return "ended refused"
            case .session(.authenticated): return "authenticated"
            default: return "other"
            }
        }
        XCTAssertEqual(kinds, ["connecting 1", "ended refused", "refused 20 1/3", "connecting 2", "authenticated"])
        XCTAssertEqual(Self.rejections(cluster).count, 1)

        let service = try XCTUnwrap(cluster.patients["alice"])
        await service.leave()
        let outcome = await cluster.runs["alice"]?.value
        XCTAssertEqual(outcome, .left)
        await cluster.shutdown()
    }

    static func rejections(_ cluster: TCPCluster) -> [RuleID] {
        cluster.doctorEvents.all.compactMap {
            if case let .rejected(_, _, rule, _, _) = $0 { return rule }
            return nil
        }
    }
}

/// Lets a `connect` or observer closure reach the service it belongs to.
final class ServiceBox: @unchecked Sendable {
    var service: PatientService?
}
