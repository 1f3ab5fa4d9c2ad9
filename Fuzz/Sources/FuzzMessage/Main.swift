import CFuzzDriver

/// The executable's entry point (SwiftPM links `main` to this symbol): libFuzzer's driver
/// with this target's `LLVMFuzzerTestOneInput`.
@_cdecl("fuzz_message_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzOne(data, size) }
}
