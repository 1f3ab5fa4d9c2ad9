// The micro benchmarks of the performance table: the seed's operations, per group and per
// exponentiation strategy, over fixed seeded inputs. Each workload is a closure doing one
// operation; the suite runner and the ordo-one target both time these same closures.

import Crypto
@_spi(Testing) import TelemedBigInt
@_spi(Testing) import TelemedCrypto

/// One row of the table.
public struct MicroWorkload: @unchecked Sendable {
    /// The operation, e.g. "ElGamal sign".
    public let operation: String
    /// The group ("telemed-2048-256"), or "—" for symmetric operations.
    public let group: String
    /// "accelerated", "reference", or "—".
    public let variant: String
    /// Does one operation.
    public let run: () -> Void

    /// The row's label.
    public var label: String { "\(operation) | \(group) | \(variant)" }
}

/// Builds every workload over seeded inputs.
public enum MicroWorkloads {
    /// The asymmetric rows of `group` under `strategy`.
    public static func asymmetric(_ base: TelemedGroup, _ strategy: ExponentiationStrategy) -> [MicroWorkload] {
        let group = base.using(strategy)
        var rng = SeededRandom(seed: Array("bench:\(group.name)".utf8))
        let key = PrivateKey(generatingIn: group, using: &rng)
        let message = rng.bytes(200)
        let entropy = rng.bytes(32)
        let signature = key.sign(message, extraEntropy: entropy)
        let element = group.randomElement(using: &rng)
        let ciphertext = ElGamal.encrypt(element, to: key.publicKey, using: &rng)
        let prepared = key.publicKey.precomputingEncryptionTable()
        let v = strategy.rawValue
        func row(_ name: String, _ body: @escaping () -> Void) -> MicroWorkload {
            MicroWorkload(operation: name, group: group.name, variant: v, run: body)
        }
        var keyRng = SeededRandom(seed: 1)
        var encRng = SeededRandom(seed: 2)
        var rows = [
            row("ElGamal key generation") { consume(PrivateKey(generatingIn: group, using: &keyRng)) },
            row("ElGamal sign (RFC 6979)") { consume(key.sign(message, extraEntropy: entropy)) },
            row("ElGamal verify") { precondition(key.publicKey.isValidSignature(signature, for: message)) },
            row("ElGamal encrypt") { consume(ElGamal.encrypt(element, to: key.publicKey, using: &encRng)) },
            row("ElGamal decrypt") { consume(try? key.decrypt(ciphertext)) },
        ]
        if strategy == .accelerated {
            rows.append(row("ElGamal encrypt (prepared key)") { consume(ElGamal.encrypt(element, to: prepared, using: &encRng)) })
        }
        return rows
    }

    /// Raw exponentiation rows for `group`: mpz_powm, mpz_powm_sec and the comb, 256-bit exponent.
    public static func exponentiation(_ group: TelemedGroup) -> [MicroWorkload] {
        var rng = SeededRandom(seed: Array("powm:\(group.name)".utf8))
        let e = group.randomScalar(using: &rng)
        let table = FixedBaseTable(base: group.g, modulus: group.p, exponentBits: 256)
        let y = group.randomElement(using: &rng), r = group.randomElement(using: &rng)
        let f = group.randomScalar(using: &rng)
        let domain = MontgomeryDomain(modulus: group.p)
        func row(_ name: String, _ body: @escaping () -> Void) -> MicroWorkload {
            MicroWorkload(operation: name, group: group.name, variant: "—", run: body)
        }
        return [
            row("mpz_powm g^e (256-bit e)") { consume(group.g.powMod(e, group.p)) },
            row("mpz_powm_sec g^e (256-bit e)") { consume(group.g.powModSecure(e, group.p)) },
            row("comb g^e, constant-time") { consume(table.powerSecure(e)) },
            row("comb g^e, public e") { consume(table.power(e)) },
            row("y^e·r^f two mpz_powm") { consume(y.powMod(e, group.p).multipliedMod(r.powMod(f, group.p), group.p)) },
            row("y^e·r^f multi-exponentiation") { consume(domain.multiPower([y, r], [e, f])) },
            row("element check z^q, mpz_powm") { consume(y.powMod(group.q, group.p)) },
            row("element check z^q, Montgomery sliding window") { consume(domain.multiPower([y], [group.q])) },
            row("fixed-base table build (g)") { consume(FixedBaseTable(base: group.g, modulus: group.p, exponentBits: 256)) },
        ]
    }

    /// AES-256-GCM at 64 B, 1 KiB, 64 KiB; SHA-256 and HKDF.
    public static func symmetric() -> [MicroWorkload] {
        var rng = SeededRandom(seed: 3)
        // SealingKey / OpeningKey cannot be built outside the package (they own the nonces), so
        // the benchmark times the AES-GCM core they call (swift-crypto's AES.GCM) directly, with
        // the protocol's counter nonces.
        let key = SymmetricKey(data: rng.bytes(32))
        let aad = rng.bytes(48)
        var rows: [MicroWorkload] = []
        func row(_ name: String, _ body: @escaping () -> Void) -> MicroWorkload {
            MicroWorkload(operation: name, group: "—", variant: "—", run: body)
        }
        for (size, label) in [(64, "64 B"), (1_024, "1 KiB"), (65_536, "64 KiB")] {
            let plaintext = rng.bytes(size)
            let nonce7: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]
            let sealed = (try? gcmSeal(key: key, nonce: nonce7, plaintext: plaintext, aad: aad)) ?? []
            var seq: UInt64 = 0
            rows.append(row("AES-256-GCM seal \(label)") {
                seq &+= 1
                let nonce = [0, 0, 0, 0] + (0..<8).map { UInt8(truncatingIfNeeded: seq >> (56 - 8 * $0)) }
                consume(try? gcmSeal(key: key, nonce: nonce, plaintext: plaintext, aad: aad))
            })
            rows.append(row("AES-256-GCM open \(label)") {
                consume(try? gcmOpen(key: key, nonce: nonce7, ciphertextAndTag: sealed, aad: aad))
            })
        }
        let block = rng.bytes(1_024)
        let ikm = rng.bytes(32)
        rows.append(row("SHA-256 1 KiB") { consume(Hashing.sha256(block)) })
        rows.append(row("HKDF-SHA-256 (32 B out)") { consume(KeyDerivation.hkdfSHA256(ikm: ikm, salt: [], info: Array("TELEMED-V1 d2p".utf8), outputByteCount: 32)) })
        return rows
    }
}

// MARK: - AES-GCM as the protocol calls it

/// ciphertext ‖ tag under a 12-byte nonce, as `SealingKey` produces it.
private func gcmSeal(key: SymmetricKey, nonce: [UInt8], plaintext: [UInt8], aad: [UInt8]) throws -> [UInt8] {
    let box = try AES.GCM.seal(plaintext, using: key, nonce: try AES.GCM.Nonce(data: nonce), authenticating: aad)
    return Array(box.ciphertext) + Array(box.tag)
}

/// The plaintext of ciphertext ‖ tag, as `OpeningKey` checks it.
private func gcmOpen(key: SymmetricKey, nonce: [UInt8], ciphertextAndTag: [UInt8], aad: [UInt8]) throws -> [UInt8] {
    let split = ciphertextAndTag.count - 16
    let box = try AES.GCM.SealedBox(nonce: try AES.GCM.Nonce(data: nonce), ciphertext: Array(ciphertextAndTag[..<split]),
                                    tag: Array(ciphertextAndTag[split...]))
    return Array(try AES.GCM.open(box, using: key, authenticating: aad))
}
