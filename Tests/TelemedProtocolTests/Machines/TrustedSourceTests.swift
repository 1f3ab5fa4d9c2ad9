import XCTest
@_spi(Testing) import TelemedCrypto
@testable import TelemedProtocol
import struct TelemedTransport.IPAddress

/// Trusted sources (``DoctorConfiguration/trustedSources``; the "Trusted sources" section of
/// SecurityRules.md), driven through the doctor machine's inputs (`DoctorMachine.connectionAccepted`
/// and `frameReceived`, via the harness): their unauthenticated failures are not counted, no
/// source or prefix block refuses them, a saturated block table does not refuse them, and R-SKV
/// device blocks still do.
final class TrustedSourceTests: XCTestCase {
    let crafter = Crafter()

    func trusted(_ text: String, _ length: Int? = nil) throws -> TrustedSource {
        let ip = try XCTUnwrap(IPAddress(text))
        return try TrustedSource(addressBytes: ip.bytes, prefixLength: length)
    }

    func configuration(trusting entries: [TrustedSource], _ edit: (inout DoctorConfiguration) -> Void = { _ in })
        -> DoctorConfiguration {
        var c = Harness.immediateEpochs
        c.trustedSources = entries
        edit(&c)
        return c
    }

    func attempt(_ h: inout Harness, _ body: [UInt8], from source: String) throws {
        let connection = try h.openRaw(from: source)
        h.inject(body, on: connection)
    }

    /// `DoctorMachine.frameReceived`: malformed first frames from a trusted /24 are refused
    /// (R-FRAME) but never counted, so the source is never blocked and its patients still log in;
    /// the same frames from an untrusted source block it after the threshold.
    func testFailuresOfATrustedSourceAreNotCountedAndDoNotBlock() throws {
        var h = try Harness(patients: ["alice"], configuration: configuration(trusting: [try trusted("10.1.2.0", 24)]))
        for _ in 0..<20 { try attempt(&h, Array("not json".utf8), from: "10.1.2.3") }
        XCTAssertEqual(h.rejections.map(\.rule), Array(repeating: .frame, count: 20))
        let clinic = try XCTUnwrapSource("10.1.2.3")
        XCTAssertNil(h.doctor.securityState.failures[clinic], "a trusted source's failures are not recorded")
        XCTAssertNil(h.doctor.sourceBlock(clinic, at: h.now.wall))
        XCTAssertTrue(h.doctor.activeBlocks(at: h.now.wall).isEmpty)
        let a = try h.connect("alice", from: "10.1.2.3")
        h.pump()
        XCTAssertEqual(h.patients[a]?.isActive, true)

        // Just outside the trusted /24: counted and blocked as always.
        for _ in 0..<5 { try attempt(&h, Array("not json".utf8), from: "10.1.3.3") }
        XCTAssertNotNil(h.doctor.sourceBlock(try XCTUnwrapSource("10.1.3.3"), at: h.now.wall))
    }

    /// `DoctorMachine.init(…restoring:)` and `connectionAccepted`: a source block recorded before
    /// the source was trusted, and a prefix block earned by untrusted neighbours, stay in the table
    /// (and in `activeBlocks`) but refuse no trusted source; untrusted neighbours stay refused.
    func testExistingSourceAndPrefixBlocksDoNotRefuseATrustedSource() throws {
        let start: UInt64 = 1_764_000_000_000
        var state = SecurityState()
        let loopback = try XCTUnwrapSource("127.0.0.1")
        let neighbour = try XCTUnwrapSource("192.0.2.50")
        state.sourceBlocks[loopback] = start + 3_600_000
        state.prefixBlocks[neighbour.prefix] = start + 3_600_000
        let c = configuration(trusting: [try trusted("127.0.0.1"), try trusted("192.0.2.7")])
        var h = try Harness(patients: ["alice", "bob"], configuration: c, state: state, start: start)
        XCTAssertEqual(h.doctor.activeBlocks(at: h.now.wall).count, 2, "the blocks stay recorded")

        let a = try h.connect("alice", from: "127.0.0.1")
        h.pump()
        XCTAssertEqual(h.patients[a]?.isActive, true)
        let b = try h.connect("bob", from: "192.0.2.7")
        h.pump()
        XCTAssertEqual(h.patients[b]?.isActive, true, "a trusted address inside a blocked /24 is admitted")
        _ = try h.connect("bob", from: "192.0.2.8")
        h.pump()
        XCTAssertEqual(h.rejections.last?.rule, .block, "its untrusted neighbours stay blocked")
    }

