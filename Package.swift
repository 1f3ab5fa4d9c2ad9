// swift-tools-version: 6.1
//
// TelemedProtocol: secure telemedical conferencing (ElGamal authentication and key
// exchange, AES-256-GCM group broadcast) as pure state machines plus the runtime,
// transports, demo executables and a deterministic simulator around them.

import PackageDescription

// Every Swift target, tests and simulations included, sees only the members of modules it
// imports itself (SE-0444), so no module can use Foundation (or anything else) just because
// another file or a dependency imported it. Applied to all targets at the end of this file.
let strictImports: [SwiftSetting] = [.enableUpcomingFeature("MemberImportVisibility")]

let package = Package(
    name: "TelemedProtocol",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "TelemedProtocol", targets: ["TelemedProtocol"]),
        .library(name: "TelemedCrypto", targets: ["TelemedCrypto"]),
        .library(name: "TelemedBigInt", targets: ["TelemedBigInt"]),
        .library(name: "TelemedTransport", targets: ["TelemedTransport"]),
        .library(name: "TelemedTCP", targets: ["TelemedTCP"]),
        .library(name: "TelemedNode", targets: ["TelemedNode"]),
        .library(name: "TelemedSimulation", targets: ["TelemedSimulation"]),
        .executable(name: "doctor", targets: ["doctor"]),
        .executable(name: "patient", targets: ["patient"]),
        .executable(name: "simulate", targets: ["simulate"]),
    ],
    dependencies: [
        // SHA-256, HMAC, HKDF and AES-256-GCM: nothing of these is written by hand here.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        // The TCP transport.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // Command lines of doctor, patient and simulate.
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // Logging in the runtime (never in the pure core).
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // The doctor's security store and audit log (SQLite, WAL).
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        // Property checks in the tests (generators, shrinking, seeds); no library product uses it.
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        // Operating the gateway: metrics (exported for Prometheus), configuration files and
        // environment, signal handling and graceful shutdown, path arithmetic.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: [.defaults, "CommandLineArguments"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        // `swift package generate-documentation` for the DocC catalogues.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // MARK: - Big integers
        .systemLibrary(
            name: "CGMP",
            pkgConfig: "gmp",
            providers: [.apt(["libgmp-dev"]), .brew(["gmp"])]
        ),
        .target(name: "TelemedBigInt", dependencies: ["CGMP"]),

        // MARK: - Cryptography
        .target(
            name: "TelemedCrypto",
            dependencies: [
                "TelemedBigInt",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        // MARK: - The pure protocol core
        .target(name: "TelemedProtocol", dependencies: ["TelemedCrypto"]),

        // MARK: - Transports and the runtime
        .target(name: "TelemedTransport"),
        .target(
            name: "TelemedTCP",
            dependencies: [
                "TelemedTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "TelemedNode",
            dependencies: [
                "TelemedProtocol",
                "TelemedCrypto",
                "TelemedTransport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),

        // MARK: - Executables
        .executableTarget(
            name: "doctor",
            dependencies: [
                "TelemedNode", "TelemedTCP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .executableTarget(
            name: "patient",
            dependencies: [
                "TelemedNode", "TelemedTCP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),

        // MARK: - Simulation
        .target(
            name: "TelemedSimulation",
            dependencies: [
                "TelemedNode", "TelemedTransport", "TelemedProtocol", "TelemedCrypto",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Simulations/TelemedSimulation"
        ),
        .executableTarget(
            name: "simulate",
            dependencies: [
                "TelemedSimulation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Simulations/simulate"
        ),

        // MARK: - Tests
        // What the test targets share: the seeded generator, the replay seed (TELEMED_SEED) and the
        // property check it replays, the raw socket and the hex helper. A regular target, so
        // that no library product ships it.
        .target(
            name: "TelemedTestSupport",
            dependencies: ["TelemedBigInt", .product(name: "PropertyBased", package: "swift-property-based")],
            path: "Tests/TelemedTestSupport"
        ),
        .testTarget(
            name: "TelemedBigIntTests",
            dependencies: [
                "TelemedBigInt", "TelemedTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "TelemedCryptoTests",
            dependencies: [
                "TelemedCrypto", "TelemedBigInt", "TelemedTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            resources: [.copy("Vectors")]
        ),
        .testTarget(
            name: "TelemedProtocolTests",
            dependencies: [
                "TelemedProtocol", "TelemedTransport", "TelemedTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            // Fuzz regression inputs, read through #filePath (not resources).
            exclude: ["Regression/Inputs"]
        ),
        .testTarget(
            name: "TelemedTransportTests",
            dependencies: [
                "TelemedTransport", "TelemedTCP", "TelemedTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "TelemedNodeTests",
            dependencies: [
                "TelemedNode", "TelemedTCP", "TelemedProtocol", "TelemedCrypto", "TelemedTransport",
                "TelemedTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(name: "TelemedSimulationTests", dependencies: ["TelemedSimulation", "TelemedTestSupport"]),
    ]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + strictImports
}
