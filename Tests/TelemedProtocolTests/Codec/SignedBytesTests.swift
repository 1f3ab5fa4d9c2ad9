import TelemedCrypto
import TelemedTestSupport
import XCTest
@testable import TelemedProtocol

/// Exact layouts of signed bytes and AAD (PROTOCOL.md §4 table), written out by hand.
final class SignedBytesTests: XCTestCase {
    func testReceiptAAD() throws {
        let aad = AssociatedData.receipt(idI: try PeerID("p1"), idGWN: try PeerID("gw"), seq: 5)
        // lp("TELEMED-V1 DEC_MSG") lp("p1") lp("gw") lp(u64 5)
        let expected = try TestHex.bytes("""
            00000012 54454c454d45442d563120 4445435f4d5347
            00000002 7031
            00000002 6777
            00000008 0000000000000005
            """)
        XCTAssertEqual(aad, expected)
    }

    func testDisconnectAAD() throws {
        let aad = AssociatedData.disconnect(sender: try PeerID("D"), receiver: try PeerID("p"), seq: 0x0102_0304_0506_0708)
        // lp("TELEMED-V1 DISCONNECT") lp("D") lp("p") lp(u64)
        let expected = try TestHex.bytes("""
            00000015 54454c454d45442d563120 444953434f4e4e454354
            00000001 44
            00000001 70
            00000008 0102030405060708
            """)
        XCTAssertEqual(aad, expected)
    }

    func testGroupKeyAAD() throws {
        let aad = AssociatedData.groupKey(idGWN: try PeerID("g"), idI: try PeerID("p"), epoch: 1, seq: 2, members: 3)
        // lp("TELEMED-V1 GROUP_KEY") lp("g") lp("p") lp(u64 1) lp(u64 2) lp(u64 3)
        let expected = try TestHex.bytes("""
            00000014 54454c454d45442d563120 47524f55505f4b4559
            00000001 67
            00000001 70
            00000008 0000000000000001
            00000008 0000000000000002
            00000008 0000000000000003
            """)
        XCTAssertEqual(aad, expected)
    }

    func testBroadcastAADAndSignedBytes() throws {
        let gwn = try PeerID("g")
        let aad = AssociatedData.broadcast(idGWN: gwn, epoch: 1, seq: 0, ts: 0xff)
        // lp("TELEMED-V1 ENC_MSG") lp("g") lp(u64 1) lp(u64 0) lp(u64 255)
        XCTAssertEqual(aad, try TestHex.bytes("""
            00000012 54454c454d45442d563120 454e435f4d5347
            00000001 67
            00000008 0000000000000001
            00000008 0000000000000000
            00000008 00000000000000ff
            """))
        let signed = SignedBytes.broadcast(group: "G", idGWN: gwn, epoch: 1, seq: 0, ts: 0xff, ct: [0xc0, 0xff, 0xee])
        // lp("TELEMED-V1 ENC_MSG SIG") lp("G") lp("g") lp(u64 1) lp(u64 0) lp(u64 255) lp(ct)
        XCTAssertEqual(signed, try TestHex.bytes("""
            00000016 54454c454d45442d563120 454e435f4d5347 20534947
            00000001 47
            00000001 67
            00000008 0000000000000001
            00000008 0000000000000000
            00000008 00000000000000ff
            00000003 c0ffee
            """))
    }

    func testKeyVerificationSignedBytes() throws {
        let rn = try Bytes32(Array(repeating: 0x11, count: 32))
        let request = KeyVerification(
            group: "G", idI: try PeerID("p"), idGWN: try PeerID("g"), tsI: 0x1234, rnI: rn,
            c1: ElementBytes([0xaa, 0xbb]), c2: ElementBytes([0xcc]), sigR: ElementBytes([0x99]),
            sigS: try Bytes32(Array(repeating: 0x22, count: 32))
        )
        // lp("TELEMED-V1 KEY_VERIFICATION") lp(group) lp(id_i) lp(id_gwn) lp(u64 ts_i) lp(rn_i)
        // lp(c1) lp(c2); the signature itself is not covered.
        let expected = try TestHex.bytes("""
            0000001b 54454c454d45442d563120 4b45595f564552494649434154494f4e
            00000001 47
            00000001 70
            00000001 67
            00000008 0000000000001234
            00000020 \(String(repeating: "11", count: 32))
            00000002 aabb
            00000001 cc
            """)
        XCTAssertEqual(SignedBytes.keyVerification(request), expected)
    }

    func testSessionTokenSignedBytes() throws {
        let token = SessionToken(
            group: "G", idGWN: try PeerID("g"), idI: try PeerID("p"), tsGWN: 1,
            rnGWN: try Bytes32(Array(repeating: 0x33, count: 32)), rnI: try Bytes32(Array(repeating: 0x44, count: 32)),
            c1: ElementBytes([0x01]), c2: ElementBytes([0x02]), sigR: ElementBytes([0x03]),
            sigS: try Bytes32(Array(repeating: 0x55, count: 32))
        )
        // lp("TELEMED-V1 SESSION_TOKEN") lp(group) lp(id_gwn) lp(id_i) lp(u64 ts_gwn) lp(rn_gwn)
        // lp(rn_i) lp(c1) lp(c2)
        let expected = try TestHex.bytes("""
            00000018 54454c454d45442d563120 53455353494f4e5f544f4b454e
            00000001 47
            00000001 67
            00000001 70
            00000008 0000000000000001
            00000020 \(String(repeating: "33", count: 32))
            00000020 \(String(repeating: "44", count: 32))
            00000001 01
            00000001 02
            """)
        XCTAssertEqual(SignedBytes.sessionToken(token), expected)
    }
}
