#!/usr/bin/python3
"""Interop between Horizons' Avro codec and a second, independent Avro implementation.

The second implementation is Debian's python3-avro (1.11), installed for the
system interpreter only: run this file with /usr/bin/python3. It uses the
standard library and `avro` and nothing else.

What python-avro 1.11.1 does with the contract's logical types (and how this file maps it to
Horizons' JSON convention): timestamp-micros is read as a timezone-aware datetime in UTC
(epoch + timedelta), written from one; outside years 1-9999 it cannot read the record at all
(OverflowError). uuid is read as a plain str and written from a str (its validation calls
uuid.UUID(datum)). Enums are symbol strings, maps dicts, ["null", T] None or the value, and the
payload union a plain dict (which branch it was is recorded by PayloadBranchReader).

    check_interop.py SUBCOMMAND HORIZONS_BINARY REPO_ROOT

Subcommands used by CTest (tests/interop/CMakeLists.txt):
  golden-bytes           `horizons events encode --hex --skip-validation` of
                         corpus/events.jsonl is byte-identical to corpus/events.hex,
                         and `horizons events decode --hex` of the hex reproduces
                         the JSON lines exactly.
  python-reads-horizons  python-avro decodes every record of corpus/events.hex
                         (framing, schema id -> topic, every byte consumed) to
                         the values of the matching JSON line.
  horizons-reads-python  python-avro writes every JSON line of the corpus; the
                         bytes equal corpus/events.hex and Horizons decodes them
                         to the same JSON text, also when every array and map
                         item is written in its own negative-count block.
  self-test              corrupts records and values and asserts that each check
                         above reports the corruption (the checks can fail).
  coverage               the corpus holds every event type and the codec's corners
                         (-0.0, infinities, NaN, 64-bit extremes, year 1 and 9999, ...).

Used by make_corpus.sh only:
  representable          filters JSON lines on stdin to those python-avro can hold.
  edge-cases             turns sampled valid JSON lines on stdin into hand-made corner records.

Every check prints one summary line such as
  "python-reads-horizons: 201 records, 201 ok, 0 failed"
and exits 1 on any mismatch, after printing the first few with line numbers.
"""

import argparse
import datetime
import io
import json
import math
import re
import struct
import subprocess
import sys
from pathlib import Path

try:
    import avro
    import avro.io
    import avro.schema
except ImportError as error:  # pragma: no cover - environment problem, not a test result
    sys.exit(
        f"check_interop.py: cannot import python-avro ({error}).\n"
        "Run this script with /usr/bin/python3 and install Debian's python3-avro (apt-get install python3-avro)."
    )

CORPUS_JSON = Path("tests/interop/corpus/events.jsonl")
CORPUS_HEX = Path("tests/interop/corpus/events.hex")
MAX_REPORTED = 5
UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
# Horizons' timestamp text: exactly six decimals and Z.
TIMESTAMP_TEXT = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z\Z")
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


class Mismatch(Exception):
    """A record that does not convert or compare; the message names the field path."""


# ---------------------------------------------------------------- the contract, as the CLI states it


def dotted(record_name):
    """The event type that names a payload branch: JobStatusChanged -> job.status.changed."""
    return re.sub(r"(?<!^)(?=[A-Z])", ".", record_name).lower()


def without_uuid_in_unions(node, in_union=False):
    """The schema JSON with "logicalType": "uuid" dropped from union branches.

    python-avro 1.11.1 cannot write null into ["null", {"type": "string", "logicalType": "uuid"}]:
    DatumWriter's union resolution calls UUIDSchema.validate(None), which raises TypeError
    (AVRO-3761, fixed in 1.11.2 by apache/avro#2249). A uuid is a plain string on the wire, so a
    writer schema without that annotation inside unions writes the same bytes."""
    if isinstance(node, list):
        return [without_uuid_in_unions(n, in_union=True) for n in node]
    if isinstance(node, dict):
        out = {k: without_uuid_in_unions(v) for k, v in node.items()}
        if in_union and out.get("logicalType") == "uuid":
            del out["logicalType"]
        return out
    return node


class Topic:
    def __init__(self, name, schema_id, schema_text):
        self.name = name
        self.schema_id = schema_id
        self.schema = avro.schema.parse(schema_text)  # for reading: exactly schemas/<topic>.avsc
        self.writer_schema = avro.schema.parse(json.dumps(without_uuid_in_unions(json.loads(schema_text))))
        self.payload_union = self.schema.fields_dict["payload"].type
        self.writer_payload_union = self.writer_schema.fields_dict["payload"].type
        self.branch_of_event_type = {dotted(b.name): i for i, b in enumerate(self.payload_union.schemas)}


