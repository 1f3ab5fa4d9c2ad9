#!/usr/bin/env python3
"""Independent Python reference for the byte-level parts of Telemed Protocol v1 (PROTOCOL.md §4).

This file exists to cross-check the Swift implementation. It is written from the spec alone and
reads nothing the Swift code produces. Big numbers are Python ints; AES-GCM, HKDF and HMAC come
from the standard library and the `cryptography` package.

Usage (from the package root):

    python3 Fixtures/reference/telemed_ref.py --groups          # derive both groups (minutes)
    python3 Fixtures/reference/telemed_ref.py --check-groups    # re-check groups.json (seconds)
    python3 Fixtures/reference/telemed_ref.py --worked-example  # write worked-example.json
    python3 Fixtures/reference/telemed_ref.py --signature-vectors  # write signature-vectors.json
    python3 Fixtures/reference/telemed_ref.py --check           # recompute and compare every file

Every secret in this file is a fixed test value. Nothing here is fit for production use.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = Path(__file__).resolve().parent
GROUPS_PATH = HERE / "groups.json"
WORKED_EXAMPLE_PATH = HERE / "worked-example.json"
SIGNATURE_VECTORS_PATH = HERE / "signature-vectors.json"
# ../shared/vectors relative to the package root (Fixtures/reference/ is two levels down).
SHARED_VECTORS = HERE.parent.parent.parent / "shared" / "vectors"


# MARK: - Encoding helpers


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def u64(n: int) -> bytes:
    """`u64(n)`: 8 bytes big-endian."""
    return n.to_bytes(8, "big")


def lp(b: bytes) -> bytes:
    """`lp(b)` = u32be(len(b)) ‖ b."""
    return u32(len(b)) + b


def lp_all(*fields: bytes) -> bytes:
    """Concatenation of lp(field) for every field, as used in every hash, signature and AAD input."""
    return b"".join(lp(f) for f in fields)


def label(text: str) -> bytes:
    return text.encode("ascii")


def os2ip(b: bytes) -> int:
    return int.from_bytes(b, "big")


def scalar_bytes(n: int) -> bytes:
    """Scalars mod q: exactly 32 bytes big-endian (also RFC 6979 int2octets for qlen = 256)."""
    return n.to_bytes(32, "big")


ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def id_bytes(ident: str) -> bytes:
    if not ID_PATTERN.fullmatch(ident):
        raise ValueError(f"invalid id {ident!r}")
    return ident.encode("ascii")


def hex_of(b: bytes) -> str:
    return b.hex()  # lowercase


# MARK: - Primality


def _small_primes(limit: int) -> list[int]:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for i in range(2, math.isqrt(limit) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    return [i for i in range(limit) if sieve[i]]


SMALL_PRIMES = _small_primes(20_000)
SMALL_PRIMES_PRODUCT = math.prod(SMALL_PRIMES)
MILLER_RABIN_ROUNDS = 64  # FIPS 186-4 Table C.1 asks for at most 64 rounds at these sizes


def _miller_rabin_base(n: int, round_index: int) -> int:
    """Deterministic base in [2, n-2], derived from a fixed label, the round and the candidate."""
    width = (n.bit_length() + 7) // 8
    digest = sha256(b"telemed-ref miller-rabin" + u32(round_index) + n.to_bytes(width, "big"))
    return 2 + os2ip(digest) % (n - 3)


def is_probable_prime(n: int, rounds: int = MILLER_RABIN_ROUNDS) -> bool:
    """Trial division by the primes below 20000, then `rounds` Miller-Rabin rounds."""
    if n < 2:
        return False
    if n < SMALL_PRIMES[-1] ** 2:
        if n in SMALL_PRIMES:
            return True
        return all(n % sp for sp in SMALL_PRIMES if sp * sp <= n)
    if math.gcd(n, SMALL_PRIMES_PRODUCT % n) != 1:
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for i in range(rounds):
        x = pow(_miller_rabin_base(n, i), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


# MARK: - Groups (FIPS 186-4 A.1.1.2 and A.2.3)


@dataclass(frozen=True)
class Group:
    name: str
    p: int
    q: int
    g: int

    @property
    def L(self) -> int:
        """Byte length of p."""
        return (self.p.bit_length() + 7) // 8

    def element(self, z: int) -> bytes:
        """A group element as exactly L bytes big-endian."""
        return z.to_bytes(self.L, "big")


@dataclass(frozen=True)
class GroupDerivation:
    group: Group
    seed: bytes
    attempt: int
    counter: int
    index: int
    count: int

    def to_json(self) -> dict:
        return {
            "name": self.group.name,
            "L_bits": self.group.p.bit_length(),
            "N_bits": self.group.q.bit_length(),
            "p": format(self.group.p, "x"),
            "q": format(self.group.q, "x"),
            "g": format(self.group.g, "x"),
            "seed": hex_of(self.seed),
            "attempt": self.attempt,
            "counter": self.counter,
            "index": self.index,
            "count": self.count,
        }


GROUP_PARAMETERS = {"telemed-2048-256": (2048, 256), "telemed-3072-256": (3072, 256)}
OUTLEN = 256  # SHA-256 output bits
SEEDLEN = 256
GENERATOR_INDEX = 1


def attempt_seed(name: str, attempt: int) -> bytes:
    """Seed of attempt i: SHA-256(ASCII name ‖ u32be(i))."""
    return sha256(name.encode("ascii") + u32(attempt))


def q_from_seed(seed: bytes, N: int) -> int:
    """A.1.1.2 steps 6-7."""
    U = os2ip(sha256(seed)) % (1 << (N - 1))
    return (1 << (N - 1)) + U + 1 - (U % 2)


def p_candidate(seed: bytes, q: int, L: int, counter: int) -> int:
    """A.1.1.2 steps 11.1-11.5 for one counter value; the offset is 1 + counter·(n+1)."""
    n = math.ceil(L / OUTLEN) - 1
    b = L - 1 - n * OUTLEN
    seed_int = os2ip(seed)
    offset = 1 + counter * (n + 1)
    V = [
        os2ip(sha256(((seed_int + offset + j) % (1 << SEEDLEN)).to_bytes(SEEDLEN // 8, "big")))
        for j in range(n + 1)
    ]
    W = sum(V[j] << (j * OUTLEN) for j in range(n)) + ((V[n] % (1 << b)) << (n * OUTLEN))
    X = W + (1 << (L - 1))
    c = X % (2 * q)
    return X - (c - 1)


def generator(p: int, q: int, seed: bytes, index: int) -> tuple[int, int]:
    """A.2.3: returns (g, count)."""
    e = (p - 1) // q
    for count in range(1, 1 << 16):
        W = os2ip(sha256(seed + b"ggen" + bytes([index]) + u16(count)))
        g = pow(W, e, p)
        if g >= 2:
            return g, count
    raise RuntimeError("A.2.3 ran out of counts")


def derive_group(name: str, progress: bool = True) -> GroupDerivation:
    """The first attempt i = 0, 1, … for which A.1.1.2 returns VALID, then g by A.2.3."""
    L, N = GROUP_PARAMETERS[name]
    attempt = 0
    started = time.monotonic()
    while True:
        seed = attempt_seed(name, attempt)
        q = q_from_seed(seed, N)
        if is_probable_prime(q):
            if progress:
                print(f"  {name}: attempt {attempt}: q prime, searching p", file=sys.stderr)
            for counter in range(4 * L):
                p = p_candidate(seed, q, L, counter)
                if p >= 1 << (L - 1) and is_probable_prime(p):
                    g, count = generator(p, q, seed, GENERATOR_INDEX)
                    if progress:
                        elapsed = time.monotonic() - started
                        print(f"  {name}: VALID at attempt {attempt}, counter {counter} "
                              f"({elapsed:.0f} s)", file=sys.stderr)
                    return GroupDerivation(Group(name, p, q, g), seed, attempt, counter,
                                           GENERATOR_INDEX, count)
            if progress:
                print(f"  {name}: attempt {attempt}: no p within 4L counters", file=sys.stderr)
        attempt += 1


def check_group_record(record: dict) -> Group:
    """Fast check of one groups.json record: re-derives q, p and g from its seed at the recorded
    attempt and counter (it does not re-prove that earlier attempts and counters fail)."""
    name = record["name"]
    L, N = GROUP_PARAMETERS[name]
    p, q, g = (int(record[k], 16) for k in ("p", "q", "g"))
    seed = bytes.fromhex(record["seed"])
    assert seed == attempt_seed(name, record["attempt"]), f"{name}: seed"
    assert q == q_from_seed(seed, N) and q.bit_length() == N, f"{name}: q"
    assert p == p_candidate(seed, q, L, record["counter"]) and p.bit_length() == L, f"{name}: p"
    assert 0 <= record["counter"] <= 4 * L - 1, f"{name}: counter"
    assert is_probable_prime(q) and is_probable_prime(p), f"{name}: primality"
    assert (p - 1) % q == 0, f"{name}: q | p-1"
    assert (g, record["count"]) == generator(p, q, seed, record["index"]), f"{name}: g"
    assert pow(g, q, p) == 1, f"{name}: g order"
    return Group(name, p, q, g)


def load_groups() -> dict[str, Group]:
    records = json.loads(GROUPS_PATH.read_text())["groups"]
    return {r["name"]: check_group_record(r) for r in records}


# MARK: - Elements and ElGamal


def is_valid_element(group: Group, z: int) -> bool:
    """1 < z < p-1 and z^q ≡ 1 (mod p)."""
    return 1 < z < group.p - 1 and pow(z, group.q, group.p) == 1


def public_key(group: Group, x: int) -> int:
    return pow(group.g, x, group.p)


def elgamal_encrypt(group: Group, y: int, M: int, k: int) -> tuple[int, int]:
    """c1 = g^k, c2 = M·y^k mod p, with an explicit ephemeral k in [1, q-1]."""
    assert 1 <= k < group.q
    return pow(group.g, k, group.p), M * pow(y, k, group.p) % group.p


def elgamal_decrypt(group: Group, x: int, c1: int, c2: int) -> int:
    """M = c2·(c1^x)^-1 mod p."""
    return c2 * pow(pow(c1, x, group.p), -1, group.p) % group.p


# MARK: - Signatures (hash-then-sign ElGamal in the subgroup, RFC 6979 §3.2 nonces + k')


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def rfc6979_candidates(q: int, x: int, h1: bytes, extra: bytes) -> Iterator[int]:
    """Successive nonce candidates k of RFC 6979 §3.2 (H = SHA-256, qlen = 256) with the
    additional data k' of §3.6 appended after bits2octets(h1) in steps d and f.

    Every candidate bits2int(T) is yielded, in range or not; the caller refuses those outside
    [1, q-1] (and those giving r' = 0 or s = 0) and asks for the next. Step h.3's retry
    (K = HMAC_K(V ‖ 0x00), V = HMAC_K(V)) does not include k', as in the RFC."""
    assert q.bit_length() == 256
    x_octets = scalar_bytes(x)
    h1_octets = scalar_bytes(os2ip(h1) % q)  # bits2octets(h1); bits2int(h1) = int(h1) as hlen = qlen
    V = b"\x01" * 32
    K = b"\x00" * 32
    K = hmac_sha256(K, V + b"\x00" + x_octets + h1_octets + extra)  # step d
    V = hmac_sha256(K, V)  # step e
    K = hmac_sha256(K, V + b"\x01" + x_octets + h1_octets + extra)  # step f
    V = hmac_sha256(K, V)  # step g
    while True:  # step h
        V = hmac_sha256(K, V)  # tlen reaches qlen after one block
        yield os2ip(V)
        K = hmac_sha256(K, V + b"\x00")
        V = hmac_sha256(K, V)


@dataclass(frozen=True)
class Signature:
    r: int  # sig_r, a group element
    s: int  # sig_s, a scalar
    k: int  # the nonce that produced it (recorded for the fixtures only)
    h1: bytes
    candidates_skipped: int  # step h.3 candidates refused before k


def sign(group: Group, x: int, signed: bytes, extra: bytes) -> Signature:
    """h1 = SHA-256(signed); e = int(h1) mod q; r = g^k; r' = r mod q; s = k^-1(e - x·r') mod q."""
    assert len(extra) == 32
    h1 = sha256(signed)
    e = os2ip(h1) % group.q
    for skipped, k in enumerate(rfc6979_candidates(group.q, x, h1, extra)):
        if not 1 <= k < group.q:
            continue
        r = pow(group.g, k, group.p)
        r_prime = r % group.q
        s = pow(k, -1, group.q) * (e - x * r_prime) % group.q
        if r_prime != 0 and s != 0:
            return Signature(r, s, k, h1, skipped)
    raise AssertionError("unreachable")


def verify(group: Group, y: int, signed: bytes, r: int, s: int) -> bool:
    """sig_r valid as an element, r' ≠ 0, 0 < s < q, and g^e ≡ y^r'·r^s (mod p)."""
    if not is_valid_element(group, r):
        return False
    r_prime = r % group.q
    if r_prime == 0 or not 0 < s < group.q:
        return False
    e = os2ip(sha256(signed)) % group.q
    return pow(group.g, e, group.p) == pow(y, r_prime, group.p) * pow(r, s, group.p) % group.p


# MARK: - Signed bytes and AAD (the §4 message table)


def key_verification_signed(group: Group, id_i: str, id_gwn: str, ts_i: int, rn_i: bytes,
                            c1: int, c2: int) -> bytes:
    return lp_all(label("TELEMED-V1 KEY_VERIFICATION"), label(group.name), id_bytes(id_i),
                  id_bytes(id_gwn), u64(ts_i), rn_i, group.element(c1), group.element(c2))


def session_token_signed(group: Group, id_gwn: str, id_i: str, ts_gwn: int, rn_gwn: bytes,
                         rn_i: bytes, c1: int, c2: int) -> bytes:
    return lp_all(label("TELEMED-V1 SESSION_TOKEN"), label(group.name), id_bytes(id_gwn),
                  id_bytes(id_i), u64(ts_gwn), rn_gwn, rn_i, group.element(c1), group.element(c2))


def group_key_aad(id_gwn: str, id_i: str, epoch: int, seq: int, members: int) -> bytes:
    return lp_all(label("TELEMED-V1 GROUP_KEY"), id_bytes(id_gwn), id_bytes(id_i), u64(epoch),
                  u64(seq), u64(members))


def enc_msg_aad(id_gwn: str, epoch: int, seq: int, ts: int) -> bytes:
    return lp_all(label("TELEMED-V1 ENC_MSG"), id_bytes(id_gwn), u64(epoch), u64(seq), u64(ts))


def enc_msg_signed(group: Group, id_gwn: str, epoch: int, seq: int, ts: int, ct: bytes) -> bytes:
    return lp_all(label("TELEMED-V1 ENC_MSG SIG"), label(group.name), id_bytes(id_gwn), u64(epoch),
                  u64(seq), u64(ts), ct)


def dec_msg_aad(id_i: str, id_gwn: str, seq: int) -> bytes:
    return lp_all(label("TELEMED-V1 DEC_MSG"), id_bytes(id_i), id_bytes(id_gwn), u64(seq))


def dec_msg_plaintext(epoch: int, seq: int) -> bytes:
    return u64(epoch) + u64(seq)


def disconnect_aad(sender: str, receiver: str, seq: int) -> bytes:
    return lp_all(label("TELEMED-V1 DISCONNECT"), id_bytes(sender), id_bytes(receiver), u64(seq))


# MARK: - Derivations


def sk_input(group: Group, K: int, K_gwn: int, ts_i: int, ts_gwn: int, rn_i: bytes,
             rn_gwn: bytes, id_i: str, id_gwn: str) -> bytes:
    return lp_all(label("TELEMED-V1 SK"), group.element(K), group.element(K_gwn), u64(ts_i),
                  u64(ts_gwn), rn_i, rn_gwn, id_bytes(id_i), id_bytes(id_gwn))


def skv_input(sk: bytes, ts: int) -> bytes:
    return lp_all(label("TELEMED-V1 SKV"), sk, u64(ts))


def hkdf_sha256(ikm: bytes, info: str) -> bytes:
    """HKDF-SHA-256 with an empty salt (RFC 5869: a zero-filled HashLen key), 32 bytes out."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"", info=label(info)).derive(ikm)


def traffic_keys(sk: bytes) -> tuple[bytes, bytes]:
    """(k_d2p, k_p2d)."""
    return hkdf_sha256(sk, "TELEMED-V1 d2p"), hkdf_sha256(sk, "TELEMED-V1 p2d")


def gk_secret(x_gwn: int) -> bytes:
    """k_gk = HKDF-SHA-256(int2octets(x_GWN), empty salt, "TELEMED-V1 gk-secret")."""
    return hkdf_sha256(scalar_bytes(x_gwn), "TELEMED-V1 gk-secret")


def gk_input(epoch: int, rn_e: bytes, members: dict[str, bytes], k_gk: bytes) -> bytes:
    """Members are ordered by their id bytes (bytes comparison is memcmp order, prefix first)."""
    ordered = [members[i] for i in sorted(members, key=id_bytes)]
    return lp_all(label("TELEMED-V1 GK"), u64(epoch), rn_e, *ordered, k_gk)


# MARK: - AES-256-GCM


def gcm_nonce(seq: int) -> bytes:
    """0x00000000 ‖ u64(seq)."""
    return b"\x00" * 4 + u64(seq)


def seal(key: bytes, seq: int, aad: bytes, plaintext: bytes) -> bytes:
    """ct = GCM ciphertext ‖ 16-byte tag."""
    return AESGCM(key).encrypt(gcm_nonce(seq), plaintext, aad)


def open_sealed(key: bytes, seq: int, aad: bytes, ct: bytes) -> bytes:
    return AESGCM(key).decrypt(gcm_nonce(seq), ct, aad)


# MARK: - Messages (compact JSON, keys in the table's order)


def compact_json(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)


def frame(body: str) -> bytes:
    data = body.encode("utf-8")
    assert 1 <= len(data) <= 65536
    return u32(len(data)) + data


def key_verification_json(group: Group, id_i: str, id_gwn: str, ts_i: int, rn_i: bytes, c1: int,
                          c2: int, sig: Signature) -> dict:
    return {"opcode": 10, "group": group.name, "id_i": id_i, "id_gwn": id_gwn, "ts_i": ts_i,
            "rn_i": hex_of(rn_i), "c1": hex_of(group.element(c1)), "c2": hex_of(group.element(c2)),
            "sig_r": hex_of(group.element(sig.r)), "sig_s": hex_of(scalar_bytes(sig.s))}


def key_confirmation_json(id_i: str, ts: int, skv: bytes) -> dict:
    return {"opcode": 11, "id_i": id_i, "ts": ts, "skv": hex_of(skv)}


def session_token_json(group: Group, id_gwn: str, id_i: str, ts_gwn: int, rn_gwn: bytes,
                       rn_i: bytes, c1: int, c2: int, sig: Signature) -> dict:
    return {"opcode": 20, "group": group.name, "id_gwn": id_gwn, "id_i": id_i, "ts_gwn": ts_gwn,
            "rn_gwn": hex_of(rn_gwn), "rn_i": hex_of(rn_i), "c1": hex_of(group.element(c1)),
            "c2": hex_of(group.element(c2)), "sig_r": hex_of(group.element(sig.r)),
            "sig_s": hex_of(scalar_bytes(sig.s))}


def group_key_json(epoch: int, seq: int, members: int, ct: bytes) -> dict:
    return {"opcode": 30, "epoch": epoch, "seq": seq, "members": members, "ct": hex_of(ct)}


def enc_msg_json(group: Group, epoch: int, seq: int, ts: int, ct: bytes, sig: Signature) -> dict:
    return {"opcode": 40, "epoch": epoch, "seq": seq, "ts": ts, "ct": hex_of(ct),
            "sig_r": hex_of(group.element(sig.r)), "sig_s": hex_of(scalar_bytes(sig.s))}


def dec_msg_json(id_i: str, seq: int, ct: bytes) -> dict:
    return {"opcode": 50, "id_i": id_i, "seq": seq, "ct": hex_of(ct)}


def disconnect_json(seq: int, ct: bytes) -> dict:
    return {"opcode": 60, "seq": seq, "ct": hex_of(ct)}


def rejected_json() -> dict:
    return {"opcode": 70}


# MARK: - Worked example (§6)


def fixed_scalar(q: int, name: str) -> int:
    """A fixed test scalar in [1, q-1], derived from a label so the inputs are reproducible."""
    return os2ip(sha256(b"telemed-ref worked-example " + label(name))) % (q - 1) + 1


def fixed_bytes(name: str) -> bytes:
    return sha256(b"telemed-ref worked-example " + label(name))


def worked_example(group: Group) -> dict:
    """One complete session on `group` per §6; every input is fixed and recorded."""
    q = group.q
    id_i, id_gwn = "patient1", "doctor"
    x_i, x_gwn = fixed_scalar(q, "x_i"), fixed_scalar(q, "x_gwn")
    t, u = fixed_scalar(q, "t"), fixed_scalar(q, "u")
    k_enc_i, k_enc_gwn = fixed_scalar(q, "k_enc_i"), fixed_scalar(q, "k_enc_gwn")
    kp_kv, kp_st, kp_enc = (fixed_bytes(n) for n in ("kprime_kv", "kprime_st", "kprime_enc"))
    rn_i, rn_gwn, rn_1 = (fixed_bytes(n) for n in ("rn_i", "rn_gwn", "RN_1"))
    ts_i, ts_gwn, ts_kc, ts_enc = 1764000000000, 1764000000250, 1764000000400, 1764000001000
    broadcast_text = "Dr. Müller is unavailable 14:00–15:00 UTC; next slot 15:30."
    reason = "bye"
    epoch, members = 1, 1
    seq_group_key, seq_enc, seq_dec, seq_disconnect = 0, 0, 0, 1

    y_i, y_gwn = public_key(group, x_i), public_key(group, x_gwn)
    frames: list[dict] = []

    # KEY_VERIFICATION: the patient encrypts K = g^t under y_GWN and signs.
    K = pow(group.g, t, group.p)
    kv_c1, kv_c2 = elgamal_encrypt(group, y_gwn, K, k_enc_i)
    kv_signed = key_verification_signed(group, id_i, id_gwn, ts_i, rn_i, kv_c1, kv_c2)
    kv_sig = sign(group, x_i, kv_signed, kp_kv)
    kv = key_verification_json(group, id_i, id_gwn, ts_i, rn_i, kv_c1, kv_c2, kv_sig)
    frames.append(signed_frame("KEY_VERIFICATION", id_i, kv, kv_signed, kv_sig, "x_i", "kprime_kv"))

    # SESSION_TOKEN: the doctor encrypts K_GWN = g^u under y_i and signs, echoing rn_i.
    K_gwn = pow(group.g, u, group.p)
    st_c1, st_c2 = elgamal_encrypt(group, y_i, K_gwn, k_enc_gwn)
    st_signed = session_token_signed(group, id_gwn, id_i, ts_gwn, rn_gwn, rn_i, st_c1, st_c2)
    st_sig = sign(group, x_gwn, st_signed, kp_st)
    st = session_token_json(group, id_gwn, id_i, ts_gwn, rn_gwn, rn_i, st_c1, st_c2, st_sig)
    frames.append(signed_frame("SESSION_TOKEN", id_gwn, st, st_signed, st_sig, "x_gwn", "kprime_st"))

    # KEY_CONFIRMATION.
    sk_in = sk_input(group, K, K_gwn, ts_i, ts_gwn, rn_i, rn_gwn, id_i, id_gwn)
    sk = sha256(sk_in)
    skv_in = skv_input(sk, ts_kc)
    skv = sha256(skv_in)
    kc = key_confirmation_json(id_i, ts_kc, skv)
    frames.append({"name": "KEY_CONFIRMATION", "sender": id_i, **frame_fields(kc)})

    k_d2p, k_p2d = traffic_keys(sk)
    k_gk = gk_secret(x_gwn)
    gk_in = gk_input(epoch, rn_1, {id_i: sk}, k_gk)
    gk_1 = sha256(gk_in)

    # GROUP_KEY epoch 1, seq 0 on k_d2p.
    aad = group_key_aad(id_gwn, id_i, epoch, seq_group_key, members)
    ct = seal(k_d2p, seq_group_key, aad, gk_1)
    frames.append(sealed_frame("GROUP_KEY", id_gwn, group_key_json(epoch, seq_group_key, members, ct),
                               aad, "k_d2p", seq_group_key, gk_1))

    # ENC_MSG epoch 1, seq 0 under GK_1, signed by the doctor.
    pt = broadcast_text.encode("utf-8")
    aad = enc_msg_aad(id_gwn, epoch, seq_enc, ts_enc)
    ct = seal(gk_1, seq_enc, aad, pt)
    em_signed = enc_msg_signed(group, id_gwn, epoch, seq_enc, ts_enc, ct)
    em_sig = sign(group, x_gwn, em_signed, kp_enc)
    entry = sealed_frame("ENC_MSG", id_gwn, enc_msg_json(group, epoch, seq_enc, ts_enc, ct, em_sig),
                         aad, "GK_1", seq_enc, pt)
    entry.update(signature_fields(em_signed, em_sig, "x_gwn", "kprime_enc"))
    frames.append(entry)

    # DEC_MSG seq 0 on k_p2d: the receipt for (epoch 1, seq 0).
    pt = dec_msg_plaintext(epoch, seq_enc)
    aad = dec_msg_aad(id_i, id_gwn, seq_dec)
    ct = seal(k_p2d, seq_dec, aad, pt)
    frames.append(sealed_frame("DEC_MSG", id_i, dec_msg_json(id_i, seq_dec, ct), aad, "k_p2d",
                               seq_dec, pt))

    # DISCONNECT from the patient, seq 1 on k_p2d.
    pt = reason.encode("utf-8")
    aad = disconnect_aad(id_i, id_gwn, seq_disconnect)
    ct = seal(k_p2d, seq_disconnect, aad, pt)
    frames.append(sealed_frame("DISCONNECT", id_i, disconnect_json(seq_disconnect, ct), aad, "k_p2d",
                               seq_disconnect, pt))

    frames.append({"name": "REJECTED", "sender": id_gwn, **frame_fields(rejected_json())})

    E, S = group.element, scalar_bytes
    return {
        "description": "Telemed Protocol v1 worked example (PROTOCOL.md §6), generated by "
                       "Fixtures/reference/telemed_ref.py. Elements are 2L lowercase hex digits, "
                       "scalars and 32-byte values 64, timestamps UTC ms.",
        "group": {"name": group.name, "L": group.L, "p": hex_of(E(group.p)),
                  "q": hex_of(S(group.q)), "g": hex_of(E(group.g))},
        "ids": {"id_i": id_i, "id_gwn": id_gwn},
        "inputs": {
            "x_i": hex_of(S(x_i)), "x_gwn": hex_of(S(x_gwn)),
            "t": hex_of(S(t)), "u": hex_of(S(u)),
            "k_enc_i": hex_of(S(k_enc_i)), "k_enc_gwn": hex_of(S(k_enc_gwn)),
            "kprime_kv": hex_of(kp_kv), "kprime_st": hex_of(kp_st), "kprime_enc": hex_of(kp_enc),
            "ts_i": ts_i, "ts_gwn": ts_gwn, "ts_kc": ts_kc, "ts_enc": ts_enc,
            "rn_i": hex_of(rn_i), "rn_gwn": hex_of(rn_gwn), "RN_1": hex_of(rn_1),
            "broadcast_text": broadcast_text, "broadcast_text_hex": hex_of(broadcast_text.encode()),
            "disconnect_reason": reason,
            "epoch": epoch, "members": members,
            "seq_group_key": seq_group_key, "seq_enc_msg": seq_enc, "seq_dec_msg": seq_dec,
            "seq_disconnect": seq_disconnect,
        },
        "derived": {
            "y_i": hex_of(E(y_i)), "y_gwn": hex_of(E(y_gwn)),
            "K": hex_of(E(K)), "K_GWN": hex_of(E(K_gwn)),
            "SK_input": hex_of(sk_in), "SK": hex_of(sk),
            "SKV_input": hex_of(skv_in), "SKV": hex_of(skv),
            "k_d2p": hex_of(k_d2p), "k_p2d": hex_of(k_p2d), "k_gk": hex_of(k_gk),
            "GK_1_input": hex_of(gk_in), "GK_1": hex_of(gk_1),
        },
        "frames": frames,
    }


def frame_fields(body: dict) -> dict:
    text = compact_json(body)
    return {"opcode": body["opcode"], "json": text, "frame_hex": hex_of(frame(text))}


def signature_fields(signed: bytes, sig: Signature, key: str, extra: str) -> dict:
    return {"signed_hex": hex_of(signed), "signing_key": key,
            "verifying_key": "y" + key.removeprefix("x"), "kprime": extra,
            "h1": hex_of(sig.h1), "sig_k": hex_of(scalar_bytes(sig.k)),
            "sig_candidates_skipped": sig.candidates_skipped}


def signed_frame(name: str, sender: str, body: dict, signed: bytes, sig: Signature, key: str,
                 extra: str) -> dict:
    return {"name": name, "sender": sender, **frame_fields(body),
            **signature_fields(signed, sig, key, extra)}


def sealed_frame(name: str, sender: str, body: dict, aad: bytes, key: str, seq: int,
                 plaintext: bytes) -> dict:
    return {"name": name, "sender": sender, **frame_fields(body), "aad_hex": hex_of(aad),
            "aead_key": key, "nonce_hex": hex_of(gcm_nonce(seq)), "plaintext_hex": hex_of(plaintext)}


# MARK: - Signature vectors (exercising the RFC 6979 step h.3 retry)


def signature_vectors(group: Group, wanted: int = 8, wanted_retries: int = 3) -> list[dict]:
    """Signatures over fixed messages with fixed keys and k'. About 1 - q/2^256 of first nonce
    candidates are ≥ q (11% for telemed-2048-256), so the list runs until it holds at least
    `wanted_retries` vectors whose first candidate was skipped."""
    x = fixed_scalar(group.q, f"{group.name} signer")
    y = public_key(group, x)
    vectors: list[dict] = []
    retries = 0
    index = 0
    while len(vectors) < wanted or retries < wanted_retries:
        message = lp_all(label("telemed-ref signature vector"), u64(index))
        extra = fixed_bytes(f"{group.name} kprime {index}")
        sig = sign(group, x, message, extra)
        if sig.candidates_skipped or len(vectors) < wanted:
            retries += sig.candidates_skipped > 0
            vectors.append({"index": index, "x": hex_of(scalar_bytes(x)),
                            "y": hex_of(group.element(y)), "signed_hex": hex_of(message),
                            "kprime": hex_of(extra), "h1": hex_of(sig.h1),
                            "sig_k": hex_of(scalar_bytes(sig.k)),
                            "candidates_skipped": sig.candidates_skipped,
                            "sig_r": hex_of(group.element(sig.r)),
                            "sig_s": hex_of(scalar_bytes(sig.s))})
        index += 1
    return vectors


def signature_vectors_doc(groups: dict[str, Group]) -> dict:
    return {
        "description": "Protocol signatures (PROTOCOL.md §4 Signatures) over fixed messages, "
                       "generated by Fixtures/reference/telemed_ref.py. candidates_skipped counts "
                       "RFC 6979 step h.3 candidates refused (k ≥ q) before sig_k.",
        "groups": {name: signature_vectors(group) for name, group in groups.items()},
    }


def check_signature_vectors(groups: dict[str, Group], doc: dict) -> None:
    count = 0
    for name, vectors in doc["groups"].items():
        group = groups[name]
        for v in vectors:
            signed = bytes.fromhex(v["signed_hex"])
            r, s = int(v["sig_r"], 16), int(v["sig_s"], 16)
            assert verify(group, int(v["y"], 16), signed, r, s), f"{name} vector {v['index']}"
            assert not verify(group, int(v["y"], 16), signed, r, (s + 1) % group.q)
            count += 1
    print(f"  {count} signature vectors verify", file=sys.stderr)


# MARK: - Self-checks


def check_worked_example(group: Group, doc: dict) -> None:
    """Independently re-opens everything in a worked example: signatures, ElGamal, AEAD, JSON."""
    inp, der = doc["inputs"], doc["derived"]
    h = bytes.fromhex
    scalar = lambda k: int(inp[k], 16)  # noqa: E731
    x_i, x_gwn = scalar("x_i"), scalar("x_gwn")
    y_i, y_gwn = int(der["y_i"], 16), int(der["y_gwn"], 16)
    assert y_i == public_key(group, x_i) and y_gwn == public_key(group, x_gwn)
    assert is_valid_element(group, y_i) and is_valid_element(group, y_gwn)
    keys = {"k_d2p": h(der["k_d2p"]), "k_p2d": h(der["k_p2d"]), "GK_1": h(der["GK_1"])}
    verifiers = {"y_i": y_i, "y_gwn": y_gwn}
    frames = {f["name"]: f for f in doc["frames"]}
    for f in doc["frames"]:
        body = json.loads(f["json"])
        assert compact_json(body) == f["json"], f"{f['name']}: not compact or reordered"
        assert h(f["frame_hex"]) == frame(f["json"]), f"{f['name']}: frame"
        assert body["opcode"] == f["opcode"]
        if "signed_hex" in f:
            signed = h(f["signed_hex"])
            r, s = int(body["sig_r"], 16), int(body["sig_s"], 16)
            assert len(body["sig_r"]) == 2 * group.L and len(body["sig_s"]) == 64
            assert verify(group, verifiers[f["verifying_key"]], signed, r, s), f"{f['name']}: sig"
            assert not verify(group, verifiers[f["verifying_key"]], signed + b"\x00", r, s)
            k = int(f["sig_k"], 16)
            assert pow(group.g, k, group.p) == r
        if "aad_hex" in f:
            pt = open_sealed(keys[f["aead_key"]], body["seq"], h(f["aad_hex"]), h(body["ct"]))
            assert pt == h(f["plaintext_hex"]), f"{f['name']}: open"
            assert len(h(body["ct"])) == len(pt) + 16

    kv, st = json.loads(frames["KEY_VERIFICATION"]["json"]), json.loads(frames["SESSION_TOKEN"]["json"])
    # The signed bytes are a function of the frame's fields.
    assert h(frames["KEY_VERIFICATION"]["signed_hex"]) == key_verification_signed(
        group, kv["id_i"], kv["id_gwn"], kv["ts_i"], h(kv["rn_i"]), int(kv["c1"], 16), int(kv["c2"], 16))
    assert h(frames["SESSION_TOKEN"]["signed_hex"]) == session_token_signed(
        group, st["id_gwn"], st["id_i"], st["ts_gwn"], h(st["rn_gwn"]), h(st["rn_i"]),
        int(st["c1"], 16), int(st["c2"], 16))
    assert st["rn_i"] == kv["rn_i"]
    id_i, id_gwn = doc["ids"]["id_i"], doc["ids"]["id_gwn"]
    gk, em = json.loads(frames["GROUP_KEY"]["json"]), json.loads(frames["ENC_MSG"]["json"])
    dm, dc = json.loads(frames["DEC_MSG"]["json"]), json.loads(frames["DISCONNECT"]["json"])
    assert h(frames["GROUP_KEY"]["aad_hex"]) == group_key_aad(id_gwn, id_i, gk["epoch"], gk["seq"],
                                                              gk["members"])
    assert h(frames["ENC_MSG"]["aad_hex"]) == enc_msg_aad(id_gwn, em["epoch"], em["seq"], em["ts"])
    assert h(frames["ENC_MSG"]["signed_hex"]) == enc_msg_signed(group, id_gwn, em["epoch"],
                                                                em["seq"], em["ts"], h(em["ct"]))
    assert h(frames["DEC_MSG"]["aad_hex"]) == dec_msg_aad(dm["id_i"], id_gwn, dm["seq"])
    assert h(frames["DEC_MSG"]["plaintext_hex"]) == dec_msg_plaintext(em["epoch"], em["seq"])
    assert h(frames["DISCONNECT"]["aad_hex"]) == disconnect_aad(id_i, id_gwn, dc["seq"])
    assert h(frames["GROUP_KEY"]["plaintext_hex"]) == keys["GK_1"]
    # Both ElGamal ciphertexts decrypt to valid elements, K and K_GWN.
    for c in (kv["c1"], kv["c2"], st["c1"], st["c2"]):
        assert len(c) == 2 * group.L and is_valid_element(group, int(c, 16))
    K = elgamal_decrypt(group, x_gwn, int(kv["c1"], 16), int(kv["c2"], 16))
    K_gwn = elgamal_decrypt(group, x_i, int(st["c1"], 16), int(st["c2"], 16))
    assert K == int(der["K"], 16) == pow(group.g, scalar("t"), group.p) and is_valid_element(group, K)
    assert K_gwn == int(der["K_GWN"], 16) == pow(group.g, scalar("u"), group.p)
    assert is_valid_element(group, K_gwn)
    # Both sides derive the same SK from what they received, and SKV checks.
    sk = sha256(sk_input(group, K, K_gwn, kv["ts_i"], st["ts_gwn"], h(kv["rn_i"]), h(st["rn_gwn"]),
                         kv["id_i"], st["id_gwn"]))
    assert sk == h(der["SK"])
    kc = json.loads(frames["KEY_CONFIRMATION"]["json"])
    assert hmac.compare_digest(sha256(skv_input(sk, kc["ts"])), h(kc["skv"]))
    assert traffic_keys(sk) == (keys["k_d2p"], keys["k_p2d"])
    assert gk_secret(x_gwn) == h(der["k_gk"])
    print(f"  worked example on {group.name}: 3 signatures verify, 2 ElGamal ciphertexts decrypt, "
          f"4 seals open, {len(doc['frames'])} frames round-trip", file=sys.stderr)


def check_rfc6979_vectors() -> None:
    """With k' empty the nonce generator is plain RFC 6979; check it against A.2.2 (DSA 2048/256,
    SHA-256) from the peer vectors, when ../shared/vectors is present."""
    path = SHARED_VECTORS / "botan" / "dsa_rfc6979.vec"
    if not path.exists():
        print(f"  skipped RFC 6979 vectors: {path} absent", file=sys.stderr)
        return
    checked = 0
    params: dict[str, int] = {}
    msg = b""
    digest_name = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if key in ("P", "Q", "G", "X"):
            params[key] = int(value, 16)
        elif key == "Msg":
            msg = bytes.fromhex(value)
        elif key == "Hash":
            digest_name = value
        elif key == "Signature" and digest_name == "SHA-256" and params["Q"].bit_length() == 256:
            p, q, g, x = params["P"], params["Q"], params["G"], params["X"]
            h1 = sha256(msg)
            k = next(k for k in rfc6979_candidates(q, x, h1, b"") if 1 <= k < q)
            r = pow(g, k, p) % q
            s = pow(k, -1, q) * (os2ip(h1) + x * r) % q  # DSA, not the protocol's signature
            assert scalar_bytes(r) + scalar_bytes(s) == bytes.fromhex(value), f"RFC 6979 {msg!r}"
            checked += 1
    assert checked > 0
    print(f"  RFC 6979 nonces match {checked} DSA 2048/256 SHA-256 vectors", file=sys.stderr)


def check_primitives(group: Group) -> None:
    """Small negative and edge checks that do not need the worked example."""
    p, q, g = group.p, group.q, group.g
    assert not is_valid_element(group, 1) and not is_valid_element(group, p - 1)
    assert not is_valid_element(group, 0) and not is_valid_element(group, p)
    assert is_valid_element(group, g)
    non_member = next(z for z in range(2, 1000) if pow(z, q, p) != 1)
    assert not is_valid_element(group, non_member)
    # 3215031751 is a strong pseudoprime to bases 2, 3, 5 and 7; 2^127 - 1 and 2^521 - 1 are prime.
    assert is_probable_prime(2**127 - 1) and is_probable_prime(2**521 - 1)
    assert not any(map(is_probable_prime, (561, 3215031751, (2**127 - 1) * (2**61 - 1))))
    assert is_probable_prime(19997) and not is_probable_prime(19997 * 19993)
    assert lp(b"") == b"\x00\x00\x00\x00" and lp(b"ab") == b"\x00\x00\x00\x02ab"
    assert lp(u64(1)) == bytes.fromhex("00000008" "0000000000000001")
    assert gcm_nonce(1) == bytes(11) + b"\x01"
    try:
        id_bytes("bad id")
    except ValueError:
        pass
    else:
        raise AssertionError("id validation")
    assert sorted(["ab", "a", "B", "abc"], key=id_bytes) == ["B", "a", "ab", "abc"]


# MARK: - Command line


def write_json(path: Path, doc: dict) -> None:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path}", file=sys.stderr)


def run_groups() -> None:
    derivations = []
    for name in GROUP_PARAMETERS:
        print(f"deriving {name}", file=sys.stderr)
        derivations.append(derive_group(name))
    doc = {
        "description": "Telemed Protocol v1 named groups (PROTOCOL.md §4 Groups): FIPS 186-4 "
                       "A.1.1.2 with SHA-256, seedlen 256, seed of attempt i = SHA-256(name ‖ "
                       "u32be(i)); g by A.2.3 with index 1 (count is the A.2.3 count that "
                       "gave g). p, q, g and seed are lowercase hex without zero padding; for "
                       "these groups p and g happen to be exactly 2L digits and q and seed 64.",
        "groups": [d.to_json() for d in derivations],
    }
    write_json(GROUPS_PATH, doc)
    for d in derivations:
        check_group_record(d.to_json())


def run_worked_example() -> None:
    group = load_groups()["telemed-2048-256"]
    check_primitives(group)
    check_rfc6979_vectors()
    doc = worked_example(group)
    check_worked_example(group, doc)
    write_json(WORKED_EXAMPLE_PATH, doc)


def run_signature_vectors() -> None:
    groups = load_groups()
    doc = signature_vectors_doc(groups)
    check_signature_vectors(groups, doc)
    write_json(SIGNATURE_VECTORS_PATH, doc)


def run_check() -> None:
    groups = load_groups()
    print(f"  groups.json: {', '.join(groups)} re-derived from their seeds", file=sys.stderr)
    group = groups["telemed-2048-256"]
    check_primitives(group)
    check_rfc6979_vectors()
    stored = json.loads(WORKED_EXAMPLE_PATH.read_text())
    check_worked_example(group, stored)
    assert stored == worked_example(group), "worked-example.json differs from a fresh computation"
    stored = json.loads(SIGNATURE_VECTORS_PATH.read_text())
    check_signature_vectors(groups, stored)
    assert stored == signature_vectors_doc(groups), "signature-vectors.json differs"
    print("all checks passed", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--groups", action="store_true", help="derive both groups, write groups.json")
    mode.add_argument("--check-groups", action="store_true", help="re-check groups.json quickly")
    mode.add_argument("--worked-example", action="store_true", help="write worked-example.json")
    mode.add_argument("--signature-vectors", action="store_true",
                      help="write signature-vectors.json")
    mode.add_argument("--check", action="store_true", help="recompute and compare every file")
    args = parser.parse_args()
    if args.groups:
        run_groups()
    elif args.check_groups:
        load_groups()
        print("groups.json checks out", file=sys.stderr)
    elif args.worked_example:
        run_worked_example()
    elif args.signature_vectors:
        run_signature_vectors()
    else:
        run_check()


if __name__ == "__main__":
    main()
