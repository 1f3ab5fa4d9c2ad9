import TelemedTransport
import XCTest

final class AddressTests: XCTestCase {
    // MARK: - IPv4

    func testIPv4DottedQuadRoundTrips() throws {
        let ip = try XCTUnwrap(IPAddress("192.168.0.255"))
        XCTAssertEqual(ip.bytes, [192, 168, 0, 255])
        XCTAssertTrue(ip.isIPv4)
        XCTAssertEqual(ip.description, "192.168.0.255")
    }

    func testIPv4RejectsMalformedText() {
        for text in ["1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "a.b.c.d", "1.2.3.4 ", "", "+1.2.3.4"] {
            XCTAssertNil(IPAddress(text), text)
        }
    }

    // MARK: - IPv6

    func testIPv6IsPrintedInRFC5952Form() throws {
        let cases: [(String, String)] = [
            ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  // first of two equal runs
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // a single zero group stays
            ("::", "::"),
            ("::1", "::1"),
            ("fe80::", "fe80::"),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),  // the longer run wins
            ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(IPAddress(input)?.description, expected, input)
        }
    }

    func testIPv4MappedIPv6BecomesIPv4() throws {
        let fromText = try XCTUnwrap(IPAddress("::ffff:10.1.2.3"))
        XCTAssertEqual(fromText, IPAddress("10.1.2.3"))
        XCTAssertEqual(fromText.description, "10.1.2.3")
        let fromHex = try XCTUnwrap(IPAddress("0:0:0:0:0:FFFF:0A01:0203"))
        XCTAssertEqual(fromHex, fromText)
        let bytes: [UInt8] = Array(repeating: 0, count: 10) + [0xff, 0xff, 127, 0, 0, 1]
        XCTAssertEqual(IPAddress(bytes: bytes)?.description, "127.0.0.1")
    }

    func testIPv6RejectsMalformedText() {
        for text in ["1::2::3", ":1::2", "1:2:3:4:5:6:7:8:9", "12345::", "1:2:3:4:5:6:7", "fe80::1%eth0",
                     "1.2.3.4::", "::g", "1:::2", "1:2:3:4:5:6:7::8"] {
            XCTAssertNil(IPAddress(text), text)
        }
    }

    func testRejectsWrongByteCounts() {
        XCTAssertNil(IPAddress(bytes: [1, 2, 3]))
        XCTAssertNil(IPAddress(bytes: Array(repeating: 0, count: 15)))
    }

    // MARK: - Prefixes and peers

    func testMaskingKeepsOnlyThePrefix() throws {
        XCTAssertEqual(IPAddress("10.20.30.40")?.masked(toPrefixLength: 24).description, "10.20.30.0")
        XCTAssertEqual(IPAddress("10.20.30.40")?.masked(toPrefixLength: 20).description, "10.20.16.0")
        XCTAssertEqual(
            IPAddress("2001:db8:aaaa:bbbb:cccc::1")?.masked(toPrefixLength: 48).description, "2001:db8:aaaa::")
        XCTAssertEqual(IPAddress("2001:db8:aaaa:bbbb:cccc::1")?.masked(toPrefixLength: 64).description,
                       "2001:db8:aaaa:bbbb::")
    }

    func testPeerAddressNormalisesAndPrints() throws {
        let v4 = try XCTUnwrap(PeerAddress(host: "::ffff:127.0.0.1", port: 5000))
        XCTAssertEqual(v4.host, "127.0.0.1")
        XCTAssertEqual(v4.description, "127.0.0.1:5000")
        let v6 = try XCTUnwrap(PeerAddress(host: "2001:DB8::0001", port: 443))
        XCTAssertEqual(v6.description, "[2001:db8::1]:443")
        XCTAssertNil(PeerAddress(host: "localhost", port: 1))
        XCTAssertNil(PeerAddress(host: "1.2.3.4", port: 65_536))
    }
}