class Contract:
    """Schema ids from `horizons schemas list`, schemas from schemas/<topic>.avsc parsed by python-avro."""

    def __init__(self, horizons, root):
        listing = run([horizons, "schemas", "list"]).stdout.decode().splitlines()
        if not listing or listing[0].split()[:3] != ["TOPIC", "RECORD", "SCHEMA_ID"]:
            raise SystemExit(f"unexpected `horizons schemas list` output: {listing[:1]}")
        self.by_id = {}
        self.by_event_type = {}
        for row in listing[1:]:
            if not row.strip():
                continue
            topic_name, record_name, schema_id, _version = row.split()
            topic = Topic(topic_name, int(schema_id), (root / "schemas" / f"{topic_name}.avsc").read_bytes().decode())
            if topic.schema.name != record_name:
                raise SystemExit(f"schemas/{topic_name}.avsc names record {topic.schema.name}, the CLI says {record_name}")
            self.by_id[topic.schema_id] = topic
            for event_type in topic.branch_of_event_type:
                self.by_event_type[event_type] = topic
        # The dotted-name rule above must give exactly the CLI's event types.
        cli_types = run([horizons, "events", "types"]).stdout.decode().split()
        if sorted(cli_types) != sorted(self.by_event_type):
            raise SystemExit(
                f"event types from the schemas {sorted(self.by_event_type)} differ from `horizons events types` {sorted(cli_types)}"
            )
        if not self.by_id:
            raise SystemExit("`horizons schemas list` listed no topics")


def run(command, stdin=b"", check=True):
    result = subprocess.run([str(c) for c in command], input=stdin, capture_output=True)
    if check and result.returncode != 0:
        raise SystemExit(
            f"{' '.join(map(str, command))} exited {result.returncode}: {result.stderr.decode(errors='replace')[:2000]}"
        )
    return result


# ---------------------------------------------------------------- strict JSON


def lines(text):
    """Lines split at "\\n" only: str.splitlines() would also split inside a JSON string holding a raw
    U+2028, U+0085 or U+001C, which Horizons (like any JSON writer) leaves unescaped."""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def _reject_constant(token):
    raise ValueError(f"bare {token} is not JSON; Horizons spells it as the string \"{token}\"")


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def load_json(text):
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)


# ---------------------------------------------------------------- python-avro values <-> Horizons JSON


def logical(schema):
    return getattr(schema, "logical_type", None) or schema.get_prop("logicalType")


def format_timestamp(value, path):
    if not isinstance(value, datetime.datetime):
        raise Mismatch(f"{path}: python-avro gave {type(value).__name__} for timestamp-micros, expected datetime")
    if value.tzinfo is None or value.utcoffset() != datetime.timedelta(0):
        raise Mismatch(f"{path}: python-avro gave a datetime that is not UTC: {value!r}")
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}Z"
    )


def parse_timestamp(value, path):
    if isinstance(value, bool):
        raise Mismatch(f"{path}: expected a timestamp, got a boolean")
    if isinstance(value, int):
        # Horizons writes microseconds as a number outside years 1-9999; datetime cannot hold those.
        try:
            return EPOCH + datetime.timedelta(microseconds=value)
        except OverflowError as error:
            raise Mismatch(f"{path}: {value} microseconds is outside python's datetime range ({error})")
    if not isinstance(value, str):
        raise Mismatch(f"{path}: expected an RFC 3339 string, got {type(value).__name__}")
    match = TIMESTAMP_TEXT.match(value)
    if not match:
        raise Mismatch(f"{path}: {value!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    y, mo, d, h, mi, s, us = (int(g) for g in match.groups())
    try:
        return datetime.datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)
    except ValueError as error:
        raise Mismatch(f"{path}: {value!r}: {error}")


