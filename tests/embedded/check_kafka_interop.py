#!/usr/bin/python3
"""Interop over Kafka: other clients read what Horizons produces, and Horizons reads what they produce.

tests/interop proves python-avro and Horizons agree on bytes. This adds the wire around them, on the
embedded cluster (`horizons up --brokers 3`, librdkafka's mock brokers on loopback):

  horizons -> kafka-python  `horizons events sample` lines (job-lifecycle and notifications) go in
                            through `horizons produce`; kafka-python (Debian's python3-kafka 2.0.2, no
                            group, every partition assigned, from the beginning) reads every record:
                            magic byte 0, the topic's schema id, the headers (event-type, event-id,
                            correlation-id, content-type, produced-at; traceparent when the event has
                            one), the key (the catalogue's key field), the partition (the Java client's
                            murmur2 of the key, as kafka-python computes it), per-key order, and the
                            body, decoded by python-avro and equal to the JSON line (floats bit for bit).
  horizons -> kcat          kcat (librdkafka's CLI) sees the same records: partition, offset and key.
  kafka-python -> horizons  python-avro writes fresh sample events (Confluent framing: 0x00 and the
                            schema id), kafka-python's KafkaProducer (acks=all, keyed by the catalogue's
                            key) sends them to audit-trail, and `horizons consume audit-trail
                            --from-beginning --until-end --json` prints exactly those JSON lines: the
                            same set of lines, and per key in the order sent.

Sample lines are made at run time with fixed seeds (--seed to change them). Some events are given the
key of an earlier event of the same key field, so that per-key order has something to prove.

The conversions between Horizons' JSON convention and python-avro datums are those of
tests/interop/check_interop.py, imported from there. Run with /usr/bin/python3 (python3-avro and
python3-kafka are Debian packages, installed for the system interpreter only):

    check_kafka_interop.py HORIZONS_BINARY REPO_ROOT [--self-test] [--seed N]

Prints one summary line per direction, e.g. "horizons->kafka-python: 40 records, 40 ok, 0 failed",
and exits 1 on any mismatch after showing the first few. --self-test runs the same exchange, checks it
is clean, then corrupts one expectation or one received record at a time and checks that each
corruption is reported, for the right record and reason, and nothing else is.

Compression is the catalogue's on both sides: snappy for job-lifecycle and audit-trail, lz4 for
notifications. kafka-python has these codecs only with Debian's python3-snappy and python3-lz4
(tools/install-deps.sh installs both); without them the script exits naming the missing package.
"""

import argparse
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "interop"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
import check_interop as interop  # noqa: E402  (exits with a message if python-avro is missing)
from horizons_process import EmbeddedCluster, run, terminate_on_sigterm  # noqa: E402

try:
    import kafka
    import kafka.codec
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.partitioner.default import DefaultPartitioner
except ImportError as error:  # pragma: no cover - environment problem, not a test result
    sys.exit(
        f"check_kafka_interop.py: cannot import kafka-python ({error}).\n"
        "Run this script with /usr/bin/python3 and install Debian's python3-kafka (apt-get install python3-kafka)."
    )

MAX_REPORTED = 5
CONTENT_TYPE = "application/vnd.horizons.event+avro"
# The catalogue's partition key field per event type (include/horizons/catalogue.hpp, partition_key()).
KEY_FIELD = {
    "job.submitted": "job_id", "job.status.changed": "job_id", "job.completed": "job_id",
    "job.failed": "job_id", "job.cancelled": "job_id",
    "notification.sent": "recipient_id", "notification.read": "recipient_id",
    "notification.dismissed": "recipient_id", "alert.raised": "alert_id", "alert.resolved": "alert_id",
    "audit.action.recorded": "resource_id", "audit.policy.changed": "policy_id",
    "audit.data.access": "resource_id", "audit.job.lifecycle": "job_id", "audit.compliance.check": "check_id",
}
# The catalogue's compression per topic (catalogue.hpp); `horizons produce` uses it when no
# KAFKA_COMPRESSION_TYPE is set, and KafkaProducer is given the same.
CATALOGUE_COMPRESSION = {"job-lifecycle": "snappy", "notifications": "lz4", "audit-trail": "snappy"}
# kafka-python's test for each codec of the catalogue, and the Debian package that provides it.
CODEC_PACKAGE = {"snappy": (kafka.codec.has_snappy, "python3-snappy"), "lz4": (kafka.codec.has_lz4, "python3-lz4")}
# What each direction sends: (event type, how many), interleaved round robin.
HORIZONS_SENDS = {
    "job-lifecycle": [("job.submitted", 6), ("job.status.changed", 6), ("job.completed", 6),
                      ("job.failed", 6), ("job.cancelled", 6)],
    "notifications": [("notification.sent", 4), ("notification.read", 3), ("alert.raised", 3)],
}
PYTHON_SENDS = {
    "audit-trail": [("audit.action.recorded", 4), ("audit.policy.changed", 4), ("audit.data.access", 4),
                    ("audit.job.lifecycle", 4), ("audit.compliance.check", 4)],
}
DEADLINE_S = 40  # for any one client to see what it waits for


