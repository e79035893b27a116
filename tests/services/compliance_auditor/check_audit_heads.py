#!/usr/bin/env python3
"""Signed heads end to end: `horizons run` (the whole platform on the embedded cluster) with
HORIZONS_AUDIT_CHECKPOINTS and HORIZONS_AUDIT_SIGNING_KEY set, then `horizons audit verify
--checkpoints --checkpoint-key` on its ledger: verified as it is; after its last entries are deleted
with the stdlib sqlite3 module, exit 1 naming the first missing entry; with another key, exit 1; with
a missing key file, exit 2. A heads file inside the data directory, or a key without a place for the
heads, stops the platform from starting. Then the heads in a topic: `horizons up` (an embedded cluster
that outlives the run), `horizons run --brokers` with HORIZONS_AUDIT_CHECKPOINTS_TOPIC=audit-checkpoints,
`horizons audit verify --checkpoints-topic`: verified, then the deleted tail found.

Usage: check_audit_heads.py HORIZONS_BINARY
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from expectations import expect, failures

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "support"))
from horizons_process import EmbeddedCluster  # noqa: E402

HORIZONS = sys.argv[1]


def horizons(*args, env=None, timeout=300):
    return subprocess.run([HORIZONS, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def key_pair(root, name):
    key, pub = root / f"{name}.key", root / f"{name}.pub"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True, capture_output=True)
    return key, pub


def main():
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        key, pub = key_pair(root, "audit")
        _, other_pub = key_pair(root, "other")
        data, heads = root / "data", root / "heads.jsonl"

        inside = horizons("run", "--jobs", "5", "--data-dir", str(data),
                          env={"HORIZONS_AUDIT_CHECKPOINTS": str(data / "heads.jsonl"),
                               "HORIZONS_AUDIT_SIGNING_KEY": str(key)})
        expect("heads inside the data directory", inside, 1, stderr_has=["inside the data directory"])
        nowhere = horizons("run", "--jobs", "5", "--data-dir", str(data), env={"HORIZONS_AUDIT_SIGNING_KEY": str(key)})
        expect("a key without a place for the heads", nowhere, 1, stderr_has=["HORIZONS_AUDIT_CHECKPOINTS_TOPIC"])

        ran = horizons("run", "--jobs", "20", "--data-dir", str(data),
                       env={"HORIZONS_AUDIT_CHECKPOINTS": str(heads), "HORIZONS_AUDIT_SIGNING_KEY": str(key)})
        expect("horizons run with signed heads", ran, 0)
        lines = heads.read_text().splitlines() if heads.exists() else []
        if not lines:
            failures.append("horizons run wrote no signed head")
            return report()
        last = json.loads(lines[-1])
        ledger = data / "compliance-auditor" / "ledger.db"
        with sqlite3.connect(ledger) as db:
            entries = db.execute("SELECT MAX(seq) FROM ledger_entries").fetchone()[0]
        if last["seq"] != entries:
            failures.append(f"the last signed head is of entry {last['seq']}, the ledger ends at {entries}")

        verify = ["audit", "verify", "--data-dir", str(data), "--checkpoints", str(heads)]
        expect("verify against the heads", horizons(*verify, "--checkpoint-key", str(pub)), 0,
               stdout_has=[f"entries through {entries} vouched for", "ledger verified"])
        expect("another key", horizons(*verify, "--checkpoint-key", str(other_pub)), 1, stderr_has=["does not verify"])
        expect("a missing key", horizons(*verify, "--checkpoint-key", str(root / "none.pub")), 2,
               stderr_has=["--checkpoint-key"])
        expect("a key without heads", horizons("audit", "verify", "--data-dir", str(data), "--checkpoint-key", str(pub)),
               2)

        with sqlite3.connect(ledger) as db:
            db.execute("DELETE FROM ledger_entries WHERE seq > ?", (entries - 3,))
        expect("the chain alone misses a deleted tail", horizons("audit", "verify", "--data-dir", str(data)), 0)
        done = horizons(*verify, "--checkpoint-key", str(pub))
        expect("the heads find it", done, 1,
               stderr_has=[f"first bad entry {entries - 2}", f"the ledger ends at entry {entries - 3}"])
        as_json = horizons(*verify, "--checkpoint-key", str(pub), "--json")
        out = json.loads(as_json.stdout or "{}")
        if out.get("ok") is not False or (out.get("bad_entry") or {}).get("seq") != entries - 2:
            failures.append(f"verify --json after truncation: {as_json.stdout!r}")
        heads_in_a_topic(root, key, pub)
    return report()


def max_seq(ledger):
    with sqlite3.connect(ledger) as db:
        return db.execute("SELECT MAX(seq) FROM ledger_entries").fetchone()[0]


def heads_in_a_topic(root, key, pub):
    with EmbeddedCluster(HORIZONS, brokers=3) as cluster:
        brokers = cluster.bootstrap
        data = root / "data-topic"
        ran = horizons("run", "--brokers", brokers, "--jobs", "20", "--data-dir", str(data),
                       env={"HORIZONS_AUDIT_CHECKPOINTS_TOPIC": "audit-checkpoints",
                            "HORIZONS_AUDIT_SIGNING_KEY": str(key)})
        expect("horizons run with heads to a topic", ran, 0)
        ledger = data / "compliance-auditor" / "ledger.db"
        entries = max_seq(ledger)
        verify = ["audit", "verify", "--data-dir", str(data), "--checkpoints-topic", "audit-checkpoints",
                  "--brokers", brokers, "--checkpoint-key", str(pub)]
        expect("verify against the topic's heads", horizons(*verify), 0,
               stdout_has=[f"entries through {entries} vouched for", "ledger verified"])
        with sqlite3.connect(ledger) as db:
            db.execute("DELETE FROM ledger_entries WHERE seq > ?", (entries - 3,))
        expect("the topic's heads find a deleted tail", horizons(*verify), 1,
               stderr_has=[f"first bad entry {entries - 2}", f"the ledger ends at entry {entries - 3}"])


def report():
    for failure in failures:
        print(failure, file=sys.stderr)
    print(f"signed heads: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
