import XCTest
@testable import TelemedProtocol

/// Id syntax and the memcmp order used to sort group members.
final class PeerIDTests: XCTestCase {
    func testSyntax() throws {
        XCTAssertEqual(try PeerID("Patient-01.a_b").value, "Patient-01.a_b")
        XCTAssertEqual(try PeerID(String(repeating: "z", count: 64)).bytes.count, 64)
        for bad in ["", String(repeating: "z", count: 65), "a b", "é", "a/b", "a\u{0}"] {
            XCTAssertThrowsError(try PeerID(bad)) { error in
                guard case .invalidID = error as? DecodeError else { return XCTFail("got \(error)") }
            }
        }
    }

    func testMemcmpOrderWithPrefixFirst() throws {
        let sorted = ["-", ".", "0", "9", "A", "B", "Z", "_", "a", "aa", "ab", "b"]
        let ids = try sorted.reversed().map { try PeerID($0) }
        XCTAssertEqual(ids.sorted().map(\.value), sorted)
        XCTAssertLessThan(try PeerID("a"), try PeerID("a0"))
        XCTAssertFalse(try PeerID("a") < PeerID("a"))
    }

    func testDescriptionIsTheID() throws {
        XCTAssertEqual(try PeerID("p1").description, "p1")
        XCTAssertEqual(try PeerID(bytes: Array("p1".utf8)), try PeerID("p1"))
    }
}
