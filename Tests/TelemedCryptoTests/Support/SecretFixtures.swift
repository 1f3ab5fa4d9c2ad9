import TelemedCrypto

/// Secret-key values for tests, built through the same package initialisers the key schedule
/// uses (an lp-framed SHA-256 for SK and GK_e, HKDF for the traffic keys).
enum SecretFixtures {
    static func sessionKey(_ label: String) -> SessionKey {
        var hasher = LPHasher()
        hasher.lp("test SK")
        hasher.lp(label)
        return SessionKey(hashing: hasher)
    }

    static func trafficKey(_ label: String) -> TrafficKey {
        TrafficKey(derivedFrom: sessionKey(label), info: "test traffic")
    }

    static func groupKey(_ label: String) -> GroupKey {
        var hasher = LPHasher()
        hasher.lp("test GK")
        hasher.lp(label)
        return GroupKey(hashing: hasher)
    }
}
