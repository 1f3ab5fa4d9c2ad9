import TelemedNode
import TelemedProtocol
import XCTest

/// The doctor console's input rules, through its production parsing entry point
/// `ConsoleCommand.parse(_:)` (what `doctor serve` runs on every line it reads) and the line
/// splitter in front of it, `ConsoleLineReader`.
final class ConsoleCommandTests: XCTestCase {
    private func parse(_ text: String) throws(ConsoleInputError) -> ConsoleCommand? {
        try ConsoleCommand.parse(Array(text.utf8))
    }

    private func refusal(_ bytes: [UInt8]) -> ConsoleInputError? {
        do {
            _ = try ConsoleCommand.parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    /// `ConsoleCommand.parse(_:)`: every command and its arguments.
    func testCommandsParse() throws {
        XCTAssertEqual(try parse("broadcast  Clinic closes at 5pm "), .broadcast("Clinic closes at 5pm"))
        XCTAssertEqual(try parse("broadcast Grüße, 東京 ✓"), .broadcast("Grüße, 東京 ✓"))
        XCTAssertEqual(try parse("list"), .list)
        XCTAssertEqual(try parse("  patients  "), .patients)
        XCTAssertEqual(try parse("enroll carol.request.json --replace"), .enroll(path: "carol.request.json", replace: true))
        XCTAssertEqual(try parse("enroll carol.request.json"), .enroll(path: "carol.request.json", replace: false))
        XCTAssertEqual(try parse("revoke carol"), .revoke(try PeerID("carol")))
        XCTAssertEqual(try parse("kick bob"), .kick(try PeerID("bob")))
        XCTAssertEqual(try parse("quit"), .quit)
        XCTAssertEqual(try parse("exit"), .quit)
        XCTAssertEqual(try parse("help"), .help)
        XCTAssertEqual(try parse("blocks\r"), .blocks, "a CR before the line feed is part of the line ending")
        XCTAssertNil(try parse(""))
        XCTAssertNil(try parse("    "))
        XCTAssertEqual(refusal(Array("frobnicate now".utf8)), .unknownCommand("frobnicate"))
        XCTAssertEqual(refusal(Array("broadcast".utf8)), .usage("broadcast <text>"))
        XCTAssertEqual(refusal(Array("revoke".utf8)), .usage("revoke <patient id>"))
        XCTAssertEqual(refusal(Array("revoke carol!".utf8)), .invalidPatientID("carol!"))
        XCTAssertEqual(refusal(Array("list everything".utf8)), .usage("list (no argument)"))
        XCTAssertEqual(refusal(Array("enroll a b".utf8)), .usage("enroll <request file> [--replace]"))
    }

    /// `ConsoleCommand.parse(_:)` refuses bytes that are not UTF-8 (they are not repaired
    /// into U+FFFD and broadcast) and says where.
    func testInvalidUTF8IsRefusedWithItsOffset() {
        let prefix = Array("broadcast caf".utf8)
        for bad: [UInt8] in [[0xE9], [0xC3], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF]] {
            let error = refusal(prefix + bad + Array(" ok".utf8))
            XCTAssertEqual(error, .notUTF8(byteOffset: prefix.count), "\(bad)")
            XCTAssertTrue(error?.description.contains("not valid UTF-8") ?? false)
            XCTAssertTrue(error?.description.contains("nothing was done") ?? false)
        }
        XCTAssertEqual(try ConsoleCommand.parse(prefix + [0xC3, 0xA9]), .broadcast("café"))
    }

    /// `ConsoleCommand.parse(_:)` refuses every control character (C0, tab and ESC included,
    /// DEL, C1), naming it and its byte offset.
    func testControlCharactersAreRefused() {
        let prefix = Array("broadcast a".utf8)
        for value: UInt32 in Array(0x00...0x1F).filter({ $0 != 0x0A }) + [0x7F] + Array(0x80...0x9F) {
            let scalar = Unicode.Scalar(value)!
            let error = refusal(prefix + Array(String(scalar).utf8) + Array("b".utf8))
            XCTAssertEqual(error, .controlCharacter(value, byteOffset: prefix.count), "U+\(String(value, radix: 16))")
        }
        let escape = refusal(Array("broadcast \u{1B}[2J\u{1B}]0;pwned\u{07}".utf8))
        XCTAssertEqual(escape, .controlCharacter(0x1B, byteOffset: 10))
        XCTAssertTrue(escape?.description.contains("U+001B (ESC) at byte 10") ?? false, escape?.description ?? "")
        XCTAssertEqual(refusal(Array("broadcast ring\u{07}".utf8))?.description.contains("U+0007 (BEL)"), true)
        XCTAssertEqual(refusal(Array("broadcast\tx".utf8)), .controlCharacter(0x09, byteOffset: 9))
        XCTAssertEqual(refusal(Array("broadcast a\rb".utf8)), .controlCharacter(0x0D, byteOffset: 11))
    }

    /// `ConsoleCommand.parse(_:)`: a broadcast text of 16384 bytes passes, one more byte is
    /// refused with the limit in the message; a line over the console's limit is refused too.
    func testLengthLimits() throws {
        let limit = ConsoleText.maximumBroadcastBytes
        XCTAssertEqual(limit, 16_384)
        let fits = String(repeating: "é", count: limit / 2)
        XCTAssertEqual(try parse("broadcast " + fits), .broadcast(fits))
        let over = refusal(Array(("broadcast " + fits + "x").utf8))
        XCTAssertEqual(over, .broadcastTooLong(bytes: limit + 1))
        XCTAssertTrue(over?.description.contains("16384 bytes (16 KiB)") ?? false, over?.description ?? "")
        let line = refusal(Array(("broadcast " + String(repeating: "x", count: ConsoleText.maximumLineBytes)).utf8))
        XCTAssertEqual(line, .lineTooLong(bytes: ConsoleText.maximumLineBytes + 10, limit: ConsoleText.maximumLineBytes))
        XCTAssertTrue(line?.description.contains("16384 bytes (16 KiB)") ?? false)
        XCTAssertTrue(ConsoleCommand.helpText.contains("16384 bytes"), "help states the limit")
        XCTAssertTrue(ConsoleCommand.helpText.contains("16 KiB"))
    }

    /// `ConsoleCommand.parse(_:)` and `UnblockTarget(parsing:)`: each kind of `unblock`
    /// argument, and what is refused (an address-looking text is never a patient id).
    func testUnblockTargets() throws {
        guard case .unblock(.source(let v4))? = try parse("unblock 192.0.2.7") else { return XCTFail("source") }
        XCTAssertEqual(v4.description, "192.0.2.7")
        guard case .unblock(.source)? = try parse("unblock 2001:db8::7") else { return XCTFail("IPv6 source") }
        guard case .unblock(.prefix(let prefix))? = try parse("unblock 192.0.2.0/24") else { return XCTFail("prefix") }
        XCTAssertEqual(prefix.description, "192.0.2.0/24")
        guard case .unblock(.prefix)? = try parse("unblock 2001:db8:1::/48") else { return XCTFail("IPv6 prefix") }
        guard case .unblock(.device(let device))? = try parse("unblock alice@192.0.2.7") else { return XCTFail("device") }
        XCTAssertEqual(device.patient, try PeerID("alice"))
        XCTAssertEqual(try parse("unblock alice"), .unblock(.devices(of: try PeerID("alice"))))
        XCTAssertEqual(try parse("unblock dr.who_2"), .unblock(.devices(of: try PeerID("dr.who_2"))))
        XCTAssertEqual(try parse("unblock id 1.2.3"), .unblock(.devices(of: try PeerID("1.2.3"))))

        XCTAssertEqual(try UnblockTarget(parsing: "192.0.2.7").kind, "IP address")
        XCTAssertEqual(try UnblockTarget(parsing: "192.0.2.0/24").kind, "prefix")
        XCTAssertEqual(try UnblockTarget(parsing: "a@192.0.2.7").kind, "device (id@ip)")
        XCTAssertEqual(try UnblockTarget(parsing: "a").kind, "patient id")

        for (text, expected) in [("999.1.1.1", UnblockTargetError.invalidAddress("999.1.1.1")),
                                 ("1.2.3", .invalidAddress("1.2.3")),
                                 ("2001:db8::zz", .invalidAddress("2001:db8::zz")),
                                 ("192.0.2.0/16", .invalidPrefix("192.0.2.0/16")),
                                 ("192.0.2.0/", .invalidPrefix("192.0.2.0/")),
                                 ("alice@999.1.1.1", .invalidAddress("999.1.1.1")),
                                 ("al ice@192.0.2.7", .invalidPatientID("al ice")),
                                 ("al!ce", .invalidPatientID("al!ce"))] {
            XCTAssertEqual(refusal(Array("unblock \(text)".utf8)), .invalidUnblockTarget(expected), text)
        }
        let message = refusal(Array("unblock 999.1.1.1".utf8))?.description ?? ""
        XCTAssertTrue(message.contains("\"999.1.1.1\" is not a valid IP address"), message)
        XCTAssertFalse(message.contains("no block on"), message)
    }

    /// `ConsoleLineReader.feed(_:)`/`finish()`: lines split on LF across reads, bytes kept as
    /// they are, an over-long line dropped (never buffered whole) and reported with its length.
    func testLineReader() {
        var reader = ConsoleLineReader(limit: 8)
        XCTAssertEqual(reader.feed(Array("ab".utf8)), [])
        XCTAssertEqual(reader.feed(Array("c\n\n".utf8) + [0xFF, 0x0A]), [.line(Array("abc".utf8)), .line([]), .line([0xFF])])
        XCTAssertEqual(reader.feed(Array("12345678".utf8)), [])
        XCTAssertEqual(reader.feed(Array("9\nok\n".utf8)), [.tooLong(bytes: 9), .line(Array("ok".utf8))])
        XCTAssertEqual(reader.feed(Array(repeating: UInt8(ascii: "x"), count: 100_000)), [])
        XCTAssertEqual(reader.finish(), .tooLong(bytes: 100_000))
        XCTAssertNil(reader.finish())
        XCTAssertEqual(reader.feed(Array("tail".utf8)), [])
        XCTAssertEqual(reader.finish(), .line(Array("tail".utf8)))
    }
}

/// What a patient prints of text from the doctor (`ConsoleText.escaped(_:)`, used by the
/// `patient` executable for broadcasts and the doctor's reasons) and the one time format
/// (`ConsoleText.time(_:)`, used by both executables).
final class ConsoleTextTests: XCTestCase {
    /// `ConsoleText.escaped(_:)`: no control character survives; printable text is unchanged;
    /// a backslash is doubled so an escape in the text cannot pass for one made here.
    func testEscaping() {
        XCTAssertEqual(ConsoleText.escaped("Clinic closes at 5pm — Grüße 東京"), "Clinic closes at 5pm — Grüße 東京")
        XCTAssertEqual(ConsoleText.escaped("\u{1B}[2Jwiped\u{07}"), "\\u{1B}[2Jwiped\\u{7}")
        XCTAssertEqual(ConsoleText.escaped("a\tb\nc\r\u{7F}\u{9B}\u{0}"), "a\\u{9}b\\u{A}c\\u{D}\\u{7F}\\u{9B}\\u{0}")
        XCTAssertEqual(ConsoleText.escaped("C:\\path \\u{1B}"), "C:\\\\path \\\\u{1B}")
        for value in Array(0...0x1F) + Array(0x7F...0x9F) {
            let escaped = ConsoleText.escaped("x\(Character(Unicode.Scalar(value)!))y")
            XCTAssertFalse(escaped.unicodeScalars.contains { ConsoleText.isControl($0) }, "\(value)")
        }
    }

    /// `ConsoleText.time(_:)`: UTC ISO 8601 to the second, checked against known instants.
    func testTime() {
        XCTAssertEqual(ConsoleText.time(0), "1970-01-01T00:00:00Z")
        XCTAssertEqual(ConsoleText.time(951_782_400_000), "2000-02-29T00:00:00Z")
        XCTAssertEqual(ConsoleText.time(1_798_761_599_999), "2026-12-31T23:59:59Z")
        XCTAssertEqual(ConsoleText.time(1_796_461_200_123), "2026-12-05T09:00:00Z")
        XCTAssertEqual(ConsoleText.time(4_107_542_400_000), "2100-03-01T00:00:00Z")
        // The JSON logs' form (JSONLogHandler → UTCDate), with milliseconds, before 1970 too.
        XCTAssertEqual(UTCDate.iso8601(millis: 951_782_400_007, fraction: true), "2000-02-29T00:00:00.007Z")
        XCTAssertEqual(UTCDate.iso8601(millis: -750, fraction: true), "1969-12-31T23:59:59.250Z")
    }
}