def log(text):
    print(text, flush=True)


def canonical(value):
    """Horizons' JSON text for a value, where the value came from a Horizons line (see share_keys)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def require_codecs():
    """Exits naming the Debian package to install if kafka-python lacks a codec of the catalogue."""
    missing = {codec: package for codec, (has, package) in CODEC_PACKAGE.items() if not has()}
    if missing:
        sys.exit(f"check_kafka_interop.py: kafka-python has no {' or '.join(missing)} codec, which the catalogue's "
                 f"compression needs. Install Debian's {' and '.join(missing.values())} "
                 f"(apt-get install {' '.join(missing.values())}, as tools/install-deps.sh does).")


# ---------------------------------------------------------------- sample events


def sample_events(horizons, sends, seed):
    """{topic: [JSON line]} of `horizons events sample` lines, the types interleaved round robin, one seed
    per type (the sampler gives the same event_id for the same seed whatever the type), keys shared."""
    out = {}
    for t_index, (topic, plan) in enumerate(sends.items()):
        per_type = []
        for i, (event_type, count) in enumerate(plan):
            code, stdout, stderr = run([horizons, "events", "sample", "--type", event_type, "-n", count,
                                        "--seed", seed + 1000 * t_index + i])
            if code != 0:
                raise SystemExit(f"horizons events sample --type {event_type} exited {code}: {stderr}")
            got = interop.lines(stdout.decode("utf-8"))
            if len(got) != count:
                raise SystemExit(f"horizons events sample --type {event_type} -n {count} printed {len(got)} lines")
            per_type.append(got)
        mixed = [group[k] for k in range(max(map(len, per_type))) for group in per_type if k < len(group)]
        out[topic] = share_keys(mixed)
    ids = Counter(interop.load_json(line)["event_id"] for lines in out.values() for line in lines)
    repeated = [i for i, n in ids.items() if n > 1]
    if repeated:
        raise SystemExit(f"the samples repeat event ids {repeated[:3]}: change the seeds")
    return out


def share_keys(lines):
    """The lines with keys reused: counting the events of each key field from 0, event n takes the key of
    event n - 2 where n % 3 == 2, so that a third of the events share a key with an earlier one.
    Only lines that json.dumps writes back exactly as Horizons wrote them are edited, so an edited line
    is still Horizons' own text (an id is a plain ASCII string either way)."""
    pools, out = {}, []
    for line in lines:
        value = interop.load_json(line)
        field = KEY_FIELD[value["event_type"]]
        keys = pools.setdefault(field, [])
        if len(keys) % 3 == 2 and canonical(value) == line:
            value["payload"][field] = keys[-2]
            line = canonical(value)
        keys.append(value["payload"][field])
        out.append(line)
    return out


def key_of(value):
    """The catalogue's key of an event (a JSON value), or None if it has none."""
    field = KEY_FIELD.get(value.get("event_type"))
    payload = value.get("payload")
    return payload.get(field) if field and isinstance(payload, dict) else None


# ---------------------------------------------------------------- horizons -> kafka-python and kcat


class Received:
    """One record as a client saw it."""

    def __init__(self, topic, partition, offset, key, value, headers):
        self.topic, self.partition, self.offset = topic, partition, offset
        self.key, self.value, self.headers = key, value, headers  # bytes or None, bytes, [(str, bytes)]

    @property
    def where(self):
        return f"{self.topic}[{self.partition}]@{self.offset}"


