#!/usr/bin/env python3
"""Independent Python reference for Telemed Protocol version 2 (PROTOCOL.md §8): the v2 worked
example (§8.11).

Written from §8 alone, on top of the v1 reference's primitives (telemed_ref.py: the groups, lp(),
RFC 6979, the §4 signature, ElGamal, HKDF, AES-GCM, compact JSON), which were themselves written
from §4 and read nothing the Swift code produces. Nothing here reads Swift output either.

Usage (from the package root):

    python3 Fixtures/reference/telemed_ref_v2.py --worked-example  # write worked-example-v2.json
    python3 Fixtures/reference/telemed_ref_v2.py --check           # recompute and compare

Every secret in this file is a fixed test value. Nothing here is fit for production use.
"""

from __future__ import annotations

import argparse
import hmac
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import telemed_ref as v1  # noqa: E402  (the §4 primitives)
from telemed_ref import (  # noqa: E402
    Group, Signature, compact_json, dec_msg_aad, dec_msg_json, dec_msg_plaintext, disconnect_aad,
    disconnect_json, elgamal_decrypt, elgamal_encrypt, enc_msg_aad, enc_msg_json, enc_msg_signed,
    frame, gk_input, gk_secret, group_key_aad, group_key_json, hex_of, id_bytes, is_valid_element,
    key_confirmation_json, label, load_groups, lp, lp_all, open_sealed, os2ip, public_key,
    rejected_json, rfc6979_candidates, scalar_bytes, seal, sha256, sign, skv_input, traffic_keys,
    u64, verify,
)

HERE = Path(__file__).resolve().parent
WORKED_EXAMPLE_V2_PATH = HERE / "worked-example-v2.json"


# MARK: - §8.3 signed bytes


def sign_data1_v2(group: Group, id_i: str, id_gwn: str, ts_i: int, rn_i: bytes, c1: int, c2: int,
                  A: int) -> bytes:
    return lp_all(label("TELEMED-V2 KEY_VERIFICATION"), label(group.name), id_bytes(id_i),
                  id_bytes(id_gwn), u64(ts_i), rn_i, group.element(c1), group.element(c2),
                  group.element(A))


def sign_data2_v2(group: Group, id_gwn: str, id_i: str, ts_gwn: int, rn_gwn: bytes, rn_i: bytes,
                  c1: int, c2: int, B: int, H1: bytes) -> bytes:
    return lp_all(label("TELEMED-V2 SESSION_TOKEN"), label(group.name), id_bytes(id_gwn),
                  id_bytes(id_i), u64(ts_gwn), rn_gwn, rn_i, group.element(c1), group.element(c2),
                  group.element(B), H1)


# MARK: - §8.4 ephemerals and key schedule


def h_a(group: Group, id_i: str, id_gwn: str, ts_i: int, rn_i: bytes) -> bytes:
    return sha256(lp_all(label("TELEMED-V2 EPHEMERAL a"), label(group.name), id_bytes(id_i),
                         id_bytes(id_gwn), u64(ts_i), rn_i))


def h_b(group: Group, id_gwn: str, id_i: str, ts_gwn: int, rn_gwn: bytes, H1: bytes) -> bytes:
    return sha256(lp_all(label("TELEMED-V2 EPHEMERAL b"), label(group.name), id_bytes(id_gwn),
                         id_bytes(id_i), u64(ts_gwn), rn_gwn, H1))


def hedged_ephemeral(group: Group, x: int, context: bytes, extra: bytes) -> tuple[int, int]:
    """The first RFC 6979 candidate in [1, q-1] (steps b-h, no further condition); returns the
    ephemeral and how many candidates were refused before it."""
    for skipped, k in enumerate(rfc6979_candidates(group.q, x, context, extra)):
        if 1 <= k < group.q:
            return k, skipped
    raise AssertionError("unreachable")


