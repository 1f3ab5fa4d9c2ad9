import TelemedTestSupport
import XCTest
@testable import TelemedSimulation

/// The R-NOLEAK scan (`SecretBook.leaks(in:)`, which every trace line and the whole trace go
/// through) finds a secret by lookups on its first 32 hex digits; it must find exactly what a
/// comparison with every secret finds.
final class SecretBookTests: XCTestCase {
    /// What the scan did before it was indexed: every hex run against every secret's probe
    /// (its first 64 hex digits), case-insensitively.
    private func naiveLeaks(_ text: String, secrets: [(bytes: [UInt8], what: String)]) -> [String] {
        let runs = SecretBook.hexRunBytes(text, minimum: 32).map { String(decoding: $0, as: UTF8.self) }
        var found: Set<String> = []
        for (bytes, what) in secrets where bytes.count >= 16 {
            let probe = String(Hex.encode(bytes).prefix(64))
            if runs.contains(where: { $0.contains(probe) }) { found.insert(what) }
        }
        return found.sorted()
    }

    private func hex(_ bytes: [UInt8], upper: Bool) -> String {
        let text = Hex.encode(bytes)
        return upper ? text.uppercased() : text
    }

    /// Random lines made of hex runs (whole secrets, their prefixes of 16 to 40 bytes, near
    /// misses with one digit changed, random digits) and separators: the indexed scan and the
    /// naive one agree on every line, and the planted secrets are found.
    func testIndexedScanFindsWhatAFullComparisonFinds() {
        var random = SplitMix64(seed: 0x5ec2_e7b0_0c)
        var book = SecretBook()
        var secrets: [(bytes: [UInt8], what: String)] = []
        for index in 0..<200 {
            let length = [16, 20, 32, 33, 48, 256][Int(random.next() % 6)]
            let bytes = random.bytes(count: length)
            secrets.append((bytes, "secret \(index)"))
            XCTAssertTrue(book.add(bytes, "secret \(index)"))
            XCTAssertFalse(book.add(bytes, "again"), "a secret is learned once")
        }
        XCTAssertFalse(book.add([1, 2, 3], "short"), "secrets under 16 bytes are not scanned for")
        var planted = 0
        for _ in 0..<400 {
            var line = "{\"t\":1,\"type\":\"log\",\"message\":\""
            for _ in 0..<Int(random.next() % 5) {
                let secret = secrets[Int(random.next() % UInt64(secrets.count))].bytes
                let upper = random.next() % 2 == 0
                switch random.next() % 5 {
                case 0:
                    line += hex(secret, upper: upper)
                    planted += 1
                case 1:
                    line += hex(random.bytes(count: Int(random.next() % 8)), upper: upper) + hex(secret, upper: upper)
                case 2:
                    line += hex(Array(secret.prefix(16 + Int(random.next() % 25))), upper: upper)
                case 3:
                    var nearMiss = hex(secret, upper: false)
                    let at = nearMiss.index(nearMiss.startIndex, offsetBy: Int(random.next() % 32))
                    nearMiss.replaceSubrange(at...at, with: nearMiss[at] == "0" ? "1" : "0")
                    line += nearMiss
                default:
                    line += hex(random.bytes(count: 10 + Int(random.next() % 60)), upper: upper)
                }
                line += ["\", \"", " ", "g", ":"][Int(random.next() % 4)]
            }
            line += "\"}"
            XCTAssertEqual(book.leaks(in: line), naiveLeaks(line, secrets: secrets), line)
        }
        XCTAssertGreaterThan(planted, 50)
    }

    /// Plain texts (broadcasts) are found as text, and as their hex when long enough.
    func testTextsAreFoundAsTextAndAsHex() {
        var book = SecretBook()
        book.addText("CONFIDENTIAL lab results", "broadcast B1")
        XCTAssertEqual(book.leaks(in: "x CONFIDENTIAL lab results y"), ["broadcast B1"])
        XCTAssertEqual(book.leaks(in: Hex.encode(Array("CONFIDENTIAL lab results".utf8))), ["broadcast B1 (hex)"])
        XCTAssertEqual(book.leaks(in: "confidential lab results"), [])
    }
}
