#!/usr/bin/env python3
"""Regenerates the committed seed corpora and dictionaries of the fuzz targets.

    Fuzz/make-corpus.py

Sources: the worked example's frames (Fixtures/reference/worked-example.json, every frame's
bytes), the v2 worked example's request and answer (worked-example-v2.json), version-2 frames
of a seeded run of the independent reference (telemed_ref_v2.py) in the doctor scripts' world
(its keys, ids and start time), mutations of those, and the scenario fixtures
(Fixtures/*.json). Writes Fuzz/corpus/<target>/<name> and Fuzz/dict/<target>.dict. The doctor
scripts use the opcode layout of Fuzz/Sources/FuzzHarness/DoctorScript.swift (see
Fuzz/README.md).
"""
import glob
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "Fixtures", "reference"))
import telemed_ref as ref1  # noqa: E402  (the §4 primitives, written from the spec)
import telemed_ref_v2 as ref2  # noqa: E402  (§8)


def write_corpus(target, entries):
    directory = os.path.join(HERE, "corpus", target)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    for name, data in entries:
        with open(os.path.join(directory, name), "wb") as out:
            out.write(data)


def write_dict(target, tokens):
    os.makedirs(os.path.join(HERE, "dict"), exist_ok=True)
    with open(os.path.join(HERE, "dict", target + ".dict"), "w") as out:
        for token in sorted(set(tokens)):
            escaped = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\x%02x" % ord(c)
                              for c in token)
            out.write('"%s"\n' % escaped)


example = json.load(open(os.path.join(ROOT, "Fixtures", "reference", "worked-example.json")))
frames = {f["name"]: bytes.fromhex(f["frame_hex"]) for f in example["frames"]}
bodies = {name: frame[4:] for name, frame in frames.items()}
slug = {name: name.lower().replace("_", "-") for name in frames}

# MARK: frame decoder: [limit index, chunk seed] ++ stream
frame_entries = []
for index, (name, frame) in enumerate(frames.items()):
    frame_entries.append(("%s" % slug[name], bytes([6, (index * 37 + 1) % 256]) + frame))
stream = b"".join(frames.values())
frame_entries.append(("all-frames", bytes([6, 3]) + stream))
frame_entries.append(("all-frames-small-limit", bytes([4, 5]) + stream))
frame_entries.append(("cut-frame", bytes([6, 9]) + frames["KEY_VERIFICATION"][:900]))
frame_entries.append(("zero-length", bytes([6, 1]) + frames["REJECTED"] + b"\0\0\0\0"))
frame_entries.append(("oversize", bytes([6, 1]) + frames["REJECTED"] + b"\0\1\0\1x"))
write_corpus("frame", frame_entries)

# MARK: message codec: frame bodies
message_entries = [(slug[name], body) for name, body in bodies.items()]
spaced = json.dumps(json.loads(bodies["KEY_CONFIRMATION"]), indent=1).encode()
message_entries.append(("key-confirmation-spaced", spaced))
message_entries.append(("rejected-escaped-key", b'{"\\u006fpcode":70}'))
# Version 2 (PROTOCOL.md §8.3): the v2 worked example's request and answer.
example_v2 = json.load(open(os.path.join(ROOT, "Fixtures", "reference", "worked-example-v2.json")))
for f in example_v2["frames"]:
    if f["name"] in ("KEY_VERIFICATION_V2", "SESSION_TOKEN_V2"):
        body = bytes.fromhex(f["frame_hex"])[4:]
        bodies[f["name"]] = body
        message_entries.append((f["name"].lower().replace("_", "-"), body))

# Version 2 from a seeded run of the reference in the doctor scripts' world
# (DoctorScriptWorld.swift): the v1 worked example's x_i (patient1) and x_gwn (doctor), the
# scripts' start time. Every random value is a SHA-256 of its name, so the run is reproducible.
GROUP = ref1.load_groups()["telemed-2048-256"]
X_I = int(example["inputs"]["x_i"], 16)
X_GWN = int(example["inputs"]["x_gwn"], 16)
START = 1764000000000


def seeded(name):
    return ref1.sha256(b"fuzz corpus v2 " + name.encode())


def seeded_scalar(name):
    return ref1.os2ip(seeded(name)) % (GROUP.q - 1) + 1


def non_member():
    z = 2
    while ref1.is_valid_element(GROUP, z):
        z += 1
    return z


