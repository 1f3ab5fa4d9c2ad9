import XCTest
import TelemedCrypto

/// `TelemedGroup(validating:…)` refuses every broken parameter set, naming the check.
final class GroupLoaderTests: XCTestCase {
    private let base = TelemedGroup.telemed2048

    private func assertRefused(_ name: String = "custom", p: BigInt? = nil, q: BigInt? = nil, g: BigInt? = nil,
                               _ reason: String, line: UInt = #line) {
        XCTAssertThrowsError(try TelemedGroup(validating: name, p: p ?? base.p, q: q ?? base.q, g: g ?? base.g),
                             line: line) { error in
            guard case .invalidGroup(let text)? = error as? CryptoError else {
                return XCTFail("expected invalidGroup, got \(error)", line: line)
            }
            XCTAssertTrue(text.contains(reason), "\(text) does not mention \(reason)", line: line)
        }
    }

    func testAcceptsAValidGroupUnderAnotherName() throws {
        let copy = try TelemedGroup(validating: "custom", p: base.p, q: base.q, g: base.g)
        XCTAssertEqual(copy.name, "custom")
        XCTAssertEqual(copy.elementLength, 256)
    }

    func testRefusesBrokenParameters() {
        assertRefused("", "empty name")
        assertRefused("telemed-2048-256", g: base.g.powMod(BigInt(2), base.p), "built-in")
        assertRefused(p: base.p + BigInt(2), "p is not prime")
        assertRefused(p: BigInt(1_000_003), "fewer than 2048")
        assertRefused(q: base.q + BigInt(2), "q")   // not prime or does not divide p − 1
        assertRefused(q: BigInt(65_537), "not 256")
        assertRefused(q: TelemedGroup.telemed3072.q, "does not divide")
        assertRefused(g: .one, "g is not in")
        assertRefused(g: base.p - .one, "g is not in")
        assertRefused(g: base.p, "g is not in")
        assertRefused(g: BigInt(2), "order q")   // 2 is not in the order-q subgroup here
    }

    func testElementChecks() throws {
        let group = base
        for bad in [BigInt(-1), .zero, .one, group.p - .one, group.p, group.p + .one, BigInt(2)] {
            XCTAssertFalse(group.isValidElement(bad), "\(bad) accepted")
        }
        XCTAssertTrue(group.isValidElement(group.g))
        XCTAssertThrowsError(try group.element(from: [UInt8](repeating: 0, count: 255))) { error in
            XCTAssertEqual(error as? CryptoError, .wrongLength(expected: 256, actual: 255))
        }
        XCTAssertThrowsError(try group.element(from: [UInt8](repeating: 0xff, count: 256))) { error in
            XCTAssertEqual(error as? CryptoError, .invalidElement)
        }
        XCTAssertEqual(try group.element(from: group.encodeElement(group.g)), group.g)
        XCTAssertEqual(group.encodeScalar(.one), [UInt8](repeating: 0, count: 31) + [1])
    }
}