def sk_v2_input(group: Group, K: int, K_gwn: int, Z: int, H1: bytes, H2: bytes) -> bytes:
    return lp_all(label("TELEMED-V2 SK"), group.element(K), group.element(K_gwn), group.element(Z),
                  H1, H2)


# MARK: - §8.3 messages


def kv2_json(group: Group, id_i: str, id_gwn: str, ts_i: int, rn_i: bytes, c1: int, c2: int, A: int,
             sig: Signature) -> dict:
    E = group.element
    return {"opcode": 12, "group": group.name, "id_i": id_i, "id_gwn": id_gwn, "ts_i": ts_i,
            "rn_i": hex_of(rn_i), "c1": hex_of(E(c1)), "c2": hex_of(E(c2)), "dh_i": hex_of(E(A)),
            "sig_r": hex_of(E(sig.r)), "sig_s": hex_of(scalar_bytes(sig.s))}


def st2_json(group: Group, id_gwn: str, id_i: str, ts_gwn: int, rn_gwn: bytes, rn_i: bytes, c1: int,
             c2: int, B: int, sig: Signature) -> dict:
    E = group.element
    return {"opcode": 22, "group": group.name, "id_gwn": id_gwn, "id_i": id_i, "ts_gwn": ts_gwn,
            "rn_gwn": hex_of(rn_gwn), "rn_i": hex_of(rn_i), "c1": hex_of(E(c1)), "c2": hex_of(E(c2)),
            "dh_gwn": hex_of(E(B)), "sig_r": hex_of(E(sig.r)), "sig_s": hex_of(scalar_bytes(sig.s))}


# MARK: - §8.11 worked example


def fixed_scalar(q: int, name: str) -> int:
    return os2ip(sha256(b"telemed-ref worked-example-v2 " + label(name))) % (q - 1) + 1


def fixed_bytes(name: str) -> bytes:
    return sha256(b"telemed-ref worked-example-v2 " + label(name))


