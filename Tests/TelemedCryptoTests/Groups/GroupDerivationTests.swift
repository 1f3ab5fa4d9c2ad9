import Foundation
import TelemedTestSupport
import XCTest
import TelemedCrypto

/// Re-derives the committed named-group constants from the seed rule of PROTOCOL.md §4.
final class GroupDerivationTests: XCTestCase {
    /// telemed-2048-256 from attempt 0 (about a second in a debug build).
    func testTelemed2048ReDerivesFromAttemptZero() throws {
        let constants = NamedGroupConstants.telemed2048
        let result = try XCTUnwrap(GroupDerivation.derive(name: constants.name, L: 2048, N: 256))
        try assertMatches(result, constants, group: .telemed2048)
        XCTAssertEqual(result.attempt, 39, "PROTOCOL.md §4: attempt 39")
        XCTAssertEqual(result.counter, 399, "PROTOCOL.md §4: counter 399")
    }

    /// telemed-3072-256. A full search takes ~30 s in a debug build (8,580 prime tests on
    /// 3072-bit candidates), so by default this checks: every attempt before the recorded one
    /// has a composite q (so none could be VALID); the recorded attempt's q; the candidate p
    /// at the recorded counter; g at the recorded count. The full search from attempt 0 also
    /// proves no earlier counter gives a prime p: run it with TELEMED_FULL_GROUP_DERIVATION=1.
    func testTelemed3072ReDerives() throws {
        let constants = NamedGroupConstants.telemed3072
        XCTAssertEqual(constants.attempt, 152, "PROTOCOL.md §4: attempt 152")
        XCTAssertEqual(constants.counter, 8579, "PROTOCOL.md §4: counter 8579")
        if ProcessInfo.processInfo.environment["TELEMED_FULL_GROUP_DERIVATION"] == "1" {
            let result = try XCTUnwrap(GroupDerivation.derive(name: constants.name, L: 3072, N: 256))
            try assertMatches(result, constants, group: .telemed3072)
            return
        }
        for attempt in 0..<constants.attempt {
            let seed = GroupDerivation.seedBytes(name: constants.name, attempt: attempt)
            XCTAssertFalse(GroupDerivation.subgroupOrder(seed: seed, N: 256).isProbablePrime(), "attempt \(attempt) has a prime q")
        }
        let seed = GroupDerivation.seedBytes(name: constants.name, attempt: constants.attempt)
        XCTAssertEqual(TestHex.string(seed), constants.seed)
        let q = GroupDerivation.subgroupOrder(seed: seed, N: 256)
        let p = GroupDerivation.primeCandidate(seed: seed, q: q, L: 3072, counter: constants.counter)
        let (g, count) = try XCTUnwrap(GroupDerivation.generator(p: p, q: q, seed: seed, index: 1))
        XCTAssertEqual(count, constants.count)
        let group = TelemedGroup.telemed3072
        XCTAssertEqual([p, q, g], [group.p, group.q, group.g])
        try assertGroupProperties(group, bits: 3072)
    }

    func testNamedLookup() throws {
        XCTAssertEqual(try TelemedGroup.named("telemed-2048-256"), .telemed2048)
        XCTAssertEqual(try TelemedGroup.named("telemed-3072-256"), .telemed3072)
        XCTAssertThrowsError(try TelemedGroup.named("modp/ietf/2048")) { error in
            XCTAssertEqual(error as? CryptoError, .unknownGroup("modp/ietf/2048"))
        }
        XCTAssertEqual(TelemedGroup.telemed2048.elementLength, 256)
        XCTAssertEqual(TelemedGroup.telemed3072.elementLength, 384)
    }

    // MARK: - Helpers

    private func assertMatches(_ result: GroupDerivation.Result, _ constants: NamedGroupConstants, group: TelemedGroup) throws {
        XCTAssertEqual(result.p, group.p, "p")
        XCTAssertEqual(result.q, group.q, "q")
        XCTAssertEqual(result.g, group.g, "g")
        XCTAssertEqual(TestHex.string(result.seed), constants.seed)
        XCTAssertEqual(result.attempt, constants.attempt)
        XCTAssertEqual(result.counter, constants.counter)
        XCTAssertEqual(result.index, constants.index)
        XCTAssertEqual(result.count, constants.count)
        try assertGroupProperties(group, bits: constants.L)
    }

    private func assertGroupProperties(_ group: TelemedGroup, bits: Int) throws {
        XCTAssertEqual(group.p.bitWidth, bits)
        XCTAssertEqual(group.q.bitWidth, 256)
        XCTAssertTrue(group.p.isProbablePrime(rounds: 64))
        XCTAssertTrue(group.q.isProbablePrime(rounds: 64))
        XCTAssertTrue((group.p - .one).modulo(group.q).isZero, "q | p − 1")
        XCTAssertEqual(group.g.powMod(group.q, group.p), .one, "g^q ≡ 1")
        XCTAssertGreaterThan(group.g, .one)
        // The loader accepts the committed parameters under their own name.
        XCTAssertEqual(try TelemedGroup(validating: group.name, p: group.p, q: group.q, g: group.g), group)
    }
}
