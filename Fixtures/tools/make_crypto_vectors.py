#!/usr/bin/env python3
"""Writes Tests/TelemedCryptoTests/Vectors/crypto_vectors.json: known answers for TelemedCrypto,
computed here with nothing but Python integers, hashlib and hmac (no Swift code involved).

Usage:  python3 Fixtures/tools/make_crypto_vectors.py [--skip-3072]

Deterministic: every "random" value comes from random.Random(20261126), so a re-run writes the
same file. Deriving telemed-3072-256 takes several minutes (about 8,600 Miller-Rabin tests on
3072-bit numbers); --skip-3072 leaves that group out of the file.
"""
import hashlib
import hmac
import json
import os
import random
import sys

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TelemedCryptoTests", "Vectors",
                   "crypto_vectors.json")
RNG = random.Random(20261126)

# ---------------------------------------------------------------- primes

SMALL_PRIMES = [n for n in range(3, 5000, 2) if all(n % d for d in range(3, int(n ** 0.5) + 1, 2))]


def is_probable_prime(n, rounds=40):
    if n < 2:
        return False
    for sp in SMALL_PRIMES:
        if n % sp == 0:
            return n == sp
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    witness = random.Random(n)
    for _ in range(rounds):
        x = pow(witness.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def random_prime(bits):
    while True:
        n = RNG.getrandbits(bits) | (1 << (bits - 1)) | 1
        if is_probable_prime(n):
            return n


def sha256(data):
    return hashlib.sha256(data).digest()


def hexw(value, width):
    return value.to_bytes(width, "big").hex()


def hexmin(value):
    return format(value, "x") if value else "0"

# ---------------------------------------------------------------- FIPS 186-4 groups (PROTOCOL.md §4)


def derive_group(name, L, N=256):
    outlen = 256
    n = -(-L // outlen) - 1
    b = L - 1 - n * outlen
    attempt = 0
    while True:
        seed = sha256(name.encode("ascii") + attempt.to_bytes(4, "big"))
        u = int.from_bytes(sha256(seed), "big") % (1 << (N - 1))
        q = (1 << (N - 1)) + u + 1 - (u % 2)
        if is_probable_prime(q):
            s = int.from_bytes(seed, "big")
            offset = 1
            for counter in range(4 * L):
                v = [int.from_bytes(sha256(((s + offset + j) % (1 << 256)).to_bytes(32, "big")), "big")
                     for j in range(n + 1)]
                w = sum(v[j] << (j * outlen) for j in range(n)) + ((v[n] % (1 << b)) << (n * outlen))
                x = w + (1 << (L - 1))
                p = x - (x % (2 * q) - 1)
                if p >= (1 << (L - 1)) and is_probable_prime(p):
                    e = (p - 1) // q
                    for count in range(1, 1 << 16):
                        w = int.from_bytes(sha256(seed + b"ggen" + bytes([1]) + count.to_bytes(2, "big")), "big")
                        g = pow(w, e, p)
                        if g >= 2:
                            return dict(name=name, L=L, p=p, q=q, g=g, seed=seed, attempt=attempt,
                                        counter=counter, index=1, count=count)
                offset += n + 1
        attempt += 1

# ---------------------------------------------------------------- RFC 2409 / 3526 MODP primes


def pi_bits(bits):
    """floor(pi * 2^bits), by Machin's formula in fixed point with 64 guard bits."""
    one = 1 << (bits + 64)

    def arctan_inv(x):
        total = term = one // x
        k, sign = 1, -1
        while term:
            term //= x * x
            k += 2
            total += sign * (term // k)
            sign = -sign
        return total
    return (4 * (4 * arctan_inv(5) - arctan_inv(239))) >> 64


MODP_OFFSETS = {1024: 129093, 1536: 741804, 2048: 124476, 3072: 1690314, 4096: 240904}


def modp_prime(bits):
    return 2 ** bits - 2 ** (bits - 64) - 1 + 2 ** 64 * (pi_bits(bits - 130) + MODP_OFFSETS[bits])

# ---------------------------------------------------------------- §4 signatures


def rfc6979_nonces(q, x, h1, extra=b""):
    qlen = q.bit_length()
    rlen = (qlen + 7) // 8

    def bits2int(data):
        v = int.from_bytes(data, "big")
        return v >> (len(data) * 8 - qlen) if len(data) * 8 > qlen else v

    def mac(key, msg):
        return hmac.new(key, msg, hashlib.sha256).digest()
    xo = x.to_bytes(rlen, "big")
    ho = (bits2int(h1) % q).to_bytes(rlen, "big")
    v, k = b"\x01" * 32, b"\x00" * 32
    k = mac(k, v + b"\x00" + xo + ho + extra)
    v = mac(k, v)
    k = mac(k, v + b"\x01" + xo + ho + extra)
    v = mac(k, v)
    while True:
        t = b""
        while len(t) * 8 < qlen:
            v = mac(k, v)
            t += v
        cand = bits2int(t)
        if 1 <= cand < q:
            yield cand
        k = mac(k, v + b"\x00")
        v = mac(k, v)


def subgroup_sign(grp, x, k, message):
    p, q, g = grp["p"], grp["q"], grp["g"]
    e = int.from_bytes(sha256(message), "big") % q
    r = pow(g, k, p)
    rp = r % q
    s = pow(k, -1, q) * (e - x * rp) % q
    return (r, s) if rp and s else None


def subgroup_cases(grp, count):
    L = (grp["p"].bit_length() + 7) // 8
    out = []
    for index in range(count):
        x = RNG.randrange(1, grp["q"])
        message = bytes(RNG.getrandbits(8) for _ in range(RNG.randrange(0, 80)))
        k = RNG.randrange(1, grp["q"])
        r, s = subgroup_sign(grp, x, k, message)
        extra = bytes(RNG.getrandbits(8) for _ in range(32)) if index % 2 == 0 else b""
        h1 = sha256(message)
        for k6979 in rfc6979_nonces(grp["q"], x, h1, extra):
            sig = subgroup_sign(grp, x, k6979, message)
            if sig:
                break
        out.append(dict(group=grp["name"], x=hexw(x, 32), y=hexw(pow(grp["g"], x, grp["p"]), L),
                        message=message.hex(), k=hexw(k, 32), r=hexw(r, L), s=hexw(s, 32),
                        extra_entropy=extra.hex(), rfc6979_k=hexw(k6979, 32),
                        rfc6979_r=hexw(sig[0], L), rfc6979_s=hexw(sig[1], 32)))
    return out


def subgroup_encryption_cases(grp, count):
    p, q, g = grp["p"], grp["q"], grp["g"]
    L = (p.bit_length() + 7) // 8
    out = []
    for _ in range(count):
        x, t, k = (RNG.randrange(1, q) for _ in range(3))
        y, m = pow(g, x, p), pow(g, t, p)
        out.append(dict(group=grp["name"], x=hexw(x, 32), y=hexw(y, L), m=hexw(m, L), k=hexw(k, 32),
                        c1=hexw(pow(g, k, p), L), c2=hexw(m * pow(y, k, p) % p, L)))
    return out

# ---------------------------------------------------------------- textbook ElGamal


def textbook_cases(count):
    enc, sig = [], []
    for index in range(count):
        p = random_prime([256, 512, 1024][index % 3])
        g = RNG.choice([2, 3, 5, 7])
        x = RNG.randrange(2, p - 1)
        y = pow(g, x, p)
        k = RNG.randrange(2, p - 1)
        m = RNG.randrange(1, p)
        enc.append(dict(p=hexmin(p), g=hexmin(g), x=hexmin(x), y=hexmin(y), k=hexmin(k), m=hexmin(m),
                        c1=hexmin(pow(g, k, p)), c2=hexmin(m * pow(y, k, p) % p)))
        while True:
            k = RNG.randrange(2, p - 1)
            try:
                k_inv = pow(k, -1, p - 1)
                break
            except ValueError:
                continue
        h = RNG.randrange(0, p - 1)
        r = pow(g, k, p)
        s = (h - x * r) * k_inv % (p - 1)
        sig.append(dict(p=hexmin(p), g=hexmin(g), x=hexmin(x), y=hexmin(y), k=hexmin(k), h=hexmin(h),
                        r=hexmin(r), s=hexmin(s)))
    return enc, sig

# ---------------------------------------------------------------- SeededRandom, HKDF


def lp(data):
    return len(data).to_bytes(4, "big") + data


def seeded_stream(key, nbytes):
    out, i = b"", 0
    while len(out) < nbytes:
        out += sha256(key + i.to_bytes(8, "big"))
        i += 1
    return out[:nbytes]


def seeded_key(seed_bytes):
    return sha256(lp(b"TelemedCrypto.SeededRandom v1") + lp(seed_bytes))


def seeded_cases():
    out = []
    for seed in (0, 1, 20261126, 2 ** 64 - 1):
        key = seeded_key(seed.to_bytes(8, "big"))
        fork = sha256(lp(b"TelemedCrypto.SeededRandom fork") + lp(key) + lp(b"patient-1"))
        out.append(dict(seed=str(seed), first100=seeded_stream(key, 100).hex(),
                        fork_label="patient-1", fork_first40=seeded_stream(fork, 40).hex()))
    return out


def hkdf32(ikm, info):
    prk = hmac.new(b"\x00" * 32, ikm, hashlib.sha256).digest()   # empty salt = 32 zero bytes
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def hkdf_cases():
    out = []
    for info in ("TELEMED-V1 d2p", "TELEMED-V1 p2d", "TELEMED-V1 gk-secret"):
        ikm = bytes(RNG.getrandbits(8) for _ in range(32))
        out.append(dict(ikm=ikm.hex(), info=info, okm=hkdf32(ikm, info.encode("ascii")).hex()))
    return out

# ---------------------------------------------------------------- main


def group_json(grp):
    L = (grp["p"].bit_length() + 7) // 8
    return dict(name=grp["name"], p=hexw(grp["p"], L), q=hexw(grp["q"], 32), g=hexw(grp["g"], L),
                seed=grp["seed"].hex(), attempt=grp["attempt"], counter=grp["counter"],
                index=grp["index"], count=grp["count"])


def main():
    names = [("telemed-2048-256", 2048)]
    if "--skip-3072" not in sys.argv:
        names.append(("telemed-3072-256", 3072))
    groups = [derive_group(name, L) for name, L in names]
    enc, sig = textbook_cases(6)
    doc = {
        "generator": "Fixtures/tools/make_crypto_vectors.py (Python integers, hashlib, hmac)",
        "groups": [group_json(g) for g in groups],
        "modp_groups": [dict(name="modp/ietf/%d" % bits, p=hexmin(modp_prime(bits)), g="2")
                        for bits in sorted(MODP_OFFSETS)],
        "textbook_encryption": enc,
        "textbook_signature": sig,
        "subgroup_signature": [case for g in groups for case in subgroup_cases(g, 4)],
        "subgroup_encryption": [case for g in groups for case in subgroup_encryption_cases(g, 2)],
        "seeded_random": seeded_cases(),
        "hkdf32": hkdf_cases(),
    }
    with open(OUT, "w") as handle:
        json.dump(doc, handle, indent=1)
        handle.write("\n")
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