def worked_example_v2(group: Group) -> dict:
    q, p, g = group.q, group.p, group.g
    E, S = group.element, scalar_bytes
    id_i, id_gwn = "patient1", "doctor"
    x_i, x_gwn = fixed_scalar(q, "x_i"), fixed_scalar(q, "x_gwn")
    t, u = fixed_scalar(q, "t"), fixed_scalar(q, "u")
    k_enc_i, k_enc_gwn = fixed_scalar(q, "k_enc_i"), fixed_scalar(q, "k_enc_gwn")
    kp_kv, kp_st, kp_enc, kp_a, kp_b = (fixed_bytes(n) for n in
                                        ("kprime_kv", "kprime_st", "kprime_enc", "kprime_a", "kprime_b"))
    rn_i, rn_gwn, rn_1 = (fixed_bytes(n) for n in ("rn_i", "rn_gwn", "RN_1"))
    ts_i, ts_gwn, ts_kc, ts_enc = 1764100000000, 1764100000300, 1764100000450, 1764100001000
    broadcast_text = "Forward secrecy: this notice stays sealed even if both keys leak — Dr. Øyen."
    reason = "bye"
    epoch, members = 1, 1
    seq_group_key, seq_enc, seq_dec, seq_disconnect = 0, 0, 0, 1
    y_i, y_gwn = public_key(group, x_i), public_key(group, x_gwn)
    frames: list[dict] = []

    # KEY_VERIFICATION_V2: K under y_GWN, then a hedged over h_a, A = g^a, SignData1_v2 signed.
    K = pow(g, t, p)
    kv_c1, kv_c2 = elgamal_encrypt(group, y_gwn, K, k_enc_i)
    ha = h_a(group, id_i, id_gwn, ts_i, rn_i)
    a, a_skipped = hedged_ephemeral(group, x_i, ha, kp_a)
    A = pow(g, a, p)
    sd1 = sign_data1_v2(group, id_i, id_gwn, ts_i, rn_i, kv_c1, kv_c2, A)
    H1 = sha256(sd1)
    kv_sig = sign(group, x_i, sd1, kp_kv)
    assert kv_sig.h1 == H1
    kv = kv2_json(group, id_i, id_gwn, ts_i, rn_i, kv_c1, kv_c2, A, kv_sig)
    frames.append(v1.signed_frame("KEY_VERIFICATION_V2", id_i, kv, sd1, kv_sig, "x_i", "kprime_kv"))

    # SESSION_TOKEN_V2: K_GWN under y_i, b hedged over h_b (needs H_1), B, SignData2_v2 signed.
    K_gwn = pow(g, u, p)
    st_c1, st_c2 = elgamal_encrypt(group, y_i, K_gwn, k_enc_gwn)
    hb = h_b(group, id_gwn, id_i, ts_gwn, rn_gwn, H1)
    b, b_skipped = hedged_ephemeral(group, x_gwn, hb, kp_b)
    B = pow(g, b, p)
    sd2 = sign_data2_v2(group, id_gwn, id_i, ts_gwn, rn_gwn, rn_i, st_c1, st_c2, B, H1)
    H2 = sha256(sd2)
    st_sig = sign(group, x_gwn, sd2, kp_st)
    st = st2_json(group, id_gwn, id_i, ts_gwn, rn_gwn, rn_i, st_c1, st_c2, B, st_sig)
    frames.append(v1.signed_frame("SESSION_TOKEN_V2", id_gwn, st, sd2, st_sig, "x_gwn", "kprime_st"))

    # Z both ways, SK, SKV, KEY_CONFIRMATION.
    Z = pow(B, a, p)
    assert Z == pow(A, b, p)
    sk_in = sk_v2_input(group, K, K_gwn, Z, H1, H2)
    sk = sha256(sk_in)
    skv_in = skv_input(sk, ts_kc)
    skv = sha256(skv_in)
    kc = key_confirmation_json(id_i, ts_kc, skv)
    frames.append({"name": "KEY_CONFIRMATION", "sender": id_i, **v1.frame_fields(kc)})

    k_d2p, k_p2d = traffic_keys(sk)
    k_gk = gk_secret(x_gwn)
    gk_in = gk_input(epoch, rn_1, {id_i: sk}, k_gk)
    gk_1 = sha256(gk_in)

    aad = group_key_aad(id_gwn, id_i, epoch, seq_group_key, members)
    ct = seal(k_d2p, seq_group_key, aad, gk_1)
    frames.append(v1.sealed_frame("GROUP_KEY", id_gwn, group_key_json(epoch, seq_group_key, members, ct),
                                  aad, "k_d2p", seq_group_key, gk_1))
    pt = broadcast_text.encode("utf-8")
    aad = enc_msg_aad(id_gwn, epoch, seq_enc, ts_enc)
    ct = seal(gk_1, seq_enc, aad, pt)
    em_signed = enc_msg_signed(group, id_gwn, epoch, seq_enc, ts_enc, ct)
    em_sig = sign(group, x_gwn, em_signed, kp_enc)
    entry = v1.sealed_frame("ENC_MSG", id_gwn, enc_msg_json(group, epoch, seq_enc, ts_enc, ct, em_sig),
                            aad, "GK_1", seq_enc, pt)
    entry.update(v1.signature_fields(em_signed, em_sig, "x_gwn", "kprime_enc"))
    frames.append(entry)
    pt = dec_msg_plaintext(epoch, seq_enc)
    aad = dec_msg_aad(id_i, id_gwn, seq_dec)
    ct = seal(k_p2d, seq_dec, aad, pt)
    frames.append(v1.sealed_frame("DEC_MSG", id_i, dec_msg_json(id_i, seq_dec, ct), aad, "k_p2d", seq_dec, pt))
    pt = reason.encode("utf-8")
    aad = disconnect_aad(id_i, id_gwn, seq_disconnect)
    ct = seal(k_p2d, seq_disconnect, aad, pt)
    frames.append(v1.sealed_frame("DISCONNECT", id_i, disconnect_json(seq_disconnect, ct), aad, "k_p2d",
                                  seq_disconnect, pt))
    frames.append({"name": "REJECTED", "sender": id_gwn, **v1.frame_fields(rejected_json())})

    return {
        "description": "Telemed Protocol v2 worked example (PROTOCOL.md §8.11), generated by "
                       "Fixtures/reference/telemed_ref_v2.py. Elements are 2L lowercase hex digits, "
                       "scalars and 32-byte values 64, timestamps UTC ms. The random draws of each "
                       "side, in the order the Swift machines make them: patient t, k_enc_i, rn_i, "
                       "kprime_a, kprime_kv; doctor u, k_enc_gwn, rn_gwn, kprime_b, kprime_st.",
        "group": {"name": group.name, "L": group.L, "p": hex_of(E(p)), "q": hex_of(S(q)), "g": hex_of(E(g))},
        "ids": {"id_i": id_i, "id_gwn": id_gwn},
        "inputs": {
            "x_i": hex_of(S(x_i)), "x_gwn": hex_of(S(x_gwn)),
            "t": hex_of(S(t)), "u": hex_of(S(u)),
            "k_enc_i": hex_of(S(k_enc_i)), "k_enc_gwn": hex_of(S(k_enc_gwn)),
            "kprime_kv": hex_of(kp_kv), "kprime_st": hex_of(kp_st), "kprime_enc": hex_of(kp_enc),
            "kprime_a": hex_of(kp_a), "kprime_b": hex_of(kp_b),
            "ts_i": ts_i, "ts_gwn": ts_gwn, "ts_kc": ts_kc, "ts_enc": ts_enc,
            "rn_i": hex_of(rn_i), "rn_gwn": hex_of(rn_gwn), "RN_1": hex_of(rn_1),
            "broadcast_text": broadcast_text, "broadcast_text_hex": hex_of(broadcast_text.encode()),
            "disconnect_reason": reason, "epoch": epoch, "members": members,
            "seq_group_key": seq_group_key, "seq_enc_msg": seq_enc, "seq_dec_msg": seq_dec,
            "seq_disconnect": seq_disconnect,
        },
        "derived": {
            "y_i": hex_of(E(y_i)), "y_gwn": hex_of(E(y_gwn)),
            "K": hex_of(E(K)), "K_GWN": hex_of(E(K_gwn)),
            "h_a": hex_of(ha), "a": hex_of(S(a)), "a_candidates_skipped": a_skipped, "A": hex_of(E(A)),
            "H_1": hex_of(H1),
            "h_b": hex_of(hb), "b": hex_of(S(b)), "b_candidates_skipped": b_skipped, "B": hex_of(E(B)),
            "H_2": hex_of(H2), "Z": hex_of(E(Z)),
            "SK_input": hex_of(sk_in), "SK": hex_of(sk),
            "SKV_input": hex_of(skv_in), "SKV": hex_of(skv),
            "k_d2p": hex_of(k_d2p), "k_p2d": hex_of(k_p2d), "k_gk": hex_of(k_gk),
            "GK_1_input": hex_of(gk_in), "GK_1": hex_of(gk_1),
        },
        "frames": frames,
    }


