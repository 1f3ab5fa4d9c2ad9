import TelemedSimulation

/// libFuzzer's entry point: one input through the scenario loader. Decoding must either
/// succeed or throw a `ScenarioError` with a JSON path; it must never trap, and decoding the
/// same bytes twice must agree.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let first = outcome(bytes)
    let second = outcome(bytes)
    if first != second { fatalError("decoding the same scenario twice disagreed: \(first) vs \(second)") }
    return 0
}

/// A comparable summary of one decoding: the scenario's title and step count, or the error.
func outcome(_ bytes: [UInt8]) -> String {
    do {
        let scenario = try ScenarioDecoder.decode(bytes, name: "fuzz")
        return "ok \(scenario.title) \(scenario.steps.count) steps"
    } catch {
        if !error.path.hasPrefix("$") { fatalError("error path \(error.path) does not start at the root") }
        return "error \(error)"
    }
}
