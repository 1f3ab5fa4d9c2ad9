import FuzzHarness

/// libFuzzer's entry point: one input through `DoctorScript`, with the handshake jobs run
/// inline and then held and completed out of order; a violated property crashes, so libFuzzer
/// reports it and saves the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        try DoctorScript.run(bytes)
        try DoctorScript.runWithHeldJobs(bytes)
    } catch {
        fatalError("\(error)")
    }
    return 0
}
