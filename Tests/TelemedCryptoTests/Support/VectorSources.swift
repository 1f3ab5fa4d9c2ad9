import Foundation
import XCTest
import TelemedCrypto

/// Where the vectors live: the peer vectors in `../shared/vectors` next to the package root
/// (absent in a fresh clone: tests skip), and this target's own `Vectors` resource folder.
enum VectorSources {
    /// The package root, found from this file's path.
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()   // Support
            .deletingLastPathComponent()   // TelemedCryptoTests
            .deletingLastPathComponent()   // Tests
            .deletingLastPathComponent()
    }

    /// Text of `../shared/vectors/<relativePath>`, or XCTSkip when the folder is absent.
    static func sharedText(_ relativePath: String) throws -> String {
        let url = packageRoot.appendingPathComponent("../shared/vectors").appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("peer vectors not present (\(url.standardizedFileURL.path)); CI provides ../shared")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// Bytes of `../shared/vectors/<relativePath>`, or XCTSkip.
    static func sharedData(_ relativePath: String) throws -> Data {
        Data(try sharedText(relativePath).utf8)
    }

    /// Bytes of a file in this target's `Vectors` resource folder.
    static func bundled(_ name: String) throws -> Data {
        guard let folder = Bundle.module.url(forResource: "Vectors", withExtension: nil) else {
            XCTFail("the Vectors resource folder is missing from the test bundle")
            throw CocoaError(.fileNoSuchFile)
        }
        return try Data(contentsOf: folder.appendingPathComponent(name))
    }
}