    /// `DoctorMachine.frameReceived` (KEY_CONFIRMATION): a wrong SKV from a trusted source still
    /// blocks the device (id, source) under R-SKV, and that block refuses the next login.
    func testDeviceBlocksStillApplyToATrustedSource() throws {
        var h = try Harness(patients: ["alice"], configuration: configuration(trusting: [try trusted("192.0.2.0", 24)]))
        h.hook = { flight in
            guard flight.direction == .toDoctor, case let .keyConfirmation(kc)? = Crafter().decode(flight.body) else {
                return .deliver
            }
            var skv = kc.skv.bytes
            skv[0] ^= 1
            return .replace(Crafter().codec.encode(.keyConfirmation(KeyConfirmation(idI: kc.idI, ts: kc.ts, skv: .unchecked(skv)))))
        }
        _ = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        XCTAssertEqual(h.rejections.last?.rule, .skv)
        let device = DeviceKey(patient: try PeerID("alice"), source: try XCTUnwrapSource("192.0.2.1"))
        XCTAssertNotNil(h.doctor.deviceBlock(device, at: h.now.wall))
        h.hook = nil
        _ = try h.connect("alice", from: "192.0.2.1")
        h.pump()
        XCTAssertEqual(h.rejections.last?.rule, .block)
    }

    /// `DoctorMachine.connectionAccepted`: once the source-block table is saturated, untrusted
    /// sources are refused (R-LIMIT) but a trusted one still reaches authentication.
    func testASaturatedBlockTableDoesNotRefuseATrustedSource() throws {
        let c = configuration(trusting: [try trusted("10.9.0.0", 16)]) {
            $0.sourceBlockCapacity = 1
            $0.failureThreshold = 1
        }
        var h = try Harness(patients: ["alice"], configuration: c)
        try attempt(&h, Array("not json".utf8), from: "198.51.100.1")
        try attempt(&h, Array("not json".utf8), from: "203.0.113.1")
        XCTAssertTrue(h.doctor.refusesUnauthenticated)
        _ = try h.openRaw(from: "198.18.0.1")
        XCTAssertEqual(h.rejections.last?.rule, .limit)
        let a = try h.connect("alice", from: "10.9.4.4")
        h.pump()
        XCTAssertEqual(h.patients[a]?.isActive, true)
    }

    /// ``TrustedSource/init(addressBytes:prefixLength:)`` and ``TrustedSource/contains(_:)``.
    func testTrustedSourceNetworks() throws {
        XCTAssertEqual(try trusted("10.1.2.77", 24).description, "10.1.2.0/24")
        XCTAssertEqual(try trusted("192.0.2.7").description, "192.0.2.7/32")
        XCTAssertEqual(try trusted("::ffff:10.0.0.1", 8).description, "10.0.0.0/8")
        XCTAssertEqual(try trusted("2001:db8:1:2::9").description, "2001:db8:1:2::/64")
        XCTAssertEqual(try trusted("2001:db8:1:2::9", 48).description, "2001:db8:1:0::/48")
        XCTAssertThrowsError(try trusted("2001:db8::1", 128)) { error in
            XCTAssertEqual(error as? TrustedSource.Refusal, .prefixLengthOutOfRange(128, allowed: 0...64))
        }
        XCTAssertThrowsError(try trusted("10.0.0.1", 33))
        XCTAssertThrowsError(try TrustedSource(addressBytes: [1, 2, 3]))
        let net = try trusted("10.1.0.0", 16)
        XCTAssertTrue(net.contains(try XCTUnwrapSource("10.1.200.3")))
        XCTAssertFalse(net.contains(try XCTUnwrapSource("10.2.0.1")))
        XCTAssertFalse(net.contains(try XCTUnwrapSource("2001:db8::1")))
        XCTAssertTrue(try trusted("0.0.0.0", 0).contains(try XCTUnwrapSource("203.0.113.9")))
        XCTAssertTrue(try trusted("2001:db8::", 32).contains(try XCTUnwrapSource("2001:db8:ffff:1::5")))
    }

    /// ``DoctorConfiguration/validated()`` over ``DoctorConfiguration/settings``: every default
    /// lies in its range, a refused `set` names key, value and range and changes nothing, and the
    /// trusted-source list is bounded.
    func testTheSettingsTableIsTheValidationTable() throws {
        XCTAssertEqual(Set(DoctorConfiguration.settings.map(\.key)).count, DoctorConfiguration.settings.count)
        for setting in DoctorConfiguration.settings {
            XCTAssertTrue(setting.allowed.contains(setting.defaultValue), setting.key)
            var c = DoctorConfiguration()
            XCTAssertThrowsError(try setting.set(setting.allowed.upperBound + 1, in: &c)) { error in
                XCTAssertEqual(error as? ConfigurationError,
                               .outOfBounds(field: setting.key, value: setting.allowed.upperBound + 1, allowed: setting.allowed))
            }
            XCTAssertEqual(c, DoctorConfiguration(), "a refused value changes nothing")
            try setting.set(setting.allowed.lowerBound, in: &c)
            XCTAssertEqual(setting.value(in: c), setting.allowed.lowerBound)
            XCTAssertNoThrow(try c.validated())
            // validated() refuses what the table refuses, even when set directly.
            var direct = DoctorConfiguration()
            direct.failureThreshold = 0
            XCTAssertThrowsError(try direct.validated())
        }
        var many = DoctorConfiguration()
        many.trustedSources = Array(repeating: try trusted("10.0.0.1"), count: DoctorConfiguration.maxTrustedSources + 1)
        XCTAssertThrowsError(try many.validated())
    }
}
