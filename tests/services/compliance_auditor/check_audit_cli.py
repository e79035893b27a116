#!/usr/bin/env python3
"""`horizons audit verify|query|prune` on ledgers filled by ledger_fixture: exit codes,
what is printed, and tampering done with the stdlib sqlite3 module named by seq.

Usage: check_audit_cli.py HORIZONS_BINARY LEDGER_FIXTURE_BINARY
"""
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from expectations import expect, failures

HORIZONS, FIXTURE = sys.argv[1], sys.argv[2]


def run(*args):
    done = subprocess.run([HORIZONS, *args], capture_output=True, text=True, timeout=60)
    if done.returncode < 0:
        failures.append(f"{' '.join(args)}: killed by signal {-done.returncode}")
    return done


def fresh_ledger(root, name, count=12, old=4):
    data_dir = Path(root) / name
    ledger = data_dir / "compliance-auditor" / "ledger.db"
    subprocess.run([FIXTURE, str(ledger), str(count), str(old)], check=True, timeout=60)
    return data_dir, ledger


def tamper(ledger, *statements):
    with sqlite3.connect(ledger) as db:
        for sql in statements:
            db.execute(sql)


def main():
    with tempfile.TemporaryDirectory() as root:
        data_dir, ledger = fresh_ledger(root, "good")
        expect("verify", run("audit", "verify", "--data-dir", str(data_dir)), 0,
               stdout_has=["12 checked (seq 1..12)", "ledger verified"])
        expect("verify --ledger", run("audit", "verify", "--ledger", str(ledger)), 0, stdout_has=["ledger verified"])
        report = run("audit", "verify", "--ledger", str(ledger), "--json")
        if json.loads(report.stdout or "{}").get("ok") is not True:
            failures.append(f"verify --json: {report.stdout!r}")

        # --- usage: a missing ledger is named and never created
        missing = Path(root) / "nowhere"
        expect("missing ledger", run("audit", "verify", "--data-dir", str(missing)), 2, stderr_has=["no ledger at"])
        if missing.exists():
            failures.append("verify created a data directory for a missing ledger")
        expect("both locations", run("audit", "verify", "--data-dir", str(data_dir), "--ledger", str(ledger)), 2)
        expect("bad time", run("audit", "query", "--ledger", str(ledger), "--since", "yesterday"), 2,
               stderr_has=["--since"])

        # --- query: by job, by user, by age
        with sqlite3.connect(ledger) as db:
            job, job_count = db.execute("SELECT job_id, COUNT(*) FROM ledger_entries WHERE job_id IS NOT NULL "
                                        "GROUP BY job_id LIMIT 1").fetchone()
            user, user_count = db.execute("SELECT user_id, COUNT(*) FROM ledger_entries WHERE user_id IS NOT NULL "
                                          "GROUP BY user_id LIMIT 1").fetchone()
        for flag, value, count in (("--job", job, job_count), ("--user", user, user_count), ("--since", "2h", 8)):
            done = run("audit", "query", "--ledger", str(ledger), flag, value, "--json")
            expect(f"query {flag}", done, 0)
            lines = [json.loads(line) for line in done.stdout.splitlines()]
            if len(lines) != count:
                failures.append(f"query {flag} {value}: {len(lines)} entries, expected {count}")
            if flag == "--job" and any(job not in json.dumps(line["event"]) for line in lines):
                failures.append(f"query --job {job}: an entry not about the job: {lines}")
        expect("query table", run("audit", "query", "--ledger", str(ledger), "--limit", "3"), 0,
               stdout_has=["SEQ", "3 entries"])

        # --- prune: the 4 old entries go, the rest verifies from the checkpoint
        expect("prune", run("audit", "prune", "--data-dir", str(data_dir)), 0,
               stdout_has=["pruned 4 entries", "checkpoint  entry 4"])
        expect("verify after prune", run("audit", "verify", "--data-dir", str(data_dir)), 0,
               stdout_has=["8 checked (seq 5..12)", "checkpoint  entry 4", "ledger verified"])
        tamper(ledger, "UPDATE ledger_entries SET body = body || x'00' WHERE seq = 5")
        expect("edited after prune", run("audit", "verify", "--data-dir", str(data_dir)), 1,
               stderr_has=["first bad entry 5 (edited)"])
        expect("prune refuses", run("audit", "prune", "--data-dir", str(data_dir), "--older-than", "0s"), 1,
               stderr_has=["refusing to prune", "entry 5"])

        # --- each tampering on a fresh ledger, named by its first bad seq
        swap = ("UPDATE ledger_entries SET seq = -1 WHERE seq = 3", "UPDATE ledger_entries SET seq = 3 WHERE seq = 6",
                "UPDATE ledger_entries SET seq = 6 WHERE seq = -1")
        for name, statements, words in (
                ("edited body", ("UPDATE ledger_entries SET body = body || x'00' WHERE seq = 7",), "entry 7 (edited)"),
                ("edited job", ("UPDATE ledger_entries SET job_id = 'job-x' WHERE seq = 9",), "entry 9 (edited)"),
                ("deleted", ("DELETE FROM ledger_entries WHERE seq = 6",), "entry 6 (deleted)"),
                ("reordered", swap, "entry 3 (reordered)")):
            data_dir, ledger = fresh_ledger(root, name.replace(" ", "-"))
            tamper(ledger, *statements)
            expect(name, run("audit", "verify", "--data-dir", str(data_dir)), 1, stderr_has=[words])

    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
