// The two named groups, produced by `GroupDerivation.derive` and committed here.
// `GroupDerivationTests` re-derives every value below from the seed rule.

// MARK: - Named groups

extension TelemedGroup {
    /// `telemed-2048-256`: 2048-bit p, 256-bit q (FIPS 186-4 A.1.1.2 / A.2.3).
    public static let telemed2048 = TelemedGroup(constants: NamedGroupConstants.telemed2048)
    /// `telemed-3072-256`: 3072-bit p, 256-bit q (FIPS 186-4 A.1.1.2 / A.2.3).
    public static let telemed3072 = TelemedGroup(constants: NamedGroupConstants.telemed3072)

    /// Every built-in group.
    public static var builtIn: [TelemedGroup] { [telemed2048, telemed3072] }

    /// The built-in group called `name`.
    ///
    /// - Throws: ``CryptoError/unknownGroup(_:)``.
    public static func named(_ name: String) throws(CryptoError) -> TelemedGroup {
        guard let group = builtIn.first(where: { $0.name == name }) else { throw .unknownGroup(name) }
        return group
    }

    init(constants: NamedGroupConstants) {
        self.init(
            trustedName: constants.name,
            p: NamedGroupConstants.parse(constants.p),
            q: NamedGroupConstants.parse(constants.q),
            g: NamedGroupConstants.parse(constants.g))
    }
}

// MARK: - Committed derivation output

/// The recorded output of ``GroupDerivation/derive(name:L:N:startingAttempt:attemptLimit:)``.
public struct NamedGroupConstants: Sendable {
    /// Group name (the seed rule hashes it).
    public let name: String
    /// p in bits.
    public let L: Int
    /// q in bits.
    public let N: Int
    /// p, lowercase hex.
    public let p: String
    /// q, lowercase hex.
    public let q: String
    /// g, lowercase hex.
    public let g: String
    /// domain_parameter_seed, lowercase hex (32 bytes).
    public let seed: String
    /// The successful attempt i.
    public let attempt: Int
    /// A.1.1.2 counter.
    public let counter: Int
    /// A.2.3 index.
    public let index: UInt8
    /// A.2.3 count.
    public let count: Int

    static func parse(_ hex: String) -> BigInt {
        do {
            return try BigInt(hex: hex)
        } catch {
            preconditionFailure("a built-in group constant is not hexadecimal")
        }
    }

    /// `telemed-2048-256`.
    public static let telemed2048 = NamedGroupConstants(
        name: "telemed-2048-256", L: 2048, N: 256,
        p: [
            "b167e0e05b3ba9bfb876f134eee4e714d2084fa1fa6cb2f3b2c5ac3d2060ec66",
            "71b57eaa952742318a94e1746f399b30e8c21d40b87d53aaf4dd17bd5ac6d1cb",
            "c33340d1add05716ffc52abbca7c2543e40d563533d36663da5a8341df5603a4",
            "9efba20ae2d29355406364962503adedacdb42016d245f32e45a21a5c52bc654",
            "108fe4f315fca18e5bb6468f5e343fe53f54bb6d34f19eb29a686e14100db408",
            "06d91d483c12b20291e7293e8c3fd9a287da8f2be6e2dc57dd72307d5d780741",
            "58a495b27afd4ef11dc5f56585126cce1457681b70ee379d4290b4fa6e5f8451",
            "2a44ff0fd78b5dc7b04a56cdd202b11b2122f57955b812464ece6d111768ab09",
        ].joined(),
        q: "e364a7abc5eaadf782f2cecc2a49dab0b3fbae3b426c39866af041dc02e46c7f",
        g: [
            "6e6ee491abcf64470dfa878ecc483eb0e9912606c9f07497848c57a19cbd89b9",
            "6d14c5391ec25ff2ec4e9cc40cd6741b1bf3576cdaa8a9484ce3493a1eae89f6",
            "f9c3d7585c12f72b77a903493b42d18e3a453e8b28b15a7273037155de235b2a",
            "85ab513fd96f7c3c7693dcd7b1f43ef98f08a9d9721e1d3bc0c96af874df8b17",
            "fad9f3b48f189e7f6a24f9aab3f8b46ac017b2cc489eb40c09ab0e634bf2dd5d",
            "f840e310a15f1790d5699dca706ccda96b9dcbbef59fca67cc9c1dc75d9dbbe5",
            "bc08e24d87d62df2c068fcf07be465378edf471994eccc50f3a6ecefc0fd31e9",
            "d0b49988f07243cedd8713c45733b7d6c289b010e842b4c984a7d9144fcfe2e8",
        ].joined(),
        seed: "74e7b5a188e5b243ccf50d683f30ff3acf361a344e5938996cadb579a5e90c18",
        attempt: 39, counter: 399, index: 1, count: 1)

