import Foundation
import TelemedTestSupport
import Testing
@testable import TelemedSimulation

/// Random scenarios from a seeded generator, run through `ScenarioRunner.run` (the simulator's
/// entry point). Honest steps (joins, leaves, kicks, broadcasts, rekeys, time advances) must
/// keep every invariant and meet the expectations a simple model predicts; attacker steps mixed
/// in must never yield a session. Each test runs once per seed (`@Test(arguments:)` over
/// `ReplaySeed.seeds`); a failure prints its `replay: TELEMED_SEED=<seed> swift test --filter
/// SimulationPropertyTests/<test>` line (`ReplaySeed`).
@Suite struct SimulationPropertyTests {
    /// Honest random scenarios (`RandomScenario`, attackers off) pass `ScenarioRunner.run`.
    @Test(arguments: try ReplaySeed.seeds(1...6))
    func testHonestRandomScenariosKeepEveryInvariant(seed: UInt64) throws {
        try check(seed: seed, attackers: false)
    }

    /// Random scenarios with replayed and forged KEY_VERIFICATION frames from an attacker pass
    /// `ScenarioRunner.run`: no attack is accepted or yields a session.
    @Test(arguments: try ReplaySeed.seeds(1_001...1_006))
    func testRandomAttacksNeverYieldASession(seed: UInt64) throws {
        try check(seed: seed, attackers: true)
    }

    /// Generates, runs and judges one random scenario; a failure prints the replay line of the
    /// running test.
    func check(seed: UInt64, attackers: Bool) throws {
        var generator = RandomScenario(seed: seed, attackers: attackers)
        let json = generator.json()
        let scenario = try scenario(json, name: "random-\(seed)")
        let report = ScenarioRunner.run(scenario, file: "random-\(seed).json", seed: seed)
        #expect(report.passed, """
            random scenario with seed \(seed) (attackers: \(attackers)) failed
            \(ReplaySeed.hint(seed))
            \(failureText(report))
            scenario: \(json)
            """)
    }
}

/// A seeded scenario generator with a model of who is a member.
struct RandomScenario {
    private var rng: SplitMix64
    private let attackers: Bool
    private var members: [String] = []
    private var connected: Set<String> = []
    private var labels = 0
    private var steps: [String] = []
    private let patients = (1...6).map { "p\($0)" }

    init(seed: UInt64, attackers: Bool) {
        rng = SplitMix64(seed: seed)
        self.attackers = attackers
    }

    private mutating func next(_ bound: Int) -> Int {
        Int.random(in: 0..<bound, using: &rng)
    }

    private func list(_ names: [String]) -> String {
        "[" + names.sorted().map { "\"\($0)\"" }.joined(separator: ",") + "]"
    }

    mutating func json() -> String {
        for _ in 0..<14 {
            if attackers, !connected.isEmpty, next(3) == 0 { attack() } else { honest() }
        }
        let cast = patients.enumerated().map { "{\"id\":\"\($0.element)\",\"host\":\"10.0.3.\($0.offset + 10)\"}" }
        return """
            {"seed":1,"network":{"latencyMillis":[1,60]},"config":{"failureThreshold":100},
             "patients":[\(cast.joined(separator: ","))],"attackers":[{"name":"eve","host":"203.0.113.9"}],
             "steps":[\(steps.joined(separator: ",\n"))]}
            """
    }

    private mutating func honest() {
        let outsiders = patients.filter { !members.contains($0) }
        switch next(6) {
        case 0...1 where !outsiders.isEmpty:
            let patient = outsiders[next(outsiders.count)]
            members.append(patient)
            connected.insert(patient)
            steps.append(#"{"do":"connect","patient":"\#(patient)","expect":{"accepted":true,"members":\#(list(members))}}"#)
        case 2 where !members.isEmpty:
            let patient = members.remove(at: next(members.count))
            let verb = next(2) == 0 ? "leave" : "kick"
            steps.append(#"{"do":"\#(verb)","patient":"\#(patient)","expect":{"members":\#(list(members)),"inactive":["\#(patient)"]}}"#)
        case 3 where !members.isEmpty:
            labels += 1
            let cannot = patients.filter { !members.contains($0) }
            steps.append(#"{"do":"broadcast","label":"B\#(labels)","text":"random broadcast number \#(labels) for the group","expect":{"readers":{"broadcast":"B\#(labels)","can":\#(list(members)),"cannot":\#(list(cannot))},"receipts":{"broadcast":"B\#(labels)","from":\#(list(members))}}}"#)
        case 4 where !members.isEmpty:
            steps.append(#"{"do":"rekey","expect":{"members":\#(list(members))}}"#)
        default:
            steps.append(#"{"do":"advance","millis":\#(1 + next(20_000)),"expect":{"members":\#(list(members))}}"#)
        }
    }

    private mutating func attack() {
        let victims = connected.sorted()
        let victim = victims[next(victims.count)]
        switch next(4) {
        case 0:
            steps.append(#"{"do":"send","attacker":"eve","frame":{"captured":{"sender":"\#(victim)","opcode":"KEY_VERIFICATION"}},"expect":{"accepted":false,"members":\#(list(members))}}"#)
        case 1:
            steps.append(#"{"do":"send","attacker":"eve","frame":{"craft":{"kind":"KEY_VERIFICATION","claim":"\#(victim)"}},"expect":{"accepted":false,"rejected":"R-SIG"}}"#)
        case 2:
            let other = patients[next(patients.count)]
            steps.append(#"{"do":"send","attacker":"eve","frame":{"captured":{"sender":"\#(victim)","opcode":"KEY_VERIFICATION"}},"mutate":[{"set":{"id_i":"\#(other)"}}],"expect":{"accepted":false,"members":\#(list(members))}}"#)
        default:
            steps.append(#"{"do":"send","attacker":"eve","copies":2,"frame":{"craft":{"kind":"KEY_VERIFICATION","claim":"\#(victim)","signer":"\#(victim)","signOther":true}},"expect":{"accepted":false,"sessionTokens":0}}"#)
        }
    }
}
