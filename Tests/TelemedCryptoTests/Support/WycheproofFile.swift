import Foundation

/// One generic loader for Wycheproof JSON (testvectors_v1): groups of tests, each test with
/// an id, a comment, a result (valid / invalid / acceptable) and algorithm-specific fields.
/// `Group` and `Test` are supplied per algorithm; the envelope is shared.
struct WycheproofFile<Group: Decodable>: Decodable {
    let algorithm: String
    let numberOfTests: Int
    let testGroups: [Group]

    static func load(_ relativePath: String) throws -> WycheproofFile {
        try JSONDecoder().decode(WycheproofFile.self, from: VectorSources.peerData(relativePath))
    }
}

/// The shape of an AEAD group (aes_gcm_test.json).
struct WycheproofAEADGroup: Decodable {
    let keySize: Int
    let ivSize: Int
    let tagSize: Int
    let tests: [Test]

    struct Test: Decodable {
        let tcId: Int
        let comment: String
        let key: String
        let iv: String
        let aad: String
        let msg: String
        let ct: String
        let tag: String
        let result: String
    }
}

/// The shape of an HKDF group.
struct WycheproofHKDFGroup: Decodable {
    let keySize: Int
    let tests: [Test]

    struct Test: Decodable {
        let tcId: Int
        let comment: String
        let ikm: String
        let salt: String
        let info: String
        let size: Int
        let okm: String
        let result: String
    }
}

/// The shape of a MAC group.
struct WycheproofMACGroup: Decodable {
    let keySize: Int
    let tagSize: Int
    let tests: [Test]

    struct Test: Decodable {
        let tcId: Int
        let comment: String
        let key: String
        let msg: String
        let tag: String
        let result: String
    }
}