def v2_request(tag, ts=START, share=None, id_i="patient1", x=X_I):
    """A KEY_VERIFICATION_V2 of id_i to "doctor" signed with x; `share` replaces A (then
    signed over it). Returns (body, A, H_1)."""
    g, p = GROUP.g, GROUP.p
    rn_i = seeded(tag + " rn_i")
    K = pow(g, seeded_scalar(tag + " t"), p)
    c1, c2 = ref1.elgamal_encrypt(GROUP, ref1.public_key(GROUP, X_GWN), K, seeded_scalar(tag + " k"))
    a, _ = ref2.hedged_ephemeral(GROUP, x, ref2.h_a(GROUP, id_i, "doctor", ts, rn_i), seeded(tag + " kprime_a"))
    A = pow(g, a, p) if share is None else share
    signed = ref2.sign_data1_v2(GROUP, id_i, "doctor", ts, rn_i, c1, c2, A)
    sig = ref1.sign(GROUP, x, signed, seeded(tag + " kprime_kv"))
    body = ref1.compact_json(ref2.kv2_json(GROUP, id_i, "doctor", ts, rn_i, c1, c2, A, sig)).encode()
    return body, A, ref1.sha256(signed)


def v2_answer(tag, request_body, H1, ts=START + 250, share=None):
    """The doctor's SESSION_TOKEN_V2 to `request_body` (H_1 its digest), signed with x_gwn."""
    g, p = GROUP.g, GROUP.p
    request = json.loads(request_body)
    rn_gwn = seeded(tag + " rn_gwn")
    y_i = ref1.public_key(GROUP, X_I)
    K_gwn = pow(g, seeded_scalar(tag + " u"), p)
    c1, c2 = ref1.elgamal_encrypt(GROUP, y_i, K_gwn, seeded_scalar(tag + " k_gwn"))
    b, _ = ref2.hedged_ephemeral(GROUP, X_GWN, ref2.h_b(GROUP, "doctor", request["id_i"], ts, rn_gwn, H1),
                                 seeded(tag + " kprime_b"))
    B = pow(g, b, p) if share is None else share
    rn_i = bytes.fromhex(request["rn_i"])
    signed = ref2.sign_data2_v2(GROUP, "doctor", request["id_i"], ts, rn_gwn, rn_i, c1, c2, B, H1)
    sig = ref1.sign(GROUP, X_GWN, signed, seeded(tag + " kprime_st"))
    return ref1.compact_json(ref2.st2_json(GROUP, "doctor", request["id_i"], ts, rn_gwn, rn_i, c1, c2, B, sig)).encode()


def with_fields(body, **changes):
    """The JSON body with fields replaced (None drops one), written compactly in its order."""
    obj = json.loads(body)
    for key, value in changes.items():
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
    return ref1.compact_json(obj).encode()


def element_hex(z):
    return ref1.hex_of(GROUP.element(z))


seeded_kv2, seeded_A, seeded_H1 = v2_request("seeded")
seeded_st2 = v2_answer("seeded", seeded_kv2, seeded_H1)
share_bodies = {name: v2_request("share " + name, share=z)[0]
                for name, z in [("one", 1), ("p-minus-1", GROUP.p - 1), ("outside-subgroup", non_member())]}
message_entries += [
    ("key-verification-v2-seeded", seeded_kv2),
    ("session-token-v2-seeded", seeded_st2),
    # Mutations: each is refused by the strict codec or by a later check.
    ("key-verification-v2-share-one", share_bodies["one"]),
    ("key-verification-v2-share-p-minus-1", share_bodies["p-minus-1"]),
    ("key-verification-v2-share-outside-subgroup", share_bodies["outside-subgroup"]),
    ("key-verification-v2-without-dh", with_fields(seeded_kv2, dh_i=None)),
    ("key-verification-v1-opcode-with-dh", with_fields(seeded_kv2, opcode=10)),
    ("key-verification-v2-dh-short", with_fields(seeded_kv2, dh_i=json.loads(seeded_kv2)["dh_i"][2:])),
    ("key-verification-v2-dh-uppercase", with_fields(seeded_kv2, dh_i=json.loads(seeded_kv2)["dh_i"].upper())),
    ("key-verification-v2-spaced", json.dumps(json.loads(seeded_kv2), indent=2).encode()),
    ("session-token-v2-without-dh", with_fields(seeded_st2, dh_gwn=None)),
    ("session-token-v1-opcode-with-dh", with_fields(seeded_st2, opcode=20)),
    ("session-token-v2-dh-is-request-share", with_fields(seeded_st2, dh_gwn=element_hex(seeded_A))),
    ("session-token-v2-dh-p", with_fields(seeded_st2, dh_gwn=element_hex(GROUP.p))),
]
write_corpus("message", message_entries)
keys = set()
for body in bodies.values():
    keys.update(json.loads(body).keys())
write_dict("message", ['"%s":' % k for k in keys] + ["telemed-2048-256", "telemed-3072-256", "9007199254740991",
                                                    "9007199254740992", "\\u0000", "\\ud800", "true", "null", "1e3"])

# MARK: scenario loader: the fixtures
scenario_entries = []
scenario_keys = set()