def check_worked_example_v2(group: Group, doc: dict) -> None:
    """Re-opens everything from the frames and the inputs, as a peer would."""
    inp, der, h = doc["inputs"], doc["derived"], bytes.fromhex
    p, q, g = group.p, group.q, group.g
    x_i, x_gwn = int(inp["x_i"], 16), int(inp["x_gwn"], 16)
    y_i, y_gwn = public_key(group, x_i), public_key(group, x_gwn)
    frames = {f["name"]: f for f in doc["frames"]}
    for f in doc["frames"]:
        assert compact_json(json.loads(f["json"])) == f["json"], f["name"]
        assert h(f["frame_hex"]) == frame(f["json"]), f["name"]
    kv, st = json.loads(frames["KEY_VERIFICATION_V2"]["json"]), json.loads(frames["SESSION_TOKEN_V2"]["json"])
    assert list(kv) == ["opcode", "group", "id_i", "id_gwn", "ts_i", "rn_i", "c1", "c2", "dh_i", "sig_r", "sig_s"]
    assert list(st) == ["opcode", "group", "id_gwn", "id_i", "ts_gwn", "rn_gwn", "rn_i", "c1", "c2", "dh_gwn",
                        "sig_r", "sig_s"]
    num = lambda d, k: int(d[k], 16)  # noqa: E731
    # The doctor's view of the request: signature, elements, K, A.
    sd1 = sign_data1_v2(group, kv["id_i"], kv["id_gwn"], kv["ts_i"], h(kv["rn_i"]), num(kv, "c1"),
                        num(kv, "c2"), num(kv, "dh_i"))
    assert sd1 == h(frames["KEY_VERIFICATION_V2"]["signed_hex"])
    assert verify(group, y_i, sd1, num(kv, "sig_r"), num(kv, "sig_s"))
    v1_sd1 = v1.key_verification_signed(group, kv["id_i"], kv["id_gwn"], kv["ts_i"], h(kv["rn_i"]),
                                        num(kv, "c1"), num(kv, "c2"))
    assert not verify(group, y_i, v1_sd1, num(kv, "sig_r"), num(kv, "sig_s")), "cross-version (attack 29)"
    for key in ("c1", "c2", "dh_i"):
        assert is_valid_element(group, num(kv, key))
    K = elgamal_decrypt(group, x_gwn, num(kv, "c1"), num(kv, "c2"))
    H1 = sha256(sd1)
    # The patient's view of the answer, with its own H_1.
    sd2 = sign_data2_v2(group, st["id_gwn"], st["id_i"], st["ts_gwn"], h(st["rn_gwn"]), h(st["rn_i"]),
                        num(st, "c1"), num(st, "c2"), num(st, "dh_gwn"), H1)
    assert sd2 == h(frames["SESSION_TOKEN_V2"]["signed_hex"])
    assert verify(group, y_gwn, sd2, num(st, "sig_r"), num(st, "sig_s"))
    other_h1 = sha256(sd1 + b"\x00")
    sd2_other = sign_data2_v2(group, st["id_gwn"], st["id_i"], st["ts_gwn"], h(st["rn_gwn"]), h(st["rn_i"]),
                              num(st, "c1"), num(st, "c2"), num(st, "dh_gwn"), other_h1)
    assert not verify(group, y_gwn, sd2_other, num(st, "sig_r"), num(st, "sig_s")), "R-TRANSCRIPT"
    assert st["rn_i"] == kv["rn_i"] and st["dh_gwn"] != kv["dh_i"]
    for key in ("c1", "c2", "dh_gwn"):
        assert is_valid_element(group, num(st, key))
    K_gwn = elgamal_decrypt(group, x_i, num(st, "c1"), num(st, "c2"))
    H2 = sha256(sd2)
    # Each side's Z from its own ephemeral, re-derived from the recorded inputs.
    a, _ = hedged_ephemeral(group, x_i, h_a(group, kv["id_i"], kv["id_gwn"], kv["ts_i"], h(kv["rn_i"])),
                            h(inp["kprime_a"]))
    b, _ = hedged_ephemeral(group, x_gwn, h_b(group, st["id_gwn"], st["id_i"], st["ts_gwn"], h(st["rn_gwn"]), H1),
                            h(inp["kprime_b"]))
    assert pow(g, a, p) == num(kv, "dh_i") and pow(g, b, p) == num(st, "dh_gwn")
    Z = pow(num(st, "dh_gwn"), a, p)
    assert Z == pow(num(kv, "dh_i"), b, p)
    for name, value in (("K", K), ("K_GWN", K_gwn), ("Z", Z)):
        assert value == int(der[name], 16) and is_valid_element(group, value), name
    assert (H1, H2) == (h(der["H_1"]), h(der["H_2"]))
    sk = sha256(sk_v2_input(group, K, K_gwn, Z, H1, H2))
    assert sk == h(der["SK"])
    # Attack 30: both long-term keys give K and K_GWN, and the v1 formula over them is not SK.
    sk_without_z = sha256(v1.sk_input(group, K, K_gwn, kv["ts_i"], st["ts_gwn"], h(kv["rn_i"]),
                                      h(st["rn_gwn"]), kv["id_i"], kv["id_gwn"]))
    assert sk_without_z != sk
    kc = json.loads(frames["KEY_CONFIRMATION"]["json"])
    assert hmac.compare_digest(sha256(skv_input(sk, kc["ts"])), h(kc["skv"]))
    k_d2p, k_p2d = traffic_keys(sk)
    assert (hex_of(k_d2p), hex_of(k_p2d)) == (der["k_d2p"], der["k_p2d"])
    keys = {"k_d2p": k_d2p, "k_p2d": k_p2d, "GK_1": h(der["GK_1"])}
    for f in doc["frames"]:
        if "aad_hex" in f:
            body = json.loads(f["json"])
            assert open_sealed(keys[f["aead_key"]], body["seq"], h(f["aad_hex"]), h(body["ct"])) == h(f["plaintext_hex"])
    assert h(frames["GROUP_KEY"]["plaintext_hex"]) == keys["GK_1"]
    em = json.loads(frames["ENC_MSG"]["json"])
    assert verify(group, y_gwn, h(frames["ENC_MSG"]["signed_hex"]), num(em, "sig_r"), num(em, "sig_s"))
    print(f"  v2 worked example on {group.name}: 3 signatures verify, Z agrees both ways, "
          f"SK needs Z, 4 seals open, {len(doc['frames'])} frames round-trip", file=sys.stderr)