def to_horizons_json(schema, value, path, event_type=None):
    """What Horizons' JSON convention says for a value python-avro decoded."""
    kind = schema.type
    if kind == "null":
        if value is not None:
            raise Mismatch(f"{path}: expected None, got {value!r}")
        return None
    if kind == "boolean":
        if not isinstance(value, bool):
            raise Mismatch(f"{path}: expected bool, got {type(value).__name__}")
        return value
    if kind in ("int", "long"):
        if kind == "long" and logical(schema) == "timestamp-micros":
            return format_timestamp(value, path)
        if not isinstance(value, int) or isinstance(value, bool):
            raise Mismatch(f"{path}: expected int, got {type(value).__name__}")
        return value
    if kind in ("float", "double"):
        if not isinstance(value, float):
            raise Mismatch(f"{path}: expected float, got {type(value).__name__}")
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if kind == "string":
        if logical(schema) == "uuid" and not isinstance(value, str):
            value = str(value)  # some python-avro versions hand back uuid.UUID
        if not isinstance(value, str):
            raise Mismatch(f"{path}: expected str, got {type(value).__name__}")
        return value
    if kind == "enum":
        if value not in schema.symbols:
            raise Mismatch(f"{path}: {value!r} is not a symbol of {schema.name}")
        return value
    if kind == "array":
        if not isinstance(value, list):
            raise Mismatch(f"{path}: expected list, got {type(value).__name__}")
        return [to_horizons_json(schema.items, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise Mismatch(f"{path}: expected dict, got {type(value).__name__}")
        return {key: to_horizons_json(schema.values, item, f"{path}.{key}") for key, item in value.items()}
    if kind == "union":
        branch = union_branch(schema, value, path, event_type)
        return to_horizons_json(branch, value, path)
    if kind == "record":
        if not isinstance(value, dict):
            raise Mismatch(f"{path}: expected a dict for record {schema.name}, got {type(value).__name__}")
        names = [f.name for f in schema.fields]
        if list(value) != names:
            raise Mismatch(f"{path}: fields {list(value)} are not those of {schema.name} {names}")
        prefix = f"{path}." if path else ""
        return {
            f.name: to_horizons_json(
                f.type, value[f.name], prefix + f.name, value.get("event_type") if f.name == "payload" else None
            )
            for f in schema.fields
        }
    raise Mismatch(f"{path}: schema type {kind} is not in the contract")


def union_branch(schema, value, path, event_type):
    """The branch a value belongs to: null, the only other branch, or the payload record named by event_type."""
    branches = schema.schemas
    if value is None:
        for branch in branches:
            if branch.type == "null":
                return branch
        raise Mismatch(f"{path}: null is not a branch of {[b.type for b in branches]}")
    others = [b for b in branches if b.type != "null"]
    if len(others) == 1:
        return others[0]
    if event_type is None:
        raise Mismatch(f"{path}: a union of {len(others)} records needs event_type to pick the branch")
    named = [b for b in others if dotted(b.name) == event_type]
    if len(named) != 1:
        raise Mismatch(f"{path}: event_type {event_type!r} names no branch of {[b.name for b in others]}")
    return named[0]


def to_python_datum(schema, value, path, event_type=None):
    """The inverse: the python datum python-avro's DatumWriter takes for a Horizons JSON value."""
    kind = schema.type
    if kind == "null":
        if value is not None:
            raise Mismatch(f"{path}: expected null, got {value!r}")
        return None
    if kind == "boolean":
        if not isinstance(value, bool):
            raise Mismatch(f"{path}: expected a boolean, got {value!r}")
        return value
    if kind in ("int", "long"):
        if kind == "long" and logical(schema) == "timestamp-micros":
            return parse_timestamp(value, path)
        if not isinstance(value, int) or isinstance(value, bool):
            raise Mismatch(f"{path}: expected an integer, got {value!r}")
        low, high = INT_RANGE[kind]
        if not low <= value <= high:
            raise Mismatch(f"{path}: {value} is outside the Avro {kind} range")
        return value
    if kind in ("float", "double"):
        if isinstance(value, str) and value in NON_FINITE:
            return NON_FINITE[value]
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise Mismatch(f"{path}: expected a number or NaN/Infinity/-Infinity, got {value!r}")
        return float(value)
    if kind == "string":
        if not isinstance(value, str):
            raise Mismatch(f"{path}: expected a string, got {value!r}")
        return value
    if kind == "enum":
        if value not in schema.symbols:
            raise Mismatch(f"{path}: {value!r} is not a symbol of {schema.name}")
        return value
    if kind == "array":
        if not isinstance(value, list):
            raise Mismatch(f"{path}: expected an array, got {value!r}")
        return [to_python_datum(schema.items, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise Mismatch(f"{path}: expected an object, got {value!r}")
        return {key: to_python_datum(schema.values, item, f"{path}.{key}") for key, item in value.items()}
    if kind == "union":
        return to_python_datum(union_branch(schema, value, path, event_type), value, path)
    if kind == "record":
        if not isinstance(value, dict):
            raise Mismatch(f"{path}: expected an object for record {schema.name}, got {value!r}")
        names = [f.name for f in schema.fields]
        if list(value) != names:
            raise Mismatch(f"{path}: fields {list(value)} are not those of {schema.name} {names}")
        prefix = f"{path}." if path else ""
        return {
            f.name: to_python_datum(
                f.type, value[f.name], prefix + f.name, value.get("event_type") if f.name == "payload" else None
            )
            for f in schema.fields
        }
    raise Mismatch(f"{path}: schema type {kind} is not in the contract")


def difference(expected, actual, path=""):
    """None if equal; else where and how. Types must match exactly and floats bit for bit."""
    if type(expected) is not type(actual):
        return f"{path or '<record>'}: expected {type(expected).__name__} {expected!r}, got {type(actual).__name__} {actual!r}"
    if isinstance(expected, float):
        if struct.pack("<d", expected) != struct.pack("<d", actual):
            return f"{path}: expected {expected!r} ({struct.pack('>d', expected).hex()}), got {actual!r} ({struct.pack('>d', actual).hex()})"
        return None
    if isinstance(expected, dict):
        if list(expected) != list(actual):
            return f"{path or '<record>'}: keys {list(expected)} != {list(actual)}"
        for key in expected:
            found = difference(expected[key], actual[key], f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return f"{path}: {len(expected)} items expected, got {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            found = difference(e, a, f"{path}[{i}]")
            if found:
                return found
        return None
    if expected != actual:
        return f"{path}: expected {expected!r}, got {actual!r}"
    return None


# ---------------------------------------------------------------- python-avro reading and writing


class PayloadBranchReader(avro.io.DatumReader):
    """A DatumReader that also reports which branch of the payload union the bytes chose."""

    def __init__(self, topic):
        super().__init__(topic.schema, topic.schema)
        self.topic = topic
        self.payload_branch = None

    def read_union(self, writers_schema, readers_schema, decoder):
        if writers_schema is not self.topic.payload_union:
            return super().read_union(writers_schema, readers_schema, decoder)
        index = int(decoder.read_long())
        if not 0 <= index < len(writers_schema.schemas):
            raise Mismatch(f"payload: union branch {index} outside 0..{len(writers_schema.schemas) - 1}")
        self.payload_branch = writers_schema.schemas[index].name
        return self.read_data(writers_schema.schemas[index], readers_schema.schemas[index], decoder)


def python_decode(contract, record):
    """Framed bytes -> (topic, python-avro datum, payload branch name)."""
    if len(record) < 5:
        raise Mismatch(f"record of {len(record)} bytes is shorter than the 5-byte frame header")
    if record[0] != 0:
        raise Mismatch(f"magic byte is 0x{record[0]:02x}, not 0x00")
    schema_id = int.from_bytes(record[1:5], "big")
    topic = contract.by_id.get(schema_id)
    if topic is None:
        raise Mismatch(f"schema id {schema_id} is not in `horizons schemas list`")
    body = io.BytesIO(record[5:])
    reader = PayloadBranchReader(topic)
    try:
        datum = reader.read(avro.io.BinaryDecoder(body))
    except Mismatch:
        raise
    except Exception as error:  # python-avro raises many kinds; each is a failed record here
        raise Mismatch(f"python-avro could not decode the body: {type(error).__name__}: {error}")
    left = len(record) - 5 - body.tell()
    if left != 0:
        raise Mismatch(f"python-avro left {left} of {len(record) - 5} body bytes unread")
    if reader.payload_branch is None:
        raise Mismatch("the payload union was never read")
    return topic, datum, reader.payload_branch


class BlockedDatumWriter(avro.io.DatumWriter):
    """python-avro's DatumWriter, but every array and map item in its own block with a negative count
    and a byte size, as the Avro spec allows (Java's BlockingBinaryEncoder writes this form)."""

    def _blocks(self, items, write_item, encoder):
        for item in items:
            block = io.BytesIO()
            write_item(item, avro.io.BinaryEncoder(block))
            encoder.write_long(-1)
            encoder.write_long(len(block.getvalue()))
            encoder.write(block.getvalue())
        encoder.write_long(0)

    def write_array(self, writers_schema, datum, encoder):
        self._blocks(datum, lambda item, e: self.write_data(writers_schema.items, item, e), encoder)

    def write_map(self, writers_schema, datum, encoder):
        def write_entry(entry, e):
            e.write_utf8(entry[0])
            self.write_data(writers_schema.values, entry[1], e)

        self._blocks(datum.items(), write_entry, encoder)


def python_encode(contract, value, writer=avro.io.DatumWriter):
    """A Horizons JSON value -> framed bytes written by python-avro's DatumWriter (or `writer`)."""
    if not isinstance(value, dict) or not isinstance(value.get("event_type"), str):
        raise Mismatch("event_type: missing or not a string")
    topic = contract.by_event_type.get(value["event_type"])
    if topic is None:
        raise Mismatch(f"event_type: {value['event_type']!r} is no payload of any schema")
    datum = to_python_datum(topic.writer_schema, value, "")
    # DatumWriter picks the last union branch the datum validates against: make sure that is the named one.
    union = topic.writer_payload_union
    try:
        matching = [b.name for b in union.schemas if avro.io.validate(b, datum["payload"])]
    except Exception as error:
        raise Mismatch(f"payload: python-avro could not validate it: {type(error).__name__}: {error}")
    wanted = union.schemas[topic.branch_of_event_type[value["event_type"]]].name
    if matching != [wanted]:
        raise Mismatch(f"payload: python-avro would see it as {matching}, not exactly [{wanted}]")
    out = io.BytesIO()
    try:
        writer(topic.writer_schema).write(datum, avro.io.BinaryEncoder(out))
    except Exception as error:
        raise Mismatch(f"python-avro could not write it: {type(error).__name__}: {error}")
    return b"\x00" + topic.schema_id.to_bytes(4, "big") + out.getvalue()


# ---------------------------------------------------------------- the checks


def read_corpus(root):
    json_lines = lines((root / CORPUS_JSON).read_bytes().decode("utf-8"))
    hex_lines = lines((root / CORPUS_HEX).read_bytes().decode("ascii"))
    if not json_lines:
        raise SystemExit(f"{CORPUS_JSON} is empty")
    if len(json_lines) != len(hex_lines):
        raise SystemExit(f"{CORPUS_JSON} has {len(json_lines)} lines but {CORPUS_HEX} has {len(hex_lines)}")
    return json_lines, hex_lines


def check_python_reads(contract, json_lines, hex_lines):
    """[(line number, problem)] for records python-avro does not read as their JSON line says."""
    failures = []
    for number, (text, hex_text) in enumerate(zip(json_lines, hex_lines), start=1):
        try:
            expected = load_json(text)
            try:
                record = bytes.fromhex(hex_text)
            except ValueError as error:
                raise Mismatch(f"not a hex string: {error}")
            topic, datum, branch = python_decode(contract, record)
            if dotted(branch) != datum.get("event_type"):
                raise Mismatch(f"payload: union branch {branch} but event_type {datum.get('event_type')!r}")
            actual = to_horizons_json(topic.schema, datum, "")
            found = difference(expected, actual)
            if found:
                raise Mismatch(found)
        except (Mismatch, ValueError) as error:
            failures.append((number, str(error)))
    return failures


def check_horizons_reads(contract, horizons, json_lines, hex_lines, values=None, compare_bytes=True):
    """[(line number, problem)] for JSON lines python-avro cannot write, whose bytes differ from the
    corpus (unless not compare_bytes), or that Horizons does not decode back to the same text, either
    as python-avro writes them or with every array and map item in a negative-count block.
    `values` (parsed JSON per line) may replace what python writes, to prove a difference is seen."""
    failures = {}
    plain, blocked = [], []  # (line number, hex) of the records python wrote
    for number, text in enumerate(json_lines, start=1):
        try:
            value = values[number - 1] if values is not None else load_json(text)
            record = python_encode(contract, value).hex()
            blocked_record = python_encode(contract, value, BlockedDatumWriter).hex()
        except (Mismatch, ValueError) as error:
            failures[number] = str(error)
            continue
        if compare_bytes and record != hex_lines[number - 1]:
            failures[number] = f"python-avro wrote {record}, Horizons' corpus has {hex_lines[number - 1]}"
        plain.append((number, record))
        blocked.append((number, blocked_record))
    for written, how in ((plain, "python's bytes"), (blocked, "python's bytes in negative-count blocks")):
        for number, text, error in horizons_decode(horizons, written):
            if text is None:
                failures.setdefault(number, f"horizons refused {how}: {error}")
            elif text != json_lines[number - 1]:
                failures.setdefault(
                    number, f"horizons decoded {how} to\n      {text}\n    expected\n      {json_lines[number - 1]}"
                )
    return sorted(failures.items())


def horizons_decode(horizons, records):
    """[(line number, JSON text or None if refused, stderr)] from `horizons events decode --hex`."""

    def decode(batch):
        return run([horizons, "events", "decode", "--hex"], "".join(f"{r}\n" for _, r in batch).encode(), check=False)

    result = decode(records)
    out = lines(result.stdout.decode("utf-8", errors="replace"))
    if result.returncode == 0 and len(out) == len(records):
        return [(number, text, "") for (number, _), text in zip(records, out)]
    # Something was refused and the lines no longer align: decode one by one to name it.
    texts = []
    for item in records:
        single = decode([item])
        ok = single.returncode == 0 and single.stdout.count(b"\n") == 1
        text = single.stdout.decode("utf-8", errors="replace").rstrip("\n") if ok else None
        texts.append((item[0], text, single.stderr.decode("utf-8", errors="replace").strip()))
    return texts


def check_golden(horizons, json_text, hex_text):
    """[(line number, problem)] where Horizons' encoding or decoding differs from the golden corpus."""
    failures = {}
    json_lines, hex_lines = lines(json_text), lines(hex_text)
    encoded = run([horizons, "events", "encode", "--hex", "--skip-validation"], json_text.encode(), check=False)
    decoded = run([horizons, "events", "decode", "--hex"], hex_text.encode(), check=False)
    for name, result in (("encode", encoded), ("decode", decoded)):
        if result.returncode != 0 or result.stderr:
            failures[0] = f"horizons events {name} exited {result.returncode}: {result.stderr.decode(errors='replace').strip()[:1000]}"
    got_hex = lines(encoded.stdout.decode(errors="replace"))
    got_json = lines(decoded.stdout.decode(errors="replace"))
    for number in range(1, max(len(hex_lines), len(got_hex), len(json_lines), len(got_json)) + 1):
        want_h, have_h = _line(hex_lines, number), _line(got_hex, number)
        want_j, have_j = _line(json_lines, number), _line(got_json, number)
        if want_h != have_h:
            failures.setdefault(number, f"encode wrote\n      {have_h}\n    golden hex is\n      {want_h}")
        elif want_j != have_j:
            failures.setdefault(number, f"decode wrote\n      {have_j}\n    golden JSON is\n      {want_j}")
    # The files themselves, byte for byte (line endings, final newline).
    if not failures and (encoded.stdout != hex_text.encode() or decoded.stdout != json_text.encode()):
        failures[0] = "outputs equal the corpus line by line but not byte for byte (line endings?)"
    return sorted(failures.items())


def _line(lines, number):
    return lines[number - 1] if number <= len(lines) else "<no line>"


def report(name, records, failures):
    for number, problem in failures[:MAX_REPORTED]:
        where = f"line {number}" if number else "corpus"
        print(f"  {where}: {problem}")
    if len(failures) > MAX_REPORTED:
        print(f"  ... and {len(failures) - MAX_REPORTED} more")
    failed = len({n for n, _ in failures})
    print(f"{name}: {records} records, {records - len({n for n, _ in failures if n})} ok, {failed} failed")
    return 1 if failures else 0


# ---------------------------------------------------------------- subcommands


def cmd_golden_bytes(args):
    json_text = (args.root / CORPUS_JSON).read_bytes().decode("utf-8")
    hex_text = (args.root / CORPUS_HEX).read_bytes().decode("ascii")
    json_lines, _ = read_corpus(args.root)
    return report("golden-bytes", len(json_lines), check_golden(args.horizons, json_text, hex_text))


def cmd_python_reads_horizons(args):
    contract = Contract(args.horizons, args.root)
    json_lines, hex_lines = read_corpus(args.root)
    return report("python-reads-horizons", len(json_lines), check_python_reads(contract, json_lines, hex_lines))


def cmd_horizons_reads_python(args):
    contract = Contract(args.horizons, args.root)
    json_lines, hex_lines = read_corpus(args.root)
    failures = check_horizons_reads(contract, args.horizons, json_lines, hex_lines)
    return report("horizons-reads-python", len(json_lines), failures)


def _first_string_field(value, path=""):
    """(path, string) of the first non-empty string value under payload, depth first."""
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_string_field(item, f"{path}.{key}" if path else key)
            if found:
                return found
    elif isinstance(value, str) and value and value not in NON_FINITE:
        return path, value
    return None


def _set_path(value, path, new):
    *parents, last = path.split(".")
    for key in parents:
        value = value[key]
    value[last] = new


def _find_double(value, want, path=""):
    """Path of the first float in value for which want(float) holds."""
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_double(item, want, f"{path}.{key}" if path else key)
            if found:
                return found
    elif isinstance(value, float) and want(value):
        return path
    return None


def cmd_self_test(args):
    """Each corruption must be reported by the check it targets, at the line corrupted and no other,
    for the reason expected; and the uncorrupted corpus must pass all three checks."""
    contract = Contract(args.horizons, args.root)
    json_lines, hex_lines = read_corpus(args.root)
    values = [load_json(t) for t in json_lines]
    outcomes = []

    def expect(name, failures, line, because):
        lines_reported = sorted({n for n, _ in failures})
        detail = failures[0][1] if failures else "nothing reported"
        ok = lines_reported == [line] and because in detail
        outcomes.append(ok)
        print(
            f"  {'detected' if ok else 'MISSED  '} {name}: lines {lines_reported} (corrupted: {line}, "
            f"expected reason: {because!r}): {detail.splitlines()[0]}"
        )

    def golden(json_list, hex_list):
        return check_golden(args.horizons, "".join(f"{t}\n" for t in json_list), "".join(f"{t}\n" for t in hex_list))

    # 1. One byte of a string inside the Avro body: same length, still valid UTF-8.
    k = next(i for i, v in enumerate(values) if _first_string_field(v["payload"]))
    path, text = _first_string_field(values[k]["payload"])
    needle = text.encode().hex()
    at = hex_lines[k].index(needle, 10) + len(needle) - 2
    corrupt = list(hex_lines)
    corrupt[k] = hex_lines[k][:at] + "%02x" % (int(hex_lines[k][at : at + 2], 16) ^ 0x01) + hex_lines[k][at + 2 :]
    expect("a string byte in the body, python reading", check_python_reads(contract, json_lines, corrupt), k + 1,
           f"payload.{path}: expected")
    expect("a string byte in the body, golden bytes", golden(json_lines, corrupt), k + 1, "encode wrote")
    # 2. A trailing byte after the record, and a wrong magic byte.
    corrupt = list(hex_lines)
    corrupt[k] = hex_lines[k] + "00"
    expect("a trailing byte after the record", check_python_reads(contract, json_lines, corrupt), k + 1, "unread")
    corrupt = list(hex_lines)
    corrupt[k] = "01" + hex_lines[k][2:]
    expect("magic byte 0x01", check_python_reads(contract, json_lines, corrupt), k + 1, "magic byte")
    # 3. Floats are compared bit for bit and types exactly: one ulp, the sign of zero, 3 for 3.0.
    for name, want, change in (
        ("one ulp up", lambda d: d != 0 and math.isfinite(d), lambda d: math.nextafter(d, math.inf)),
        ("-0.0 -> 0.0", lambda d: d == 0 and math.copysign(1, d) < 0, lambda d: 0.0),
        ("integral double -> int", lambda d: d != 0 and math.isfinite(d) and d.is_integer(), lambda d: int(d)),
    ):
        k = next((i for i, v in enumerate(values) if _find_double(v, want)), None)
        if k is None:
            outcomes.append(False)
            print(f"  MISSED   {name}: the corpus holds no such double (regenerate it with make_corpus.sh)")
            continue
        path = _find_double(values[k], want)
        edited = json.loads(json_lines[k])
        _set_path(edited, path, change(_get_path(edited, path)))
        expect(f"{path} {name} in the JSON line", check_python_reads(contract, _replace(json_lines, k, edited), hex_lines),
               k + 1, f"{path}: expected")
    # 4. Python writes a different string: the bytes differ from the corpus, and Horizons' decoding
    #    of python's bytes (plain and blocked) no longer gives the JSON line.
    k = 0
    path, text = _first_string_field(values[k]["payload"])
    edited = [json.loads(t) for t in json_lines]
    _set_path(edited[k]["payload"], path, text[:-1] + chr(ord(text[-1]) ^ 1))
    expect(f"payload.{path} changed before python writes it, bytes",
           check_horizons_reads(contract, args.horizons, json_lines, hex_lines, values=edited), k + 1,
           "python-avro wrote")
    expect(f"payload.{path} changed before python writes it, Horizons' text",
           check_horizons_reads(contract, args.horizons, json_lines, hex_lines, values=edited, compare_bytes=False),
           k + 1, "horizons decoded python's bytes to")
    # 5. A JSON line that Horizons encodes differently from the golden hex.
    corrupt = list(json_lines)
    edited = json.loads(json_lines[k])
    edited["schema_version"] += 1
    corrupt[k] = json.dumps(edited, ensure_ascii=False, separators=(",", ":"))
    expect("schema_version + 1 in the JSON line, golden bytes", golden(corrupt, hex_lines), k + 1, "encode wrote")
    # 6. The uncorrupted corpus passes, so each detection above is its corruption's.
    clean = (
        check_python_reads(contract, json_lines, hex_lines)
        + check_horizons_reads(contract, args.horizons, json_lines, hex_lines)
        + golden(json_lines, hex_lines)
    )
    outcomes.append(not clean)
    print(f"  {'clean   ' if not clean else 'FAILED  '} the uncorrupted corpus: {len(clean)} problems")
    passed = sum(outcomes)
    print(f"self-test: {len(outcomes)} checks, {passed} ok, {len(outcomes) - passed} failed")
    return 0 if passed == len(outcomes) else 1


def _get_path(value, path):
    for key in path.split("."):
        value = value[key]
    return value


def _replace(lines, k, value):
    out = list(lines)
    out[k] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return out


def walk(schema, value, visit, path="", event_type=None):
    """Calls visit(schema, value, path) for every value of a Horizons JSON record."""
    visit(schema, value, path)
    kind = schema.type
    if kind == "array":
        for item in value:
            walk(schema.items, item, visit, f"{path}[]")
    elif kind == "map":
        for item in value.values():
            walk(schema.values, item, visit, f"{path}{{}}")
    elif kind == "union":
        walk(union_branch(schema, value, path, event_type), value, visit, path)
    elif kind == "record":
        prefix = f"{path}." if path else ""
        for f in schema.fields:
            walk(f.type, value[f.name], visit, prefix + f.name, value.get("event_type") if f.name == "payload" else None)


def cmd_coverage(args):
    """The corpus must keep the corners that make interop worth proving."""
    contract = Contract(args.horizons, args.root)
    json_lines, _ = read_corpus(args.root)
    seen = set()
    per_type = {t: 0 for t in contract.by_event_type}

    def visit(schema, value, path):
        kind, lt = schema.type, logical(schema)
        if kind == "double":
            if isinstance(value, str):
                seen.add(f"double {value}")
            elif value == 0 and math.copysign(1, value) < 0:
                seen.add("double -0.0")
            elif value != 0 and abs(value) < 2.2250738585072014e-308:
                seen.add("double subnormal")
            elif abs(value) > 1e300:
                seen.add("double beyond 1e300")
        elif kind == "long" and lt == "timestamp-micros":
            if value.startswith("0001-01-01T00:00:00.000000"):
                seen.add("timestamp first microsecond of year 1")
            if value.startswith("9999-12-31T23:59:59.999999"):
                seen.add("timestamp last microsecond of year 9999")
            if value < "1970":
                seen.add("timestamp before 1970")
        elif kind in INT_RANGE:
            low, high = INT_RANGE[kind]
            if value in (low, high):
                seen.add(f"{kind} {'min' if value == low else 'max'}")
            if value < 0:
                seen.add(f"{kind} negative")
        elif kind == "string":
            if value == "":
                seen.add("string empty")
            for ch in value:
                seen.add(f"string {len(ch.encode())}-byte UTF-8")
                if ord(ch) < 0x20 or ch in '"\\':
                    seen.add("string needing a JSON escape")
        elif kind == "map":
            seen.add("map empty" if not value else "map non-empty")
            if "" in value:
                seen.add("map empty key")
        elif kind == "array":
            seen.add("array empty" if not value else "array non-empty")
        elif kind == "enum" and value == "UNKNOWN":
            seen.add("enum UNKNOWN")
        elif kind == "null":
            seen.add("union null")

    for line in json_lines:
        value = load_json(line)
        per_type[value["event_type"]] += 1
        walk(contract.by_event_type[value["event_type"]].schema, value, visit)
    wanted = [
        "double -0.0", "double Infinity", "double -Infinity", "double NaN", "double subnormal", "double beyond 1e300",
        "timestamp first microsecond of year 1", "timestamp last microsecond of year 9999", "timestamp before 1970",
        "int min", "int max", "int negative", "long min", "long max", "long negative",
        "string empty", "string 1-byte UTF-8", "string 2-byte UTF-8", "string 3-byte UTF-8", "string 4-byte UTF-8",
        "string needing a JSON escape", "map empty", "map non-empty", "map empty key", "array empty",
        "array non-empty", "enum UNKNOWN", "union null",
    ]
    missing = [w for w in wanted if w not in seen]
    thin = [t for t, n in per_type.items() if n < 3]
    for w in missing:
        print(f"  missing: {w}")
    for t in thin:
        print(f"  fewer than 3 records of {t} ({per_type[t]})")
    print(
        f"coverage: {len(json_lines)} records, {len(per_type) - len(thin)} of {len(per_type)} event types with 3+ records, "
        f"{len(wanted) - len(missing)} of {len(wanted)} corners present"
    )
    return 1 if missing or thin else 0


def cmd_representable(args):
    """stdin JSON lines -> stdout those python-avro can write (the others, e.g. timestamps outside
    years 1-9999 that Horizons spells as integers, cannot be a python datetime)."""
    contract = Contract(args.horizons, args.root)
    kept = dropped = 0
    for line in lines(sys.stdin.buffer.read().decode("utf-8")):
        try:
            python_encode(contract, load_json(line))
        except Mismatch as error:
            dropped += 1
            print(f"make_corpus: dropped: {error}", file=sys.stderr)
            continue
        kept += 1
        print(line)
    print(f"make_corpus: {kept} representable, {dropped} dropped", file=sys.stderr)
    return 0


def cmd_edge_cases(args):
    """stdin: sampled valid JSON lines (at least one per type used below); stdout: corner records."""
    first = {}
    for line in lines(sys.stdin.buffer.read().decode("utf-8")):
        value = load_json(line)
        first.setdefault(value["event_type"], value)
    m = 2**63
    i = 2**31
    tricky = "\"quoted\" back\\slash\nnew line\ttab \u0001 \u001f \u007f \u2028 é✓🔭Ωμ 日本語 \u00a0"
    edits = [
        ("job.completed", {"occurred_at": "0001-01-01T00:00:00.000000Z", "schema_version": -i},
         {"execution_time_ms": m - 1, "result_size_bytes": -m, "cpu_utilization_pct": -0.0,
          "gpu_utilization_pct": "Infinity", "memory_used_gb": "-Infinity", "io_throughput_mb_per_s": "NaN"}),
        ("job.failed", {"occurred_at": "9999-12-31T23:59:59.999999Z", "causation_id": None, "user_id": "",
                        "idempotency_key": "", "traceparent": "", "schema_version": i - 1},
         {"exit_code": -i, "retry_count": i - 1, "max_retries": 0, "next_retry_at": "1969-12-31T23:59:59.999999Z"}),
        ("job.failed", {"occurred_at": "1970-01-01T00:00:00.000000Z"},
         {"exit_code": -1, "retry_count": 0, "next_retry_at": "0001-01-01T00:00:00.000001Z"}),
        ("notification.sent", {"occurred_at": "2000-02-29T23:59:59.000001Z", "tags": {}},
         {"subject": "", "body": tricky, "related_job_id": "",
          "data": {"": "", "ключ": "значение", "🔭": tricky, "k\u0000nul": "v\u0000nul"}}),
        ("alert.raised", {"tags": {"": "empty key"}},
         {"message": "", "metrics": {
             "min_subnormal": 5e-324, "max_subnormal": 2.225073858507201e-308, "min_normal": 2.2250738585072014e-308,
             "max": 1.7976931348623157e308, "lowest": -1.7976931348623157e308, "tenth": 0.1,
             "sum": 0.30000000000000004, "neg_zero": -0.0, "zero": 0.0, "inf": "Infinity", "neg_inf": "-Infinity",
             "nan": "NaN", "big": 1e21, "bigger": 1.2345678901234567e22, "small": 1e-7, "int_like": 3.0,
             "two_53": 9007199254740993.0, "neg": -123.456}}),
        ("system.health.check", {"occurred_at": "1969-07-20T20:17:40.000000Z"},
         {"components": [], "active_jobs": i - 1, "pending_jobs": -i, "failed_jobs_24h": 0, "queue_depth": -m,
          "response_time_ms": -5e-324}),
        ("consumer.lag.evaluated", {}, {"group_id": "", "topic": "", "lag_messages": m - 1,
                                        "lag_seconds": "-Infinity", "status": "UNKNOWN"}),
        ("audit.action.recorded", {}, {"details": {}, "before": {}, "after": None, "client_ip": "",
                                       "resource_type": "UNKNOWN"}),
        ("audit.policy.changed", {}, {"effective_at": "9999-12-31T23:59:59.999999Z", "previous_policy": {},
                                      "new_policy": {"": ""}, "reason": tricky, "policy_type": "UNKNOWN"}),
        ("audit.compliance.check", {}, {"violations": [], "check_name": ""}),
        ("resource.allocation.changed", {}, {"new_allocation": None, "previous_allocation": {
            "tacc_system": "OTHER", "nodes": -i, "cores_per_node": i - 1, "gpus": 0, "memory_gb": -1}}),
        ("job.metrics.recorded", {"occurred_at": "0001-01-01T00:00:00.000000Z"},
         {"sampled_at": "9999-12-31T23:59:59.999999Z", "interval_ms": -m, "cpu_pct": 5e-324, "gpu_pct": -0.0,
          "gpu_memory_gb": 1.7976931348623157e308, "memory_gb": "NaN", "network_in_mb_per_s": "Infinity"}),
    ]
    for event_type, envelope, payload in edits:
        value = json.loads(json.dumps(first[event_type]))
        value.update(envelope)
        value["payload"].update(payload)
        print(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return 0


def main():
    commands = {
        "golden-bytes": cmd_golden_bytes,
        "python-reads-horizons": cmd_python_reads_horizons,
        "horizons-reads-python": cmd_horizons_reads_python,
        "self-test": cmd_self_test,
        "coverage": cmd_coverage,
        "representable": cmd_representable,
        "edge-cases": cmd_edge_cases,
    }
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=commands)
    parser.add_argument("horizons", type=Path, help="the built horizons binary")
    parser.add_argument("root", type=Path, help="the repository root (holds schemas/ and tests/interop/corpus/)")
    args = parser.parse_args()
    if not args.horizons.is_file():
        sys.exit(f"check_interop.py: no horizons binary at {args.horizons}")
    sys.stdout.reconfigure(line_buffering=True)
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
