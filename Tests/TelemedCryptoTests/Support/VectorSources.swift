import Foundation
import XCTest
import TelemedCrypto

/// Where the vectors live: this target's `Vectors` resource folder, which holds the project's
/// own vectors (`crypto_vectors.json`) and, under `peer/`, the known-answer files of other
/// projects (Botan, Wycheproof, NIST, PyCryptodome), each listed with its source and licence
/// in `Vectors/peer/PROVENANCE.md`. Nothing is read from outside the clone, so no
/// known-answer test skips.
enum VectorSources {
    /// The `Vectors` folder inside the test bundle.
    static func folder() throws -> URL {
        guard let folder = Bundle.module.url(forResource: "Vectors", withExtension: nil) else {
            XCTFail("the Vectors resource folder is missing from the test bundle")
            throw CocoaError(.fileNoSuchFile)
        }
        return folder
    }

    /// Text of `Vectors/peer/<relativePath>`; a missing file is an error (a failure, not a skip).
    static func peerText(_ relativePath: String) throws -> String {
        try String(decoding: peerData(relativePath), as: UTF8.self)
    }

    /// Bytes of `Vectors/peer/<relativePath>`.
    static func peerData(_ relativePath: String) throws -> Data {
        let url = try folder().appendingPathComponent("peer").appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            XCTFail("peer vector file peer/\(relativePath) is missing from the test bundle (see Vectors/peer/PROVENANCE.md)")
            throw CocoaError(.fileNoSuchFile)
        }
        return try Data(contentsOf: url)
    }

    /// Bytes of a file in this target's `Vectors` resource folder.
    static func bundled(_ name: String) throws -> Data {
        try Data(contentsOf: folder().appendingPathComponent(name))
    }
}
