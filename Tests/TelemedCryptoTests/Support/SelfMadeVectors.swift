import Foundation

/// `Vectors/crypto_vectors.json`, written by Fixtures/tools/make_crypto_vectors.py with Python
/// integers, hashlib and hmac only. Present in every clone.
struct SelfMadeVectors: Decodable {
    struct Group: Decodable { let name, p, q, g, seed: String; let attempt, counter, index, count: Int }
    struct Modp: Decodable { let name, p, g: String }
    struct TextbookEncryption: Decodable { let p, g, x, y, k, m, c1, c2: String }
    struct TextbookSignature: Decodable { let p, g, x, y, k, h, r, s: String }
    struct SubgroupSignature: Decodable {
        let group, x, y, message, k, r, s, extra_entropy, rfc6979_k, rfc6979_r, rfc6979_s: String
    }
    struct SubgroupEncryption: Decodable { let group, x, y, m, k, c1, c2: String }
    struct Seeded: Decodable { let seed, first100, fork_label, fork_first40: String }
    struct HKDF32: Decodable { let ikm, info, okm: String }

    let groups: [Group]
    let modp_groups: [Modp]
    let textbook_encryption: [TextbookEncryption]
    let textbook_signature: [TextbookSignature]
    let subgroup_signature: [SubgroupSignature]
    let subgroup_encryption: [SubgroupEncryption]
    let seeded_random: [Seeded]
    let hkdf32: [HKDF32]

    static func load() throws -> SelfMadeVectors {
        try JSONDecoder().decode(SelfMadeVectors.self, from: VectorSources.bundled("crypto_vectors.json"))
    }
}