def collect(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            scenario_keys.add(key)
            collect(inner)
    elif isinstance(value, list):
        for inner in value:
            collect(inner)
    elif isinstance(value, str) and len(value) < 40:
        scenario_keys.add(value)


for path in sorted(glob.glob(os.path.join(ROOT, "Fixtures", "*.json"))):
    name = os.path.basename(path)
    if name == "scenario.schema.json":
        continue
    data = open(path, "rb").read()
    scenario_entries.append((name[:-5], data))
    collect(json.loads(data))
write_corpus("scenario", scenario_entries)
write_dict("scenario", ['"%s"' % k for k in scenario_keys])

# MARK: doctor scripts (opcodes of DoctorScript.step)
OPEN, HONEST, FRAME, STREAM, PEER_CLOSE, ADVANCE, WALL, REPLAY, LEAVE, OPERATOR, PATIENT_TIMER, DOCTOR_TIMER = range(12)


def frame_op(slot, body):
    return bytes([FRAME, slot, len(body) >> 8, len(body) & 0xFF]) + body


def stream_ops(slot, data):
    out = b""
    for start in range(0, len(data), 255):
        chunk = data[start:start + 255]
        out += bytes([STREAM, slot, len(chunk)]) + chunk
    return out


kv, kc = bodies["KEY_VERIFICATION"], bodies["KEY_CONFIRMATION"]
doctor_entries = [
    # The worked example's KEY_VERIFICATION verifies at its own time; its KEY_CONFIRMATION
    # then carries the wrong SKV (the doctor drew its own K_GWN): a device block.
    ("worked-example-kv-kc", bytes([OPEN, 0, 0]) + frame_op(0, kv) + frame_op(0, kc)),
    # The same request framed and streamed in 255-byte pieces, then replayed on another slot.
    ("worked-example-kv-streamed-and-replayed",
     bytes([OPEN, 0, 0]) + stream_ops(0, frames["KEY_VERIFICATION"]) + bytes([OPEN, 1, 1]) + frame_op(1, kv)),
    # The request too late (ΔTS), then after the source is blocked.
    ("worked-example-kv-late", bytes([ADVANCE, 5, OPEN, 0, 2]) + frame_op(0, kv)
     + bytes([OPEN, 1, 2]) + frame_op(1, b"{}") + bytes([OPEN, 2, 2]) + frame_op(2, b"x")
     + bytes([OPEN, 3, 2])),
    # An honest patient joins, gets a broadcast, receipts, leaves.
    ("honest-join-broadcast-leave", bytes([OPEN, 0, 0, HONEST, 0, 0, OPERATOR, 0, 0, OPERATOR, 1, 1, LEAVE, 0])),
    # Two patients, kick, rekey, an impersonator, timeouts.
    ("two-patients-kick-rekey", bytes([OPEN, 0, 0, HONEST, 0, 0, OPEN, 1, 3, HONEST, 1, 1, OPERATOR, 0, 0,
                                       OPERATOR, 4, 0, OPERATOR, 3, 1, OPEN, 2, 1, HONEST, 2, 3,
                                       OPEN, 3, 2, ADVANCE, 4, ADVANCE, 8])),
    # The same id twice (replacement), a replayed request, a stranger, a shutdown.
    ("replace-replay-shutdown", bytes([OPEN, 0, 0, HONEST, 0, 0, OPEN, 1, 1, HONEST, 1, 0, REPLAY, 2, 0,
                                       OPEN, 2, 2, REPLAY, 2, 0, OPEN, 3, 3, HONEST, 3, 2, OPERATOR, 7, 0])),
    # Worked-example DEC_MSG and DISCONNECT injected on an active patient's connection.
    ("member-raw-frames", bytes([OPEN, 0, 0, HONEST, 0, 0]) + frame_op(0, bodies["DEC_MSG"])
     + bytes([OPEN, 1, 1, HONEST, 1, 1]) + frame_op(1, bodies["DISCONNECT"])),
    # Clock games: wall steps back past T0 − ΔTS, then forward; blocks expire.
    ("clock-steps", bytes([WALL, 2, 1, OPEN, 0, 0, WALL, 3, 0, WALL, 3, 0, OPEN, 1, 0, HONEST, 1, 1,
                           ADVANCE, 8, PEER_CLOSE, 1, 0])),
    # Handshake timers, cut and oversize frames, a zero-length frame.
    ("timers-and-bad-lengths", bytes([OPEN, 0, 0, DOCTOR_TIMER, 0, 0, OPEN, 1, 0, STREAM, 1, 4, 0, 1, 0, 1,
                                      OPEN, 2, 1, STREAM, 2, 6, 0, 0, 0, 2, 123, 125, PEER_CLOSE, 2, 1,
                                      OPEN, 3, 2, STREAM, 3, 4, 0, 0, 0, 0, OPEN, 0, 0, HONEST, 0, 1,
                                      PATIENT_TIMER, 0, ADVANCE, 3])),
    # Members' frames through the FrameReader: one stalls in its header until the doctor's
    # frame-completion timer is fired directly (DOCTOR_TIMER slot, kind 1), one stalls in its
    # body until the clock passes the handshake timeout, one sends an oversize prefix.
    ("member-stalled-and-oversize-frames",
     bytes([OPEN, 0, 0, HONEST, 0, 0, STREAM, 0, 3, 0, 0, 1, DOCTOR_TIMER, 0, 1,
            OPEN, 1, 1, HONEST, 1, 1, STREAM, 1, 6, 0, 0, 0, 9, 123, 34, ADVANCE, 4,
            OPEN, 2, 3, HONEST, 2, 0, STREAM, 2, 2, 0, 1, STREAM, 2, 3, 0, 1, 120])),
]

# Version 2 (PROTOCOL.md §8): the seeded request verifies in the scripts' world at its start
# (patient1's key), so the doctor's v2 signature, replay insert, dh_i check and answer are
# reached; bad shares are refused after the signature; a downgrade is a bad signature under
# minimum 1 and R-VERSION under minimum 2; raising the minimum ends a v1 session and a v1
# handshake. Operator command 7 with argument 1 or 2 sets the minimum version; the honest
# patient's who byte with bit 2 set speaks version 2.
SET_MIN_V1, SET_MIN_V2 = bytes([OPERATOR, 7, 1]), bytes([OPERATOR, 7, 2])
downgraded = with_fields(seeded_kv2, opcode=10, dh_i=None)
doctor_entries += [
    # The seeded v2 request answered (SESSION_TOKEN_V2), replayed (R-REPLAY), its wrong
    # KEY_CONFIRMATION (the v1 example's, in the window) a device block.
    ("v2-request-replay-wrong-skv", bytes([OPEN, 0, 0]) + frame_op(0, seeded_kv2) + bytes([OPEN, 1, 1])
     + frame_op(1, seeded_kv2) + frame_op(0, kc)),
    # The same request streamed through the FrameReader in 255-byte pieces.
    ("v2-request-streamed", bytes([OPEN, 0, 2]) + stream_ops(0, ref1.u32(len(seeded_kv2)) + seeded_kv2)),
    # Signed requests with A = 1, A = p - 1, A outside the subgroup, from three sources (two
    # pending per source, so that held jobs do not turn the third into R-LIMIT): R-ELEM after
    # the signature, not counted; then an honest v2 patient2.
    ("v2-bad-shares", b"".join(bytes([OPEN, i, i]) + frame_op(i, body)
                               for i, body in enumerate(share_bodies.values()))
     + bytes([OPEN, 3, 3, HONEST, 3, 5])),
    # The downgrade (attack 21a) under minimum 1 (R-SIG), then under 2 (R-VERSION), with the
    # v1 worked example's request (attack 22); then back to 1.
    ("v2-downgrade-and-minimum", bytes([OPEN, 0, 0]) + frame_op(0, downgraded) + SET_MIN_V2
     + bytes([OPEN, 1, 0]) + frame_op(1, downgraded) + bytes([OPEN, 2, 1]) + frame_op(2, kv)
     + SET_MIN_V1 + bytes([OPEN, 3, 1]) + frame_op(3, kv)),
    # Honest v1 (patient1) and v2 (patient2) sessions, a v1 handshake in flight; raising the
    # minimum ends the v1 session (DISCONNECT "version") and the handshake, not the v2 one;
    # a v2 broadcast; a v1 patient refused; lowering it again.
    ("v2-minimum-raised-ends-v1", bytes([OPEN, 0, 0, HONEST, 0, 0, OPEN, 1, 3, HONEST, 1, 5, OPEN, 2, 2])
     + frame_op(2, kv) + SET_MIN_V2 + bytes([OPERATOR, 0, 0, OPEN, 3, 1, HONEST, 3, 0]) + SET_MIN_V1
     + bytes([ADVANCE, 3])),
    # Two v2 patients, one replaced by a v1 session of the same id, a leave.
    ("v2-join-replace-leave", bytes([OPEN, 0, 0, HONEST, 0, 4, OPEN, 1, 3, HONEST, 1, 5, OPERATOR, 1, 1,
                                     OPEN, 2, 1, HONEST, 2, 0, LEAVE, 1, ADVANCE, 2])),
]
write_corpus("doctor", doctor_entries)
write_dict("doctor", ['"%s":' % k for k in keys] + ["telemed-2048-256", "patient1", "patient2", "doctor"])
print("corpora written:", {t: len(e) for t, e in [("frame", frame_entries), ("message", message_entries),
                                                  ("scenario", scenario_entries), ("doctor", doctor_entries)]})