def horizons_produce(horizons, bootstrap, topic, lines):
    """Publishes the lines with `horizons produce` (with the catalogue's compression: no KAFKA_* is passed on)."""
    code, _, stderr = run([horizons, "produce", topic, "--brokers", bootstrap], "".join(f"{t}\n" for t in lines).encode())
    want = f"produced {len(lines)} events to {topic}: {len(lines)} delivered, 0 failed, 0 refused, 0 undelivered"
    if code != 0 or want not in stderr:
        raise SystemExit(f"horizons produce {topic} exited {code}; expected {want!r} on stderr, got: {stderr[-2000:]}")


def kafka_python_read(bootstrap, topic, expected_count):
    """Every record of the topic, read with no group from the beginning of every partition until
    expected_count arrived and every partition is at its end (or DEADLINE_S passed); and the partitions."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", client_id="kafka-interop-reader")
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or [])
        if not partitions:
            raise SystemExit(f"kafka-python sees no partitions of {topic}")
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        records = []
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(Received(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers or []))
                               for r in batch)
            if len(records) >= expected_count:
                ends = consumer.end_offsets(assigned)
                if all(consumer.position(tp) >= ends[tp] for tp in assigned):
                    break
        return records, partitions
    finally:
        consumer.close()


def kcat_read(bootstrap, topic):
    """[(partition, offset, key)] as kcat prints them, or raises SystemExit."""
    code, stdout, stderr = run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                                "-f", "%p\t%o\t%k\n"])
    if code != 0:
        raise SystemExit(f"kcat -C -t {topic} exited {code}: {stderr[-2000:]}")
    out = []
    for row in interop.lines(stdout.decode("utf-8")):
        partition, offset, key = row.split("\t", 2)
        out.append((int(partition), int(offset), key))
    return out


def check_horizons_records(contract, expected_lines, records, produced_between):
    """[(where, problem)] for records kafka-python read that are not what `horizons produce` was given.
    expected_lines: {topic: [JSON line]}; records: [Received]. Partitions: check_partitions."""
    failures = []
    expected = {}  # event_id -> (topic, line number, value)
    for topic, lines in expected_lines.items():
        for number, line in enumerate(lines, start=1):
            value = interop.load_json(line)
            expected[value["event_id"]] = (topic, number, value)
    seen = {}  # event_id -> record
    low, high = (int(t * 1e6) for t in produced_between)
    for record in records:
        try:
            headers = {}
            for name, data in record.headers:
                if name in headers:
                    raise interop.Mismatch(f"header {name} appears twice")
                headers[name] = data.decode("utf-8") if data is not None else None
            event_id = headers.get("event-id")
            if event_id not in expected:
                raise interop.Mismatch(f"event-id header {event_id!r} names no event that was produced")
            if event_id in seen:
                raise interop.Mismatch(f"event {event_id} read twice, also at {seen[event_id].where}")
            seen[event_id] = record
            topic, number, value = expected[event_id]
            if record.topic != topic:
                raise interop.Mismatch(f"event {event_id} of {topic} line {number} found in {record.topic}")
            # The frame and the body: python_decode checks the magic byte, maps the schema id and reads every byte.
            if len(record.value) >= 5 and record.value[0] == 0:
                schema_id = int.from_bytes(record.value[1:5], "big")
                named = contract.by_id.get(schema_id)
                if named is not None and named.name != topic:
                    raise interop.Mismatch(f"schema id {schema_id} is that of {named.name}, not {topic}")
            schema_topic, datum, branch = interop.python_decode(contract, record.value)
            if interop.dotted(branch) != datum.get("event_type"):
                raise interop.Mismatch(f"payload: union branch {branch} but event_type {datum.get('event_type')!r}")
            found = interop.difference(value, interop.to_horizons_json(schema_topic.schema, datum, ""))
            if found:
                raise interop.Mismatch(found)
            wanted_headers = {
                "event-type": value["event_type"], "event-id": value["event_id"],
                "correlation-id": value["correlation_id"], "content-type": CONTENT_TYPE,
            }
            for name, want in wanted_headers.items():
                if headers.get(name) != want:
                    raise interop.Mismatch(f"header {name}: expected {want!r}, got {headers.get(name)!r}")
            produced_at = headers.get("produced-at")
            if produced_at is None or not produced_at.isdigit() or not low <= int(produced_at) <= high:
                raise interop.Mismatch(f"header produced-at: expected decimal microseconds in [{low}, {high}], "
                                       f"got {produced_at!r}")
            if headers.get("traceparent") != value["traceparent"]:
                raise interop.Mismatch(f"header traceparent: expected {value['traceparent']!r}, "
                                       f"got {headers.get('traceparent')!r}")
            key = key_of(value)
            if record.key != key.encode():
                raise interop.Mismatch(f"key: expected {key!r} ({KEY_FIELD[value['event_type']]}), got {record.key!r}")
        except (interop.Mismatch, ValueError) as error:
            failures.append((record.where, str(error)))
    for event_id, (topic, number, _) in expected.items():
        if event_id not in seen:
            failures.append((f"{topic} line {number}", f"event {event_id} was produced but never read"))
    received = [(r.topic, r.partition, r.offset, expected[event_id][2]) for event_id, r in seen.items()]
    failures.extend(check_key_order(expected_lines, received))
    return failures


def check_partitions(records, partitions_of):
    """[(where, problem)] for keyed records not in the partition the Java client and kafka-python pick for
    their key (murmur2, positive, modulo the partition count): a key must land on one partition whichever
    client writes it, or per-key order breaks between them."""
    failures = []
    for r in records:
        if r.key is None:
            continue  # check_horizons_records reports the missing key
        partitions = partitions_of[r.topic]
        murmur2 = DefaultPartitioner()(r.key, partitions, partitions)
        if r.partition != murmur2:
            failures.append((r.where, f"key {r.key.decode(errors='replace')!r} is in partition {r.partition}; murmur2 "
                                      f"(the Java client's and kafka-python's partitioner) puts it in {murmur2}"))
    return failures


def seen_value(record, expected):
    """The expected value of the event a record carries, by its event-id header, or None."""
    for name, data in record.headers:
        if name == "event-id" and data is not None:
            hit = expected.get(data.decode("utf-8", errors="replace"))
            return hit[2] if hit else None
    return None


def check_key_order(expected_lines, received):
    """[(where, problem)] where the events of one key were not received in the order sent.
    received: [(topic, partition, offset, value)]; within a key, all must share a partition."""
    failures = []
    for topic, lines in expected_lines.items():
        sent = {}
        for line in lines:
            value = interop.load_json(line)
            sent.setdefault(key_of(value), []).append(value["event_id"])
        got = {}
        for r_topic, partition, offset, value in sorted((r for r in received if r[0] == topic), key=lambda r: r[1:3]):
            got.setdefault(key_of(value), []).append((partition, value["event_id"]))
        for key, ids in sent.items():
            partitions = sorted({p for p, _ in got.get(key, [])})
            order = [i for _, i in got.get(key, [])]
            if len(partitions) > 1:
                failures.append((f"{topic} key {key}", f"the key's records are spread over partitions {partitions}"))
            elif order != ids and sorted(order) == sorted(ids):
                failures.append((f"{topic} key {key}", f"received in the order {order}, sent as {ids}"))
    return failures


def check_kcat(python_records, kcat_rows):
    """[(where, problem)] where kcat's records (topic, partition, offset, key) differ from kafka-python's."""
    python_keys, kcat_keys = {}, {}
    for r in python_records:
        python_keys.setdefault((r.topic, r.partition, r.offset), []).append((r.key or b"").decode(errors="replace"))
    for topic, partition, offset, key in kcat_rows:
        kcat_keys.setdefault((topic, partition, offset), []).append(key)
    failures = []
    for at in sorted(set(python_keys) | set(kcat_keys)):
        if python_keys.get(at) != kcat_keys.get(at):
            failures.append((f"{at[0]}[{at[1]}]@{at[2]}", f"kafka-python read keys {python_keys.get(at, [])}, "
                                                          f"kcat read keys {kcat_keys.get(at, [])}"))
    return failures


# ---------------------------------------------------------------- kafka-python -> horizons


def python_produce(contract, bootstrap, topic, lines):
    """python-avro encodes each line, kafka-python sends it keyed by the catalogue key, compressed as the
    catalogue says, one in flight at a time so per-key order holds without idempotence."""
    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all",
                             compression_type=CATALOGUE_COMPRESSION[topic],
                             retries=5, max_in_flight_requests_per_connection=1, client_id="kafka-interop-writer")
    try:
        futures = []
        for number, line in enumerate(lines, start=1):
            value = interop.load_json(line)
            try:
                framed = interop.python_encode(contract, value)
            except interop.Mismatch as error:
                raise SystemExit(f"python-avro cannot write {topic} line {number}: {error}")
            if contract.by_id[int.from_bytes(framed[1:5], "big")].name != topic:
                raise SystemExit(f"{topic} line {number}: {value['event_type']} is not an event of {topic}")
            headers = [("event-type", value["event_type"].encode()), ("event-id", value["event_id"].encode()),
                       ("correlation-id", value["correlation_id"].encode()), ("content-type", CONTENT_TYPE.encode()),
                       ("produced-at", str(time.time_ns() // 1000).encode())]
            if value["traceparent"] is not None:
                headers.append(("traceparent", value["traceparent"].encode()))
            futures.append(producer.send(topic, value=framed, key=key_of(value).encode(), headers=headers))
        producer.flush(timeout=DEADLINE_S)
        for number, future in enumerate(futures, start=1):
            try:
                future.get(timeout=1)
            except Exception as error:  # kafka-python raises KafkaError subclasses; each is a failed send here
                raise SystemExit(f"kafka-python could not send {topic} line {number}: {type(error).__name__}: {error}")
    finally:
        producer.close(timeout=10)


def horizons_consume(horizons, bootstrap, topic):
    """(exit code, JSON lines, stderr) of `horizons consume TOPIC --from-beginning --until-end --json`."""
    code, stdout, stderr = run([horizons, "consume", topic, "--brokers", bootstrap, "--from-beginning",
                                "--until-end", "--json"])
    return code, interop.lines(stdout.decode("utf-8", errors="replace")), stderr


def check_horizons_consumed(expected_lines, consumed, consume_code, consume_stderr):
    """[(where, problem)]: the consumed lines must be exactly the expected ones (as a set, each once) and,
    per key, in the order sent. expected_lines: {topic: [JSON line]}; consumed: {topic: [JSON line]}."""
    failures = []
    if consume_code != 0:
        failures.append(("horizons consume", f"exited {consume_code}: {consume_stderr.strip()[-1000:]}"))
    for topic, lines in expected_lines.items():
        got = consumed.get(topic, [])
        counts = Counter(got)
        by_event_id = {}
        for text in got:
            try:
                by_event_id.setdefault(interop.load_json(text).get("event_id"), text)
            except ValueError:
                pass
        for number, line in enumerate(lines, start=1):
            if counts[line] == 1:
                continue
            if counts[line] > 1:
                failures.append((f"{topic} line {number}", f"printed {counts[line]} times"))
                continue
            value = interop.load_json(line)
            near = by_event_id.get(value["event_id"])
            if near is None:
                failures.append((f"{topic} line {number}", f"event {value['event_id']} was sent but never printed"))
                continue
            try:
                detail = interop.difference(value, interop.load_json(near)) or "same values, different text"
            except ValueError as error:
                detail = f"not JSON: {error}"
            failures.append((f"{topic} line {number}", f"horizons printed a different line ({detail}):\n"
                                                       f"      {near}\n    expected\n      {line}"))
        sent = set(lines)
        for text in counts:
            if text not in sent:
                try:
                    event_id = interop.load_json(text).get("event_id")
                except ValueError:
                    event_id = None
                if not any(interop.load_json(line)["event_id"] == event_id for line in lines):
                    failures.append((f"{topic} output", f"a line that was never sent: {text[:300]}"))
        # Per-key order: the consumed lines of each key, as printed, against the order sent.
        received = []
        for position, text in enumerate(got):
            try:
                value = interop.load_json(text)
                received.append((topic, 0, position, value))  # one partition per key; printed order within it
            except ValueError:
                pass
        failures.extend(check_key_order({topic: lines}, [r for r in received if isinstance(r[3], dict)]))
    return failures


# ---------------------------------------------------------------- reporting, the exchange, the self-test


def report(name, records, failures):
    for where, problem in failures[:MAX_REPORTED]:
        print(f"  {where}: {problem}")
    if len(failures) > MAX_REPORTED:
        print(f"  ... and {len(failures) - MAX_REPORTED} more")
    failed = min(records, len({where for where, _ in failures}))
    print(f"{name}: {records} records, {records - failed} ok, {failed} failed", flush=True)
    return failed == 0 and not failures


class Exchange:
    """Everything sent and received in both directions on one cluster; the checks are pure functions of it."""

    def __init__(self, horizons, root, seed):
        self.contract = interop.Contract(horizons, root)
        self.from_horizons = sample_events(horizons, HORIZONS_SENDS, seed)
        self.from_python = sample_events(horizons, PYTHON_SENDS, seed + 500)
        with EmbeddedCluster(horizons) as cluster:
            bootstrap = cluster.bootstrap
            log(f"embedded cluster: {bootstrap}")
            log("compression: " + "; ".join(f"{topic}: {CATALOGUE_COMPRESSION[topic]}"
                                            for topic in [*self.from_horizons, *self.from_python]))
            started = time.time()
            for topic, lines in self.from_horizons.items():
                horizons_produce(horizons, bootstrap, topic, lines)
            self.produced_between = (started - 1, time.time() + 1)
            self.records, self.partitions_of, self.kcat_rows = [], {}, []
            for topic, lines in self.from_horizons.items():
                records, partitions = kafka_python_read(bootstrap, topic, len(lines))
                self.records.extend(records)
                self.partitions_of[topic] = partitions
                self.kcat_rows.extend((topic, p, o, k) for p, o, k in kcat_read(bootstrap, topic))
            self.consumed, self.consume_code, self.consume_stderr = {}, 0, ""
            for topic, lines in self.from_python.items():
                python_produce(self.contract, bootstrap, topic, lines)
                code, got, stderr = horizons_consume(horizons, bootstrap, topic)
                self.consumed[topic] = got
                self.consume_code = code if code != 0 else self.consume_code
                self.consume_stderr += stderr

    # Each check takes the exchange's own data unless given a corrupted copy (the self-test).

    def horizons_to_python(self, expected=None, records=None):
        records = self.records if records is None else records
        expected = self.from_horizons if expected is None else expected
        return (check_horizons_records(self.contract, expected, records, self.produced_between)
                + check_partitions(records, self.partitions_of))

    def horizons_to_kcat(self, kcat_rows=None):
        kcat_rows = self.kcat_rows if kcat_rows is None else kcat_rows
        failures = check_kcat(self.records, kcat_rows)
        sent = sum(map(len, self.from_horizons.values()))
        if len(kcat_rows) != sent:
            failures.append(("kcat", f"{len(kcat_rows)} records, {sent} were produced"))
        return failures

    def python_to_horizons(self, expected=None, consumed=None):
        return check_horizons_consumed(self.from_python if expected is None else expected,
                                       self.consumed if consumed is None else consumed, self.consume_code,
                                       self.consume_stderr)


def run_checks(exchange):
    horizons_count = sum(map(len, exchange.from_horizons.values()))
    python_count = sum(map(len, exchange.from_python.values()))
    ok = report("horizons->kafka-python", horizons_count, exchange.horizons_to_python())
    ok &= report("horizons->kcat", horizons_count, exchange.horizons_to_kcat())
    ok &= report("kafka-python->horizons", python_count, exchange.python_to_horizons())
    return 0 if ok else 1


def _edit_first_text(value):
    """Flips a bit of the last character of the payload's first non-empty string field that is not an id
    (so the key, and with it the partition and per-key order, stay as they were); returns its path."""
    for field, item in value["payload"].items():
        if isinstance(item, str) and item and not field.endswith("_id"):
            value["payload"][field] = item[:-1] + chr(ord(item[-1]) ^ 1)
            return f"payload.{field}"
    raise SystemExit(f"self-test: {value['event_type']} has no payload string to edit")


def run_self_test(exchange):
    """Each corruption must be reported by the check it targets, at the record (or key) corrupted and no
    other, for the reason expected; and the exchange as it happened must pass every check."""
    outcomes = []

    def expect(name, failures, where, because):
        wanted = sorted(where) if isinstance(where, (list, set)) else [where]
        places = sorted({w for w, _ in failures})
        details = [p for w, p in failures if w in wanted and because in p] or [p for _, p in failures]
        detail = details[0] if details else "nothing reported"
        ok = places == wanted and because in detail
        outcomes.append(ok)
        shown = places if len(places) <= 4 else places[:4] + [f"... {len(places)} in all"]
        print(f"  {'detected' if ok else 'MISSED  '} {name}: reported at {shown} (expected: "
              f"{wanted if len(wanted) <= 4 else f'{len(wanted)} places'}, for {because!r}): {detail.splitlines()[0]}",
              flush=True)

    def replaced(lines_by_topic, topic, number, value):
        out = {t: list(ls) for t, ls in lines_by_topic.items()}
        out[topic][number - 1] = canonical(value)
        return out

    def swapped_pair(lines_by_topic, topic):
        """The lines with the first two events of one key swapped, and that key."""
        lines = lines_by_topic[topic]
        keys = [key_of(interop.load_json(line)) for line in lines]
        a = next(i for i in range(len(lines)) if keys.count(keys[i]) > 1)
        b = next(j for j in range(a + 1, len(lines)) if keys[j] == keys[a])
        out = {t: list(ls) for t, ls in lines_by_topic.items()}
        out[topic][a], out[topic][b] = out[topic][b], out[topic][a]
        return out, keys[a], (a + 1, b + 1)

    clean = exchange.horizons_to_python() + exchange.horizons_to_kcat() + exchange.python_to_horizons()
    outcomes.append(not clean)
    print(f"  {'clean   ' if not clean else 'FAILED  '} the exchange as it happened: {len(clean)} problems")
    for where, problem in clean[:MAX_REPORTED]:
        print(f"    {where}: {problem}")

    expected = {}
    for topic, lines in exchange.from_horizons.items():
        for number, line in enumerate(lines, start=1):
            value = interop.load_json(line)
            expected[value["event_id"]] = (topic, number, value)
    record_of = {seen_value(r, expected)["event_id"]: r for r in exchange.records if seen_value(r, expected)}

    # horizons -> kafka-python, the expectations: a string, a double by one ulp, per-key order.
    topic, number = "job-lifecycle", 3
    value = interop.load_json(exchange.from_horizons[topic][number - 1])
    path = _edit_first_text(value)
    expect(f"{topic} line {number}: {path} edited in the expectation",
           exchange.horizons_to_python(expected=replaced(exchange.from_horizons, topic, number, value)),
           record_of[value["event_id"]].where, f"{path}: expected")
    topic = "notifications"
    finite = lambda d: d != 0 and math.isfinite(d)  # noqa: E731
    k = next((i for i, line in enumerate(exchange.from_horizons[topic])
              if interop._find_double(interop.load_json(line), finite)), None)
    if k is None:
        outcomes.append(False)
        print(f"  MISSED   one ulp: no finite double in the {topic} samples (change --seed)")
    else:
        value = interop.load_json(exchange.from_horizons[topic][k])
        path = interop._find_double(value, finite)
        interop._set_path(value, path, math.nextafter(interop._get_path(value, path), math.inf))
        expect(f"{topic} line {k + 1}: {path} one ulp up in the expectation",
               exchange.horizons_to_python(expected=replaced(exchange.from_horizons, topic, k + 1, value)),
               record_of[value["event_id"]].where, f"{path}: expected")
    out, key, (a, b) = swapped_pair(exchange.from_horizons, "job-lifecycle")
    expect(f"job-lifecycle lines {a} and {b} (key {key}) swapped in the expectation",
           exchange.horizons_to_python(expected=out), f"job-lifecycle key {key}", "received in the order")

    # horizons -> kafka-python, the records: frame, headers, key, partition.
    target = exchange.records[len(exchange.records) // 2]

    def with_record(change):
        """The records with a changed copy of target; and that copy."""
        changed = Received(target.topic, target.partition, target.offset, target.key, target.value, list(target.headers))
        change(changed)
        return [changed if r is target else r for r in exchange.records], changed

    def set_header(name, data):
        return lambda r: setattr(r, "headers", [(n, data if n == name else d) for n, d in r.headers])

    for name, change, because in (
        ("magic byte 0x01", lambda r: setattr(r, "value", b"\x01" + r.value[1:]), "magic byte is 0x01"),
        ("schema id 5 (system-health)", lambda r: setattr(r, "value", r.value[:1] + (5).to_bytes(4, "big") + r.value[5:]),
         "schema id 5 is that of system-health"),
        ("a trailing byte after the body", lambda r: setattr(r, "value", r.value + b"\x00"), "unread"),
        ("event-type header changed", set_header("event-type", b"job.unknown"), "header event-type"),
        ("correlation-id header changed", set_header("correlation-id", b"00000000-0000-0000-0000-000000000000"),
         "header correlation-id"),
        ("content-type header changed", set_header("content-type", b"application/json"), "header content-type"),
        ("produced-at header dropped", lambda r: setattr(r, "headers", [h for h in r.headers if h[0] != "produced-at"]),
         "header produced-at"),
        ("key changed", lambda r: setattr(r, "key", (r.key or b"") + b"x"), "key: expected"),
        ("moved to another partition", lambda r: setattr(r, "partition", next(
            p for p in exchange.partitions_of[r.topic]
            if p != DefaultPartitioner()(r.key, exchange.partitions_of[r.topic], []))),
         "is in partition"),
    ):
        records, changed = with_record(change)
        places = [changed.where]
        if changed.partition != target.partition and sum(r.topic == target.topic and r.key == target.key
                                                         for r in exchange.records) > 1:
            # the other records of its key stayed: the key is now spread over two partitions
            places.append(f"{target.topic} key {target.key.decode()}")
        expect(f"{name} in the received record {target.where}", exchange.horizons_to_python(records=records),
               places, because)

    # horizons -> kcat: one record's key differs from what kafka-python read; one record missing.
    rows = list(exchange.kcat_rows)
    t, p, o, key = rows[0]
    rows[0] = (t, p, o, key + "x")
    expect("kcat sees another key for a record", exchange.horizons_to_kcat(kcat_rows=rows), f"{t}[{p}]@{o}",
           f"kcat read keys ['{key}x']")
    t, p, o, key = exchange.kcat_rows[-1]
    expect("kcat misses a record", exchange.horizons_to_kcat(kcat_rows=exchange.kcat_rows[:-1]),
           [f"{t}[{p}]@{o}", "kcat"], "kcat read keys []")

    # kafka-python -> horizons: a line edited, two lines of one key swapped, a line missing from the output.
    topic, number = "audit-trail", 2
    value = interop.load_json(exchange.from_python[topic][number - 1])
    path = _edit_first_text(value)
    expect(f"{topic} line {number}: {path} edited in the expectation",
           exchange.python_to_horizons(expected=replaced(exchange.from_python, topic, number, value)),
           f"{topic} line {number}", f"{path}: expected")
    out, key, (a, b) = swapped_pair(exchange.from_python, topic)
    expect(f"{topic} lines {a} and {b} (key {key}) swapped in the expectation",
           exchange.python_to_horizons(expected=out), f"{topic} key {key}", "received in the order")
    printed = exchange.consumed[topic]
    last = interop.load_json(printed[-1])
    expect(f"{topic}: the last line horizons printed left out", exchange.python_to_horizons(consumed={topic: printed[:-1]}),
           f"{topic} line {exchange.from_python[topic].index(printed[-1]) + 1}",
           f"event {last['event_id']} was sent but never printed")
    expect(f"{topic}: a line horizons printed twice",
           exchange.python_to_horizons(consumed={topic: printed + printed[-1:]}),
           f"{topic} line {exchange.from_python[topic].index(printed[-1]) + 1}", "printed 2 times")

    passed = sum(outcomes)
    print(f"self-test: {len(outcomes)} checks, {passed} ok, {len(outcomes) - passed} failed", flush=True)
    return 0 if passed == len(outcomes) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("horizons", type=Path, help="the built horizons binary")
    parser.add_argument("root", type=Path, help="the repository root (holds schemas/)")
    parser.add_argument("--self-test", action="store_true", help="prove that each check can fail")
    parser.add_argument("--seed", type=int, default=4242, help="base seed of the sample events (default 4242)")
    args = parser.parse_args()
    if not args.horizons.is_file():
        sys.exit(f"check_kafka_interop.py: no horizons binary at {args.horizons}")
    require_codecs()
    sys.stdout.reconfigure(line_buffering=True)
    terminate_on_sigterm()
    log(f"kafka-python {kafka.__version__}, python-avro {interop.avro.__version__}, seed {args.seed}")
    exchange = Exchange(args.horizons, args.root, args.seed)
    return run_self_test(exchange) if args.self_test else run_checks(exchange)


if __name__ == "__main__":
    sys.exit(main())
