import Foundation
import TelemedNode
import TelemedProtocol
import TelemedTransport
import XCTest

/// The one mapping point between the transport and the machines (ConnectionMapping.swift):
/// `SourceAddress(peer:)`, which `DoctorNode.handle(.opened)` calls on every accepted
/// connection, builds the source from the address bytes the transport reported, through the
/// core's `SourceAddress(addressBytes:)`; and the two `ConnectionID` types map one to one.
final class SourceMappingTests: XCTestCase {
    private func peer(_ bytes: [UInt8], port: Int = 7000) throws -> PeerAddress {
        PeerAddress(ip: try XCTUnwrap(IPAddress(bytes: bytes)), port: port)
    }

    private let v6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x02,
                               0xaa, 0xbb, 0xcc, 0xdd, 0x00, 0x00, 0x00, 0x09]

    func testIPv4PeerIsItsOwnSource() throws {
        let source = try XCTUnwrap(SourceAddress(peer: try peer([192, 0, 2, 1])))
        XCTAssertEqual(source.bytes, [192, 0, 2, 1])
        XCTAssertTrue(source.isIPv4)
        XCTAssertEqual(source.description, "192.0.2.1")
        XCTAssertEqual(source.prefix.description, "192.0.2.0/24")
        XCTAssertEqual(SourceAddress(peer: try peer([192, 0, 2, 1], port: 9)), source, "the port is not part of a source")
    }

    func testIPv4MappedPeerIsTheIPv4Source() throws {
        let mapped: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]
        let viaPeer = try XCTUnwrap(SourceAddress(peer: try peer(mapped)))
        let viaBytes = try XCTUnwrap(SourceAddress(addressBytes: mapped), "the core maps it too, not only IPAddress")
        XCTAssertEqual(viaPeer, viaBytes)
        XCTAssertEqual(viaBytes, SourceAddress(addressBytes: [192, 0, 2, 1]))
        XCTAssertEqual(viaBytes.description, "192.0.2.1")
        // ::ffff:0:0/96 only: a near miss stays an IPv6 /64.
        var nearMiss = mapped
        nearMiss[10] = 0xfe
        XCTAssertEqual(try XCTUnwrap(SourceAddress(addressBytes: nearMiss)).bytes.count, 8)
    }

    func testIPv6PeerIsMaskedToItsSlash64() throws {
        let source = try XCTUnwrap(SourceAddress(peer: try peer(v6)))
        XCTAssertEqual(source.bytes, Array(v6[0..<8]))
        XCTAssertFalse(source.isIPv4)
        XCTAssertEqual(source.description, "2001:db8:1:2::/64")
        XCTAssertEqual(source.prefix.description, "2001:db8:1::/48")
        var sameSlash64 = v6
        sameSlash64[8] = 0x11
        sameSlash64[15] = 0x77
        XCTAssertEqual(SourceAddress(peer: try peer(sameSlash64)), source, "hosts of one /64 are one source")
        var otherSlash64 = v6
        otherSlash64[7] = 0x03
        let other = try XCTUnwrap(SourceAddress(peer: try peer(otherSlash64)))
        XCTAssertNotEqual(other, source)
        XCTAssertEqual(other.prefix, source.prefix, "and a /48 holds many /64s")
    }

    func testOtherByteCountsAreNoAddress() {
        for count in [0, 1, 3, 5, 8, 15, 17, 32] {
            XCTAssertNil(SourceAddress(addressBytes: [UInt8](repeating: 1, count: count)), "\(count) bytes")
        }
        XCTAssertNil(SourceAddress(storedBytes: [1, 2, 3]))
        XCTAssertNil(SourceAddress(storedBytes: Array(v6)), "the stored form of IPv6 is the /64")
        XCTAssertEqual(SourceAddress(storedBytes: Array(v6[0..<8])), SourceAddress(addressBytes: v6))
    }

    func testDecodingRefusesAByteCountThatIsNoSource() throws {
        let decoder = JSONDecoder()
        XCTAssertEqual(try decoder.decode(SourceAddress.self, from: Data(#"{"bytes":[192,0,2,1]}"#.utf8)),
                       SourceAddress(addressBytes: [192, 0, 2, 1]))
        for bad in [#"{"bytes":[]}"#, #"{"bytes":[1,2,3]}"#, #"{"bytes":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}"#] {
            XCTAssertThrowsError(try decoder.decode(SourceAddress.self, from: Data(bad.utf8)), bad) { error in
                guard case DecodingError.dataCorrupted = error else { return XCTFail("\(error)") }
            }
        }
        let encoded = try JSONEncoder().encode(try XCTUnwrap(SourceAddress(addressBytes: v6)))
        XCTAssertEqual(try decoder.decode(SourceAddress.self, from: encoded), SourceAddress(addressBytes: v6))
    }

    func testTextGoesThroughTheTransportParser() throws {
        XCTAssertEqual(SourceAddress(ipText: "2001:db8:1:2:aabb:ccdd:0:9"), SourceAddress(addressBytes: v6))
        XCTAssertEqual(SourceAddress(ipText: "::ffff:192.0.2.1"), SourceAddress(addressBytes: [192, 0, 2, 1]))
        for text in ["010.0.0.1", "1.2.3", "300.1.1.1", "1::2::3", "fe80::1%eth0", "192.0.2.1:80", " 192.0.2.1", ""] {
            XCTAssertNil(SourceAddress(ipText: text), text)
            XCTAssertNil(IPAddress(text), "the same refusal as the transport's own parser: \(text)")
        }
    }

    func testConnectionIdentifiersMapOneToOne() {
        let wire = TelemedTransport.ConnectionID(rawValue: 42)
        let machine = TelemedProtocol.ConnectionID(wire)
        XCTAssertEqual(machine.rawValue, 42)
        XCTAssertEqual(machine.wire, wire)
        XCTAssertEqual(machine.description, wire.description)
    }
}