    /// `telemed-3072-256`.
    public static let telemed3072 = NamedGroupConstants(
        name: "telemed-3072-256", L: 3072, N: 256,
        p: [
            "d43492f6732f9d28afc8db8816608de346d023f9a8c5a3094bfa320db47f5383",
            "dd566fc4056d305d8d0921f2c00a3f2da01a6855bf59a1b51463d5ebf967bd45",
            "6a95a4375c5c64fcd9936a62fc150d1b0e9ef76d9b80c0aa1134cc9b68f41efb",
            "5bfaa5185a05698a38abe54116e9cc165aaa0dad79635c66bd6cca93fdb2e011",
            "e763ff16d48a2fb55110288c9358cc2b83355e7f9e6a6dac104f1ccfa2e1ae40",
            "3578c9cced44af347262871c7057fb16f3d0d843540005506b7c24bb7f6811a5",
            "f463941feb44347755ac764e718d661c10f93f8ce02af8e3b1619f05317537b3",
            "aa5fadb55df51621f2c2d3806637bcc35936de4df5c56242e101e0483a42d272",
            "3b5c9d085a636e87c5734d09b9aaba2cfafbfc1964b677efd801cbac635f2296",
            "d30beb704246e685fc6607fd498cdb4a200c4b19ab3abbead10756994c7cf9ab",
            "d7fde548d66e825c5c7f4b19d0b469fca92f36e19fbf0d5e6d1f26642f1cfdce",
            "1e017a0e52379e211aad3724f93df84efe0ce5e766e8c6684a3d633060156901",
        ].joined(),
        q: "f372106048b8f1ced8da37d0edbf09da2466c9fc2272391afb3719737a0ad5e5",
        g: [
            "84063270c6a4c5e4d200bccc29ea415d7dbec18bc59718f24a457eb9cc777705",
            "edcaabdffadb95080744a1b2ea43970b9664c2f81b80e0cddbadb9d1eec867b9",
            "511832b7f59f9012ac6e8d3d22012546447669dd18a30ee396ca5b6c495116c2",
            "d7acad68222c6e57e132e4e3b5bd49fc09a574473653821fc97c78634e1f6f3f",
            "a02f7fd7887ca799e432cebbbb9413a5a0a17b5f49527520c19644ebcd1e9d89",
            "584a89e0debf0d22d551e3b6256b872d5ddea3d8355f9b489113078ea1acf701",
            "0b05da35306f58b3c5ce4f9eef23eb5d48f4f8b66e2bc863af130123b8269e1f",
            "a05e6272035984e3e8c5a36f91482a64af124e2212a8d7f06fa3a4499a92662b",
            "0eba0cd3672cbba15e5e659abc7bded17ccf5d4a296c39d39bf046252ff1cbd2",
            "064cd0c94cea0a1cbccc1f4f998b404abadd6a5586f19bc525f9e9b76f7c6a0f",
            "733db69adfaa7f0c3c2b931dab7601436d857feb7a85a0167e8230e6083361e6",
            "12fb084e34e656a6cfc127b5b0964e8c314e3e999ff82d9fa2d1914cbf71a8bc",
        ].joined(),
        seed: "733d320a3460f9860ad35d9747e56aa586c1669717181fb3963619b9e4cf47cc",
        attempt: 152, counter: 8579, index: 1, count: 1)
}
