import FuzzHarness

/// libFuzzer's entry point: one input through `FrameDecoderCheck`; a violated property crashes, so
/// libFuzzer reports it and saves the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        try FrameDecoderCheck.run(bytes)
    } catch {
        fatalError("\(error)")
    }
    return 0
}
