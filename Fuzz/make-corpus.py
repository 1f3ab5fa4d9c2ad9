#!/usr/bin/env python3
"""Regenerates the committed seed corpora and dictionaries of the fuzz targets.

    Fuzz/make-corpus.py

Sources: the worked example's frames (Fixtures/reference/worked-example.json, every frame's
bytes) and the scenario fixtures (Fixtures/*.json). Writes Fuzz/corpus/<target>/<name> and
Fuzz/dict/<target>.dict. The doctor scripts use the opcode layout of
Fuzz/Sources/FuzzHarness/DoctorScript.swift (see Fuzz/README.md).
"""
import glob
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


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
write_corpus("doctor", doctor_entries)
write_dict("doctor", ['"%s":' % k for k in keys] + ["telemed-2048-256", "patient1", "patient2", "doctor"])
print("corpora written:", {t: len(e) for t, e in [("frame", frame_entries), ("message", message_entries),
                                                  ("scenario", scenario_entries), ("doctor", doctor_entries)]})
