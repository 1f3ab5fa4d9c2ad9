import XCTest
import TelemedCrypto
@testable import TelemedProtocol

/// The bounded tables of R-LIMIT and the block rules of R-SRC / R-BLOCK, on the policy alone.
final class SecurityPolicyTests: XCTestCase {
    func configuration(_ edit: (inout DoctorConfiguration) -> Void) -> DoctorConfiguration {
        var c = DoctorConfiguration()
        c.minimumVersion = .v1
        edit(&c)
        return c
    }

    func source(_ text: String) throws -> SourceAddress { try XCTUnwrapSource(text) }

    func testAFullSourceBlockTableFallsBackToAPrefixBlockThenSaturates() throws {
        let c = configuration { $0.sourceBlockCapacity = 2; $0.failureThreshold = 1 }
        var policy = SecurityPolicy(state: SecurityState(), configuration: c, enrolledPatients: 1)
        _ = policy.countFailure(try source("10.0.0.1"), now: 1_000)
        _ = policy.countFailure(try source("10.0.1.1"), now: 1_000)
        XCTAssertEqual(policy.state.sourceBlocks.count, 2)
        // A third source in 10.0.0.0/24: the /24 replaces 10.0.0.1.
        let (changes, _, until) = policy.countFailure(try source("10.0.0.2"), now: 2_000)
        XCTAssertTrue(changes.contains(.unblocked(.source(try source("10.0.0.1")), reason: .coveredByPrefix)))
        XCTAssertEqual(policy.state.prefixBlocks[try source("10.0.0.2").prefix], until)
        XCTAssertNotNil(policy.sourceBlockExpiry(try source("10.0.0.77"), now: 2_000))
        XCTAssertEqual(until, 2_000 + c.blockDurationMillis, "a prefix block keeps the latest expiry")
        // A source in a new /24 cannot fit anywhere: unauthenticated requests are refused.
        let (_, alerts, none) = policy.countFailure(try source("10.9.9.9"), now: 3_000)
        XCTAssertNil(none)
        XCTAssertEqual(alerts, [.sourceBlockTableSaturated])
        XCTAssertTrue(policy.refusesUnauthenticated)
        // An operator unblock makes room again.
        XCTAssertNotNil(policy.unblock(.source(try source("10.0.1.1"))))
        XCTAssertFalse(policy.refusesUnauthenticated)
    }

    func testAFullFailureTableDoesNotCountButAlerts() throws {
        let c = configuration { $0.failureTableCapacity = 1 }
        var policy = SecurityPolicy(state: SecurityState(), configuration: c, enrolledPatients: 1)
        _ = policy.countFailure(try source("192.0.2.1"), now: 0)
        let (changes, alerts, _) = policy.countFailure(try source("192.0.2.2"), now: 10)
        XCTAssertTrue(changes.isEmpty)
        XCTAssertEqual(alerts, [.failureTableFull(try source("192.0.2.2"))])
        // Once the first entry slides out of its window there is room again.
        let (later, _, _) = policy.countFailure(try source("192.0.2.2"), now: c.failureWindowMillis + 100)
        XCTAssertTrue(later.contains(.failureCounted(try source("192.0.2.2"), at: c.failureWindowMillis + 100)))
    }

    func testTheFailureWindowSlides() throws {
        let c = DoctorConfiguration()
        var policy = SecurityPolicy(state: SecurityState(), configuration: c, enrolledPatients: 1)
        let s = try source("192.0.2.9")
        for minute in 0..<4 { _ = policy.countFailure(s, now: UInt64(minute) * 60_000) }
        // 16 minutes after the first: the first has left the window, so the fifth does not block.
        _ = policy.countFailure(s, now: 16 * 60_000)
        XCTAssertNil(policy.sourceBlockExpiry(s, now: 16 * 60_000))
        // Minutes 1, 2, 3 and 16 are inside the window: one more failure now blocks.
        _ = policy.countFailure(s, now: 16 * 60_000)
        XCTAssertNotNil(policy.sourceBlockExpiry(s, now: 16 * 60_000))
    }

    func testTheDeviceTableEvictsTheBlockClosestToExpiryAndAlertsOnRepeats() throws {
        let c = configuration { $0.deviceBlocksPerPatient = 1 }
        var policy = SecurityPolicy(state: SecurityState(), configuration: c, enrolledPatients: 2)
        let alice = try PeerID("alice"), bob = try PeerID("bob")
        _ = policy.blockDevice(DeviceKey(patient: alice, source: try source("192.0.2.1")), now: 0)
        _ = policy.blockDevice(DeviceKey(patient: bob, source: try source("192.0.2.2")), now: 10)
        let (changes, alerts, _) = policy.blockDevice(DeviceKey(patient: alice, source: try source("192.0.2.3")), now: 20)
        XCTAssertTrue(changes.contains(.unblocked(.device(DeviceKey(patient: alice, source: try source("192.0.2.1"))), reason: .evicted)))
        XCTAssertEqual(policy.state.deviceBlocks.count, 2)
        XCTAssertEqual(alerts, [.repeatedDeviceBlocks(alice, sources: 2)])
    }

    func testBlocksExpireOnTheDoctorsClockAndABackwardStepLengthensThem() throws {
        let c = configuration { $0.failureThreshold = 1 }
        var policy = SecurityPolicy(state: SecurityState(), configuration: c, enrolledPatients: 1)
        let s = try source("192.0.2.5")
        _ = policy.countFailure(s, now: 1_000_000)
        let until = 1_000_000 + c.blockDurationMillis
        XCTAssertEqual(policy.sourceBlockExpiry(s, now: until - 1), until)
        XCTAssertEqual(policy.sourceBlockExpiry(s, now: 0), until, "a clock stepped back still sees the block")
        XCTAssertNil(policy.sourceBlockExpiry(s, now: until))
    }

    func testSourceAddressesNormalise() throws {
        XCTAssertEqual(SourceAddress(ipText: "::ffff:192.0.2.1"), SourceAddress(ipText: "192.0.2.1"))
        XCTAssertEqual(SourceAddress(ipText: "2001:db8:1:2:3:4:5:6"), SourceAddress(ipText: "2001:db8:1:2::9"),
                       "IPv6 sources are /64s")
        XCTAssertNotEqual(SourceAddress(ipText: "2001:db8:1:2::1")?.prefix, SourceAddress(ipText: "2001:db8:2:2::1")?.prefix)
        XCTAssertNil(SourceAddress(ipText: "300.1.1.1"))
        XCTAssertNil(SourceAddress(ipText: "1::2::3"))
        XCTAssertNil(SourceAddress(ipText: "010.0.0.1"), "the one IP parser refuses leading zeros")
    }

    func testConfigurationBoundsAreEnforced() {
        var c = DoctorConfiguration()
        c.minimumVersion = .v1
        c.timeWindowMillis = 301_000
        XCTAssertThrowsError(try c.validated())
        c = DoctorConfiguration()
        c.replayCacheCapacity = 0
        XCTAssertThrowsError(try c.validated())
        XCTAssertNoThrow(try DoctorConfiguration().validated())
    }
}
