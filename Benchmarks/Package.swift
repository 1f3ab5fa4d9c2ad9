// swift-tools-version: 6.1
//
// The performance suite, kept out of the root package so that `swift test` and CI never build
// or run it. It depends on the root package by path. Run it with `Benchmarks/run.sh`.

import PackageDescription
import struct Foundation.URL

// SwiftPM names a path dependency after its directory, which differs between clones (main,
// a worktree, CI's checkout), so the root package's identity is computed here.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let rootPackage = root.lastPathComponent

let package = Package(
    name: "TelemedBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // AES-GCM timed directly (the protocol's sealing keys are package-internal).
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        // The limit baseline: plain GMP calls, no protocol.
        .target(name: "CBaseline", linkerSettings: [.linkedLibrary("gmp")]),
        // Workloads shared by the suite runner and the ordo-one micro benchmarks.
        .target(
            name: "TelemedBenchKit",
            dependencies: [
                "CBaseline",
                .product(name: "TelemedProtocol", package: rootPackage),
                .product(name: "TelemedCrypto", package: rootPackage),
                .product(name: "TelemedBigInt", package: rootPackage),
                // The system figures over TCP and the simulator's wall time.
                .product(name: "TelemedNode", package: rootPackage),
                .product(name: "TelemedTCP", package: rootPackage),
                .product(name: "TelemedTransport", package: rootPackage),
                .product(name: "TelemedSimulation", package: rootPackage),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The suite: table with median and p99, target ratios, system figures, result files.
        .executableTarget(name: "telemed-perf", dependencies: ["TelemedBenchKit"]),
        // The soak run: a doctor under churn and attack for minutes, memory over time, verdict.
        .executableTarget(name: "telemed-soak", dependencies: ["TelemedBenchKit"]),
        // The same micro benchmarks under ordo-one/benchmark (`swift package benchmark`).
        .executableTarget(
            name: "TelemedMicro",
            dependencies: [
                "TelemedBenchKit",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/TelemedMicro",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