def check_labels() -> None:
    """The two label encodings §8.3 prints."""
    assert lp(label("TELEMED-V2 KEY_VERIFICATION")).hex() == \
        "0000001b54454c454d45442d5632204b45595f564552494649434154494f4e"
    assert lp(label("TELEMED-V2 SESSION_TOKEN")).hex() == \
        "0000001854454c454d45442d56322053455353494f4e5f544f4b454e"


def body_sizes(group: Group) -> None:
    """§8.3's size formula: 12 is 2,301 + |id_i| + |id_gwn| + |group| for L = 256."""
    E = group.element
    sig = Signature(group.g, 1, 1, b"", 0)
    body = compact_json(kv2_json(group, "p", "d", 1764100000000, bytes(32), group.g, group.g, group.g, sig))
    assert len(body) == 2301 + 1 + 1 + len(group.name), len(body)
    body = compact_json(st2_json(group, "d", "p", 1764100000000, bytes(32), bytes(32), group.g, group.g, group.g, sig))
    assert len(body) == 2381 + 1 + 1 + len(group.name), len(body)
    del E


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--worked-example", action="store_true", help="write worked-example-v2.json")
    mode.add_argument("--check", action="store_true", help="recompute and compare worked-example-v2.json")
    args = parser.parse_args()
    group = load_groups()["telemed-2048-256"]
    check_labels()
    body_sizes(group)
    if args.worked_example:
        doc = worked_example_v2(group)
        check_worked_example_v2(group, doc)
        v1.write_json(WORKED_EXAMPLE_V2_PATH, doc)
    else:
        stored = json.loads(WORKED_EXAMPLE_V2_PATH.read_text())
        check_worked_example_v2(group, stored)
        assert stored == worked_example_v2(group), "worked-example-v2.json differs from a fresh computation"
        print("all v2 checks passed", file=sys.stderr)


if __name__ == "__main__":
    main()
