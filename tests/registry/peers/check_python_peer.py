"""Confluent's Python client against Horizons' schema registry, and through Horizons' codec both ways.

The peer is PyPI's confluent-kafka (its SchemaRegistryClient, AvroSerializer and AvroDeserializer,
fastavro underneath), pinned in tools/peers/requirements.txt and installed by tools/peers/peers.sh
into a virtualenv. On `horizons up --brokers 1` (the embedded cluster and Horizons' registry):

  registry          after `horizons produce` registered job-lifecycle-value, the client lists the
                    subject, reads its latest version and versions, looks the schema up by its text
                    (same id), fetches it by id, sets and reads the subject's compatibility level.
  horizons->python  every record Horizons wrote carries the subject's id, and AvroDeserializer
                    decodes it to the sampled event (event id, type, time, payload job id).
  python->horizons  AvroSerializer writes each decoded value again (looking the id up, not
                    registering), the Python producer sends it, and `horizons consume` prints the
                    sampled JSON line exactly: nothing lost or changed in either codec.
  evolution         a next version (a field added with a default) tests compatible and registers
                    with a new id; a field without a default tests incompatible and its registration
                    is refused with the registry's 409. Records Python writes with the next version
                    are read by Horizons (schema resolution drops the field) as the sampled lines; and
                    Python, reading Horizons' records with the next version as its reader schema,
                    fills the field with its default.

    check_python_peer.py HORIZONS_BINARY [--self-test]

Prints one line per part ("horizons->python: 100 checks, 0 failed") and exits 1 on any
mismatch. --self-test changes one expectation per part and checks that each part then fails.
"""

import argparse
import json
import sys
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from horizons_process import EmbeddedCluster, run, terminate_on_sigterm  # noqa: E402

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
except ImportError as error:  # an environment problem, not a test result
    sys.exit(f"check_python_peer.py: cannot import confluent_kafka ({error}); run it with the virtualenv's python "
             "that `tools/peers/peers.sh install` makes (tools/peers/peers.sh python prints it).")

TOPIC = "job-lifecycle"
SUBJECT = f"{TOPIC}-value"
EVENT_TYPES = ["job.submitted", "job.status.changed", "job.completed", "job.failed", "job.cancelled"]
PER_TYPE = 4
SEED = 41
NOTE = "python_peer_note"  # the field the next version adds
DEADLINE_S = 40


class Check:
    """Failures of one part, reported as one line."""

    def __init__(self, name):
        self.name, self.checks, self.failures = name, 0, []

    def expect(self, condition, what):
        self.checks += 1
        if not condition:
            self.failures.append(what)
        return condition

    def report(self):
        print(f"{self.name}: {self.checks} checks, {len(self.failures)} failed", flush=True)
        for failure in self.failures[:5]:
            print(f"  {failure}", flush=True)
        return not self.failures


def horizons(binary, *arguments, stdin=b""):
    code, stdout, stderr = run([binary, *arguments], stdin)
    if code != 0:
        raise SystemExit(f"`horizons {' '.join(arguments)}` exited {code}: {stderr.strip()[-2000:]}")
    return stdout.decode()


def sampled_lines(binary):
    lines = []
    for offset, event_type in enumerate(EVENT_TYPES):
        text = horizons(binary, "events", "sample", "--type", event_type, "-n", str(PER_TYPE), "--seed",
                        str(SEED + offset))
        lines.extend(line for line in text.splitlines() if line)
    return lines


