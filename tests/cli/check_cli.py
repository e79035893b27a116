#!/usr/bin/env python3
"""The `horizons events` tools refuse bad input with one line naming the
problem and a non-zero exit, never a crash; good records around a bad one
still come through.

Usage: check_cli.py HORIZONS_BINARY
"""
import json
import os
import struct
import subprocess
import sys
import uuid

HORIZONS = sys.argv[1]
failures = []


def run(args, stdin=b""):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    done = subprocess.run([HORIZONS, *args], input=stdin, capture_output=True, timeout=60, env=env)
    if done.returncode < 0:
        failures.append(f"{' '.join(args)}: killed by signal {-done.returncode}")
    return done


def expect_refusal(name, args, stdin, words, code=1):
    done = run(args, stdin)
    err = done.stderr.decode(errors="replace").strip()
    if done.returncode != code:
        failures.append(f"{name}: exit {done.returncode}, expected {code}; stderr: {err}")
    lines = err.splitlines()
    if len(lines) != 1:
        failures.append(f"{name}: expected one error line, got {len(lines)}: {err!r}")
    elif words not in lines[0]:
        failures.append(f"{name}: error {lines[0]!r} does not mention {words!r}")
    return done


def zigzag(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def avro_string(text):
    data = text.encode()
    return zigzag(len(data)) + data


def envelope(event_type):
    """Hand-made Avro envelope of the contract (see schemas/*.avsc), followed by nothing."""
    return (avro_string(str(uuid.uuid4())) + avro_string(event_type) + zigzag(1_795_000_000_000_000)
            + avro_string(str(uuid.uuid4())) + zigzag(0) + zigzag(0) + zigzag(0) + zigzag(1) + zigzag(0) + zigzag(0))


def framed(schema_id, body):
    return b"\x00" + struct.pack(">I", schema_id) + body


def main():
    sample = run(["events", "sample", "--type", "job.submitted", "--count", "3", "--seed", "5"])
    good = sample.stdout.decode().splitlines()
    assert len(good) == 3, sample.stderr
    event = json.loads(good[0])

    # --- sample and usage
    expect_refusal("unknown type", ["events", "sample", "--type", "job.teleported"], b"", "unknown event type", code=2)
    # Without brokers, a command that talks to Kafka refuses at once (only run and bench start a cluster).
    expect_refusal("no brokers", ["health"], b"", "no Kafka brokers: set KAFKA_BROKERS or --brokers", code=2)
    expect_refusal("unsafe override", ["health", "--brokers", "127.0.0.1:9", "-X", "acks=1"], b"",
                   "acks=1 (-X or KAFKA_RDKAFKA_*) would break a guarantee", code=2)
    expect_refusal("short connect timeout", ["health", "--brokers", "127.0.0.1:9", "--connect-timeout-ms", "999"],
                   b"", "1000..600000", code=2)

    # --- encode: bad JSON lines
    missing = dict(event, payload={k: v for k, v in event["payload"].items() if k != "job_id"})
    expect_refusal("missing field", ["events", "encode"], (json.dumps(missing) + "\n").encode(),
                   "line 1: payload.job_id: missing field")
    wrong = json.loads(good[0])
    wrong["payload"]["resources"]["nodes"] = "ten"
    expect_refusal("wrong type", ["events", "encode"], (json.dumps(wrong) + "\n").encode(), "expected an integer")
    expect_refusal("unknown event type", ["events", "encode"],
                   (json.dumps(dict(event, event_type="job.teleported")) + "\n").encode(), "unknown event type")
    expect_refusal("not json", ["events", "encode"], b"{nope\n", "not valid JSON")
    illegal = json.loads(run(["events", "sample", "--type", "job.status.changed", "--seed", "1"]).stdout)
    illegal["payload"]["previous_status"], illegal["payload"]["new_status"] = "COMPLETED", "RUNNING"
    expect_refusal("illegal transition", ["events", "encode"], (json.dumps(illegal) + "\n").encode(),
                   "illegal job status transition COMPLETED -> RUNNING")

    # Good lines around a bad one still come through, in order.
    mixed = "\n".join([good[0], "{nope", good[1], good[2]]) + "\n"
    done = expect_refusal("mixed", ["events", "encode", "--hex"], mixed.encode(), "line 2")
    records = done.stdout.decode().split()
    if len(records) != 3:
        failures.append(f"mixed: expected 3 records out, got {len(records)}")
    back = run(["events", "decode", "--hex"], "\n".join(records).encode() + b"\n")
    if back.stdout.decode().splitlines() != [good[0], good[1], good[2]] or back.returncode != 0:
        failures.append("mixed: decode did not reproduce the good lines")

    # --- decode: bad records
    valid_hex = records[0]
    valid = bytes.fromhex(valid_hex)
    expect_refusal("truncated", ["events", "decode", "--hex"], valid[:40].hex().encode(), "truncated")
    expect_refusal("wrong magic", ["events", "decode", "--hex"], (b"\x01" + valid[1:]).hex().encode(), "bad magic byte 0x01")
    expect_refusal("unknown schema id", ["events", "decode", "--hex"], framed(77, valid[5:]).hex().encode(),
                   "unknown schema id 77")
    expect_refusal("bad union index", ["events", "decode", "--hex"],
                   framed(1, envelope("job.submitted") + zigzag(9)).hex().encode(), "bad union index")
    expect_refusal("odd hex", ["events", "decode", "--hex"], b"abc\n", "not an even-length hex string")
    # Length-prefixed stream: negative, absurd and short lengths.
    expect_refusal("negative length", ["events", "decode"], struct.pack(">i", -7), "negative length -7")
    expect_refusal("absurd length", ["events", "decode"], struct.pack(">i", 2_000_000_000) + b"\x00" * 8,
                   "exceeds --max-record-bytes")
    expect_refusal("short record", ["events", "decode"], struct.pack(">I", len(valid)) + valid[:10], "truncated")
    expect_refusal("short prefix", ["events", "decode"], b"\x00\x00", "truncated length prefix")
    expect_refusal("negative string length", ["events", "decode", "--hex"], framed(1, zigzag(-3)).hex().encode(),
                   "negative length -3")

    # A good stream decodes completely.
    stream = run(["events", "encode"], "\n".join(good).encode() + b"\n").stdout
    decoded = run(["events", "decode"], stream)
    if decoded.returncode != 0 or decoded.stdout.decode().splitlines() != good:
        failures.append("stream: length-prefixed round trip failed")

    checks = 22
    for f in failures:
        print("FAIL", f)
    print(f"cli checks: {checks - len(failures) if len(failures) < checks else 0} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
