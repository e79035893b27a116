#!/usr/bin/env python3
"""`horizons schemas check` catches breaking edits to a schema made by hand and accepts
compatible ones; `schemas diff` names what changed.

Usage: check_schemas.py HORIZONS_BINARY SCHEMAS_DIR
"""
import copy
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

HORIZONS, SCHEMAS = sys.argv[1], pathlib.Path(sys.argv[2])
failures = []


def definition(schema, kind, name):
    """The definition of the named type of that kind ("record", "enum") anywhere in the schema."""
    if isinstance(schema, dict):
        if schema.get("type") == kind and schema.get("name") == name:
            return schema
        children = schema.values()
    elif isinstance(schema, list):
        children = schema
    else:
        return None
    for child in children:
        found = definition(child, kind, name)
        if found is not None:
            return found
    return None


def record(schema, name):
    return definition(schema, "record", name)


def field(rec, name):
    return next(f for f in rec["fields"] if f["name"] == name)


def remove_gpus(s):
    rec = record(s, "ResourceRequest")
    rec["fields"] = [f for f in rec["fields"] if f["name"] != "gpus"]


def add_required(s):
    record(s, "ResourceRequest")["fields"].append({"name": "partition", "type": "string"})


def retype_nodes(s):
    field(record(s, "ResourceRequest"), "nodes")["type"] = "string"


def add_band(s):
    record(s, "JobSubmitted")["fields"].append(
        {"name": "observing_band", "type": ["null", "string"], "default": None})


def drop_status_symbol(s):
    """QUEUED removed, and the enum's default with it: old records holding QUEUED cannot be read."""
    status = definition(s, "enum", "JobStatus")
    status["symbols"] = [x for x in status["symbols"] if x != "QUEUED"]
    del status["default"]


CASES = [
    # (name, edit, exit code, words the output must hold)
    ("unchanged", None, 0, "job-lifecycle-value: compatible (FULL_TRANSITIVE, 2 earlier versions)"),
    ("a field removed without a default", remove_gpus, 1,
     "job-lifecycle-value: field payload.resources.gpus removed, and version 1 has no default for it: "
     "breaks FULL_TRANSITIVE"),
    ("a field added without a default", add_required, 1,
     "job-lifecycle-value: field payload.resources.partition added without a default: breaks FULL_TRANSITIVE"),
    ("a field's type changed", retype_nodes, 1, "payload.resources.nodes: the writer's"),
    ("a nullable field added with a default", add_band, 0, "job-lifecycle-value: compatible"),
]


def run(args):
    return subprocess.run([HORIZONS, *args], capture_output=True, text=True, timeout=60)


with tempfile.TemporaryDirectory() as tmp:
    for name, edit, code, words in CASES:
        work = pathlib.Path(tmp) / name.replace(" ", "_")
        shutil.copytree(SCHEMAS, work)
        if edit:
            path = work / "job-lifecycle.avsc"
            schema = json.loads(path.read_text())
            edited = copy.deepcopy(schema)
            edit(edited)
            if edited == schema:
                failures.append(f"{name}: the edit changed nothing")
            path.write_text(json.dumps(edited, indent=2))
        done = run(["schemas", "check", "--schemas-dir", str(work)])
        out = done.stdout + done.stderr
        if done.returncode != code:
            failures.append(f"{name}: exit {done.returncode}, expected {code}:\n{out}")
        if words not in out:
            failures.append(f"{name}: output does not hold {words!r}:\n{out}")

    work = pathlib.Path(tmp) / "symbol"
    shutil.copytree(SCHEMAS, work)
    path = work / "job-lifecycle.avsc"
    schema = json.loads(path.read_text())
    drop_status_symbol(schema)
    path.write_text(json.dumps(schema))
    done = run(["schemas", "check", "--schemas-dir", str(work), "--level", "BACKWARD"])
    if done.returncode != 1 or "symbol QUEUED" not in done.stdout:
        failures.append(f"a symbol removed: exit {done.returncode}:\n{done.stdout}{done.stderr}")

    done = run(["schemas", "diff", str(SCHEMAS / "job-lifecycle.avsc"), str(pathlib.Path(tmp) / "a_field_removed_without_a_default" / "job-lifecycle.avsc")])
    for words in ("- field payload.resources.gpus", "new reads old (backward): yes", "old reads new (forward): no"):
        if words not in done.stdout:
            failures.append(f"diff: {words!r} missing:\n{done.stdout}{done.stderr}")

    done = run(["schemas", "check", "--level", "SIDEWAYS", "--schemas-dir", str(SCHEMAS)])
    if done.returncode != 2 or "unknown level 'SIDEWAYS'" not in done.stderr:
        failures.append(f"bad level: exit {done.returncode}: {done.stderr}")
    done = run(["schemas", "check", "--against", "registry", "--schemas-dir", str(SCHEMAS)])
    if done.returncode != 2 or "--against registry needs --registry URL" not in done.stderr:
        failures.append(f"registry without URL: exit {done.returncode}: {done.stderr}")

for f in failures:
    print("FAIL:", f)
print(f"{len(CASES) + 4 - len(failures)} checks passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
