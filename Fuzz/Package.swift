// swift-tools-version: 6.1
//
// The libFuzzer targets, kept out of the root package so that `swift test` and CI never build
// them. It depends on the root package by path. Build and run them with `Fuzz/run.sh` (which
// passes -sanitize=fuzzer,address; see Fuzz/README.md).

import PackageDescription
import struct Foundation.URL

// SwiftPM names a path dependency after its directory, which differs between clones (main,
// a worktree, CI's checkout), so the root package's identity is computed here.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let rootPackage = root.lastPathComponent

// Each target is a library-style module: it exports LLVMFuzzerTestOneInput and the
// `<target>_main` that SwiftPM aliases to `main`, which starts libFuzzer's driver.
let fuzzSettings: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "TelemedFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: ".."),
    ],
    targets: [
        // The declaration of LLVMFuzzerRunDriver (the runtime comes with -sanitize=fuzzer).
        .target(name: "CFuzzDriver"),
        // The invariant-checking drivers, shared with the regression tests (symlinked there).
        .target(
            name: "FuzzHarness",
            dependencies: [
                .product(name: "TelemedProtocol", package: rootPackage),
                .product(name: "TelemedCrypto", package: rootPackage),
                .product(name: "TelemedTransport", package: rootPackage),
            ]
        ),
        .executableTarget(name: "fuzz-frame", dependencies: ["FuzzHarness", "CFuzzDriver"],
                          path: "Sources/FuzzFrame", swiftSettings: fuzzSettings),
        .executableTarget(name: "fuzz-message", dependencies: ["FuzzHarness", "CFuzzDriver"],
                          path: "Sources/FuzzMessage", swiftSettings: fuzzSettings),
        .executableTarget(name: "fuzz-doctor", dependencies: ["FuzzHarness", "CFuzzDriver"],
                          path: "Sources/FuzzDoctor", swiftSettings: fuzzSettings),
        .executableTarget(
            name: "fuzz-scenario",
            dependencies: ["CFuzzDriver", .product(name: "TelemedSimulation", package: rootPackage)],
            path: "Sources/FuzzScenario", swiftSettings: fuzzSettings
        ),
    ]
)