def read_all(bootstrap, expected):
    """Every record of TOPIC from the beginning (no group), once `expected` have arrived."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "python-peer", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions
        consumer.assign([TopicPartition(TOPIC, p, 0) for p in partitions])
        records = []
        deadline = datetime.now().timestamp() + DEADLINE_S
        while len(records) < expected and datetime.now().timestamp() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                raise SystemExit(f"the Python consumer failed: {message.error()}")
            records.append(message.value())
        if len(records) != expected:
            raise SystemExit(f"the Python consumer saw {len(records)} of {expected} records in {DEADLINE_S} s")
        return records
    finally:
        consumer.close()


def send(bootstrap, values):
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "compression.type": "snappy"})
    failed = []
    for key, value in values:
        producer.produce(TOPIC, value=value, key=key.encode(),
                         on_delivery=lambda error, _m: failed.append(str(error)) if error else None)
    if producer.flush(DEADLINE_S) != 0 or failed:
        raise SystemExit(f"the Python producer could not deliver: {failed[:3]}")


def consumed_lines(binary, cluster):
    text = horizons(binary, "consume", TOPIC, "--brokers", cluster.bootstrap, "--registry", cluster.registry,
                    "--from-beginning", "--until-end", "--json")
    return [line for line in text.splitlines() if line]


def micros(value):
    return (value - datetime(1970, 1, 1, tzinfo=timezone.utc)) // (datetime.resolution)


def same_event(check, line, value):
    """The decoded value carries what the JSON line says (the fields every event type has)."""
    expected = json.loads(line)
    when = datetime.strptime(expected["occurred_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    check.expect(value["event_id"] == uuid.UUID(expected["event_id"]), f"{expected['event_id']}: event_id")
    check.expect(value["event_type"] == expected["event_type"], f"{expected['event_id']}: event_type")
    check.expect(micros(value["occurred_at"]) == micros(when), f"{expected['event_id']}: occurred_at")
    check.expect(value["payload"]["job_id"] == expected["payload"]["job_id"], f"{expected['event_id']}: job_id")


def multiset_check(check, expected_lines, copies, lines):
    """`lines` hold each expected line exactly `copies` times, and nothing else."""
    want, got = Counter({line: copies for line in expected_lines}), Counter(lines)
    for line in want:
        check.expect(got[line] == copies, f"{got[line]} of {copies} copies: {line[:160]}")
    for line in (got - want):
        check.expect(False, f"not sent: {line[:160]}")


def with_field(schema_text, field):
    schema = json.loads(schema_text)
    schema["fields"].append(field)
    return Schema(json.dumps(schema), "AVRO")


def exchange(binary, cluster, lines, tamper):
    """Runs every part; `tamper` names a part whose expectation is changed (self-test)."""
    results = []
    registry = SchemaRegistryClient({"url": cluster.registry})
    context = SerializationContext(TOPIC, MessageField.VALUE)
    horizons(binary, "produce", TOPIC, "--brokers", cluster.bootstrap, "--registry", cluster.registry,
             stdin="".join(f"{line}\n" for line in lines).encode())

    part = Check("registry")
    latest = registry.get_latest_version(SUBJECT)
    part.expect(SUBJECT in registry.get_subjects(), f"{SUBJECT} is not listed")
    part.expect(registry.get_versions(SUBJECT) == [1], f"versions {registry.get_versions(SUBJECT)}")
    found = registry.lookup_schema(SUBJECT, Schema(latest.schema.schema_str, "AVRO"))
    part.expect((found.schema_id, found.version) == (latest.schema_id, 1), f"lookup gave {found.schema_id}")
    part.expect(registry.get_schema(latest.schema_id).schema_str == latest.schema.schema_str, "schema by id differs")
    registry.set_compatibility(SUBJECT, "BACKWARD")
    level = "BACKWARD" if tamper != "registry" else "FULL"
    part.expect(registry.get_compatibility(SUBJECT) == level, f"the level read is not {level}")
    results.append(part.report())
    schema_id = latest.schema_id

    part = Check("horizons->python")
    framed = read_all(cluster.bootstrap, len(lines))
    decode = AvroDeserializer(registry)
    by_id = {json.loads(line)["event_id"]: line for line in lines}
    values = []
    for record in framed:
        part.expect(record[0] == 0 and int.from_bytes(record[1:5], "big") == schema_id, f"frame {record[:5].hex()}")
        value = decode(record, context)
        values.append(value)
        line = by_id.get(str(value["event_id"]))
        if part.expect(line is not None, f"{value['event_id']} was not sent"):
            same_event(part, line if tamper != "horizons->python" else line.replace("job-", "jab-"), value)
    results.append(part.report())

    part = Check("python->horizons")
    encode = AvroSerializer(registry, latest.schema.schema_str,
                            conf={"auto.register.schemas": False, "use.latest.version": False})
    again = [encode(value, context) for value in values]
    part.expect(all(int.from_bytes(b[1:5], "big") == schema_id for b in again), "Python framed another id")
    send(cluster.bootstrap, [(v["payload"]["job_id"], b) for v, b in zip(values, again)])
    multiset_check(part, lines if tamper != "python->horizons" else lines[1:], 2, consumed_lines(binary, cluster))
    results.append(part.report())

    part = Check("evolution")
    next_version = with_field(latest.schema.schema_str, {"name": NOTE, "type": "string", "default": "from-python"})
    breaking = with_field(latest.schema.schema_str, {"name": "needs_a_value", "type": "int"})
    part.expect(registry.test_compatibility(SUBJECT, next_version), "a field with a default tested incompatible")
    part.expect(not registry.test_compatibility(SUBJECT, breaking), "a field without a default tested compatible")
    try:
        registry.register_schema(SUBJECT, breaking)
        part.expect(False, "a breaking version was registered")
    except SchemaRegistryError as refused:
        part.expect(refused.http_status_code == 409, f"refused with {refused.http_status_code}, not 409")
    next_id = registry.register_schema(SUBJECT, next_version)
    part.expect(next_id != schema_id, f"the next version has the first's id {next_id}")
    part.expect(registry.get_versions(SUBJECT) == [1, 2], f"versions {registry.get_versions(SUBJECT)}")
    encode_next = AvroSerializer(registry, next_version.schema_str, conf={"auto.register.schemas": False})
    newer = [encode_next({**value, NOTE: "written by python"}, context) for value in values]
    part.expect(all(int.from_bytes(b[1:5], "big") == next_id for b in newer), "next version framed another id")
    send(cluster.bootstrap, [(v["payload"]["job_id"], b) for v, b in zip(values, newer)])
    multiset_check(part, lines, 3, consumed_lines(binary, cluster))
    decode_next = AvroDeserializer(registry, next_version)
    default = "from-python" if tamper != "evolution" else "from-horizons"
    part.expect(all(decode_next(record, context)[NOTE] == default for record in framed),
                f"Horizons' records read with the next version lack {NOTE}={default!r}")
    results.append(part.report())
    return results


PARTS = ["registry", "horizons->python", "python->horizons", "evolution"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("horizons")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    terminate_on_sigterm()
    lines = sampled_lines(args.horizons)
    if not args.self_test:
        with EmbeddedCluster(args.horizons, brokers=1) as cluster:
            print(f"embedded cluster {cluster.bootstrap}, Horizons' registry {cluster.registry}", flush=True)
            return 0 if all(exchange(args.horizons, cluster, lines, None)) else 1
    caught = []
    for tampered in PARTS:
        print(f"self-test: {tampered} changed", flush=True)
        with EmbeddedCluster(args.horizons, brokers=1) as cluster:
            results = dict(zip(PARTS, exchange(args.horizons, cluster, lines, tampered)))
        caught.append(not results[tampered] and all(ok for part, ok in results.items() if part != tampered))
    print(f"self-test: {sum(caught)} of {len(PARTS)} changes caught, each in its own part only", flush=True)
    return 0 if all(caught) else 1


if __name__ == "__main__":
    sys.exit(main())
