import Foundation
import XCTest
import TelemedProtocol
import TelemedTransport
@testable import TelemedSimulation

/// Issue 11 item 7, hosts: any valid spelling of an address is accepted and normalised at load
/// (`HostText`), two spellings of one address are one host, and text that is not an address is
/// refused with its JSON path. Exercised through `ScenarioRunner.load` / `ScenarioRunner.run`,
/// the entry points of the `simulate` executable; before the fix these scenarios trapped the
/// whole process (a precondition in the in-memory network, exit 132).
final class HostTextTests: XCTestCase {
    private func load(_ json: String) throws -> (Scenario, String) {
        let path = NSTemporaryDirectory() + "sim-hosts-\(getpid())-\(UUID().uuidString).json"
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return (try ScenarioRunner.load(file: path), path)
    }

    func testNonCanonicalHostsRunThroughTheSimulateEntryPoints() throws {
        let (scenario, file) = try load("""
            {"doctor":{"host":"::FFFF:10.0.0.1"},
             "patients":[{"id":"alice","host":"2001:DB8::1"},{"id":"carol","host":"198.51.100.9"}],
             "attackers":[{"name":"eve","host":"::ffff:198.51.100.9"},{"name":"mallory","host":"2001:db8:1:0:0:0:0:66"}],
             "steps":[
              {"do":"connect","patient":"alice","expect":{"accepted":true}},
              {"do":"flood","attacker":"eve","count":5,"request":{"kind":"KEY_VERIFICATION","claim":"alice"},
               "expect":{"rejectedCount":{"R-SIG":5},"blocked":["::FFFF:198.51.100.9"],"notBlocked":["2001:db8:0:0::1"]}},
              {"do":"connect","patient":"carol","expect":{"accepted":false,"rejected":"R-BLOCK"}},
              {"do":"send","attacker":"mallory","connection":"m1","raw":"0000"},
              {"do":"close","attacker":"mallory","connection":"m1","expect":{"members":["alice"]}},
              {"do":"connect","patient":"alice","from":"2001:db8:0::1","expect":{"accepted":true,"members":["alice"]}}]}
            """)
        XCTAssertEqual(scenario.doctor.host, "10.0.0.1")
        XCTAssertEqual(scenario.patients.map(\.host), ["2001:db8::1", "198.51.100.9"])
        XCTAssertEqual(scenario.attackers.map(\.host), ["198.51.100.9", "2001:db8:1::66"])
        let report = ScenarioRunner.run(scenario, file: file)
        XCTAssertNil(report.abort)
        XCTAssertTrue(report.passed, failureText(report))
        // Alice's two spellings (`2001:DB8::1`, `2001:db8:0::1`) are one endpoint on the network.
        let aliceEndpoints = Set(report.traceLines.compactMap { line -> String? in
            guard let value = try? StrictJSONParser.parseDocument(Array(line.utf8)), value["type"]?.stringValue == "opened",
                  let endpoint = value["endpoint"]?.stringValue, endpoint.hasPrefix("alice@") else { return nil }
            return endpoint
        })
        XCTAssertEqual(aliceEndpoints, ["alice@2001:db8::1"])
    }

    func testExpectationsWrittenNonCanonicallyAreNormalised() throws {
        let scenario = try scenario("""
            {"steps":[{"do":"check","expect":{
              "blocked":["::ffff:203.0.113.7",{"target":"alice@2001:DB8:0:0::5"},"203.0.113.77/24","2001:DB8:1:2::9/48"],
              "notBlocked":"0:0:0:0:0:ffff:cb00:7107"}}]}
            """)
        let kinds = scenario.steps[0].expectations.map(\.kind)
        guard case let .blocked(blocks) = kinds[0], case let .notBlocked(targets) = kinds[1] else {
            return XCTFail("wrong kinds: \(kinds)")
        }
        XCTAssertEqual(blocks.map(\.target), ["203.0.113.7", "alice@2001:db8::5", "203.0.113.0/24", "2001:db8:1::/48"])
        XCTAssertEqual(targets, ["203.0.113.7"])
    }

