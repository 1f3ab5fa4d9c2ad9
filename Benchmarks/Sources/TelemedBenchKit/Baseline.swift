// The limit baseline over values of a real handshake (see CBaseline/baseline.h).

import CBaseline
@_spi(Testing) import TelemedCrypto
import TelemedProtocol

/// The plain-GMP exponentiations of one doctor-side handshake, version 1 or version 2.
public final class BaselineBench {
    let handle: OpaquePointer

    /// Prepares the inputs of one handshake in `group` from seeded keys.
    public init(group: TelemedGroup) throws {
        let g = group.using(.reference)
        var rng = SeededRandom(seed: Array("baseline:\(g.name)".utf8))
        let doctor = PrivateKey(generatingIn: g, using: &rng)
        let patient = PrivateKey(generatingIn: g, using: &rng)
        let message = rng.bytes(400)
        let signature = patient.sign(message, using: &rng)
        let e = BigInt(bigEndian: Hashing.sha256(message).bytes).modulo(g.q)
        let ciphertext = ElGamal.encrypt(g.randomElement(using: &rng), to: doctor.publicKey, using: &rng)
        let (u, kEnc, kSig) = (g.randomScalar(using: &rng), g.randomScalar(using: &rng), g.randomScalar(using: &rng))
        // Version 2: the patient's share A = g^a and the doctor's ephemeral b.
        let share = g.randomElement(using: &rng)
        let b = g.randomScalar(using: &rng)
        func hex(_ v: BigInt) -> String { v.toString(radix: 16) }
        let x = BigInt(bigEndian: doctor.scalarBytes)
        guard let made = telemed_baseline_new(
            hex(g.p), hex(g.q), hex(g.g), hex(x), hex(patient.publicKey.y), hex(signature.r), hex(signature.s),
            hex(e), hex(ciphertext.c1), hex(ciphertext.c2), hex(u), hex(kEnc), hex(kSig), hex(share), hex(b)) else {
            throw BenchError.setup("baseline inputs")
        }
        handle = made
        guard telemed_baseline_run(handle) != 0, telemed_baseline_run_v2(handle) != 0 else {
            throw BenchError.setup("baseline checks failed")
        }
    }

    deinit { telemed_baseline_free(handle) }

    /// One run of `version`'s exponentiations; the result is nonzero when every check passed.
    @discardableResult
    public func run(_ version: ProtocolVersion) -> UInt64 {
        switch version {
        case .v1: return telemed_baseline_run(handle)
        case .v2: return telemed_baseline_run_v2(handle)
        }
    }

    /// (mpz_powm calls, mpz_powm_sec calls) per run of `version`.
    public static func counts(_ version: ProtocolVersion) -> (public: Int, secret: Int) {
        var a: Int32 = 0, b: Int32 = 0
        telemed_baseline_counts(Int32(version.rawValue), &a, &b)
        return (Int(a), Int(b))
    }

    /// The linked GMP's version.
    public static var gmpVersion: String { String(cString: telemed_baseline_gmp_version()) }
}