    func testTextThatIsNotAnAddressIsRefusedWithItsPath() {
        let cases: [(String, String)] = [
            (#"{"doctor":{"host":"fe80::1%eth0"}}"#, "$.doctor.host"),
            (#"{"patients":[{"id":"a","host":"2001:db8::1::2"}]}"#, "$.patients[0].host"),
            (#"{"attackers":[{"name":"eve","host":"198.51.100.256"}]}"#, "$.attackers[0].host"),
            (#"{"attackers":[{"name":"eve","host":"10.0.0.1:7000"}]}"#, "$.attackers[0].host"),
            (#"{"patients":[{"id":"a","host":"10.0.0.2"}],"steps":[{"do":"connect","patient":"a","from":"localhost"}]}"#,
             "$.steps[0].from"),
            (#"{"attackers":[{"name":"e","host":"10.0.0.3"}],"steps":[{"do":"send","attacker":"e","from":"","raw":"00"}]}"#,
             "$.steps[0].from"),
            (#"{"attackers":[{"name":"e","host":"10.0.0.3"}],"steps":[{"do":"flood","attacker":"e","count":1,"from":"::g"}]}"#,
             "$.steps[0].from"),
            (#"{"steps":[{"do":"check","expect":{"blocked":["alice@nowhere"]}}]}"#, "$.steps[0].expect.blocked[0]"),
            (#"{"steps":[{"do":"check","expect":{"blocked":[{"target":"a b@10.0.0.1"}]}}]}"#, "$.steps[0].expect.blocked[0].target"),
            (#"{"steps":[{"do":"check","expect":{"notBlocked":"alice"}}]}"#, "$.steps[0].expect.notBlocked"),
            (#"{"steps":[{"do":"check","expect":{"notBlocked":["10.0.0.1","10.0.0.0/16"]}}]}"#, "$.steps[0].expect.notBlocked[1]"),
            (#"{"steps":[{"do":"check","expect":{"notBlocked":["2001:db8::/64"]}}]}"#, "$.steps[0].expect.notBlocked[0]"),
        ]
        for (json, path) in cases {
            do {
                _ = try scenario(json)
                XCTFail("accepted: \(json)")
            } catch {
                XCTAssertEqual(error.path, path, "\(json) → \(error)")
            }
        }
    }

    /// Every address the loader lets through is already in the network's normal form, so the
    /// in-memory network's "needs an IP address" precondition cannot be reached from host text,
    /// and re-normalising changes nothing (two spellings cannot become two endpoints).
    func testEveryAcceptedHostIsAFixedPointOfTheNetworksNormalForm() {
        let spellings = ["10.0.0.1", "010.0.0.1", "1.2.3", "::ffff:1.2.3.4", "::FFFF:0102:0304", "::", "::1", "1::",
                         "2001:DB8::", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::0:1", "2001:db8:0:0:1:0:0:1",
                         "::1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", " 10.0.0.1", "10.0.0.1 ",
                         "[::1]", "::1/128", "fe80::1%1", "", "١٠.0.0.1", "2001:db8::ffff:1.2.3.4", "00000::1"]
        for text in spellings {
            do {
                let loaded = try scenario(#"{"attackers":[{"name":"eve","host":"\#(text)"}],"steps":[{"do":"check"}]}"#)
                let host = loaded.attackers[0].host
                XCTAssertEqual(IPAddress(host)?.description, host, "\(text) loaded as \(host)")
                XCTAssertEqual(IPAddress(text)?.description, host, text)
            } catch {
                XCTAssertNil(IPAddress(text), "\(text) is an address but was refused: \(error)")
                XCTAssertEqual(error.path, "$.attackers[0].host")
            }
        }
    }

    /// A labelled connection belongs to the attacker that opened it: another attacker writing on
    /// or closing it is refused at load (it used to reach the network's ownership precondition).
    func testAnotherAttackersConnectionIsRefusedAtLoad() {
        let cast = #""attackers":[{"name":"eve","host":"10.0.0.5"},{"name":"mallory","host":"10.0.0.6"}]"#
        let cases: [(String, String)] = [
            (#"{\#(cast),"steps":[{"do":"send","attacker":"eve","connection":"c","raw":"00"},{"do":"close","attacker":"mallory","connection":"c"}]}"#,
             "$.steps[1].connection"),
            (#"{\#(cast),"steps":[{"do":"send","attacker":"eve","connection":"c","raw":"00"},{"do":"send","attacker":"mallory","connection":"c","raw":"00"}]}"#,
             "$.steps[1].connection"),
        ]
        for (json, path) in cases {
            do {
                _ = try scenario(json)
                XCTFail("accepted: \(json)")
            } catch {
                XCTAssertEqual(error.path, path, "\(json) → \(error)")
                XCTAssertTrue(error.message.contains("belongs to eve"), error.message)
            }
        }
    }
}
