"""One job, one trace: OpenTelemetry spans from the platform's services in separate processes.

A small OTLP/HTTP receiver (http.server, requests parsed with opentelemetry-proto, pinned in
tools/peers/requirements.txt) collects what Horizons exports. On `horizons up --brokers 1`, the five
services run as `horizons serve <service>` processes and `horizons run --services none --jobs 20`
submits the workload and waits for it, every process exporting to the receiver
(OTEL_EXPORTER_OTLP_ENDPOINT). Then:

  one trace per job  every span naming a job (horizons.job_id) of a job is in the job's trace, and
                     each trace has exactly one root: the submission's PRODUCER span.
  links              a CONSUMER span's parent is a PRODUCER span for the same topic; a PRODUCER span
                     made in a service is a child of that service's CONSUMER span (an event emitted
                     while handling a record) or of the job's submission (the orchestrator's
                     scheduled steps, which run outside a handler).
  services           each job's trace holds spans of at least four service names.
  conventions        messaging.system=kafka, messaging.operation.type, destination, key, group,
                     partition and offset on the spans that must have them; horizons.event_type.
  disabled           `horizons run --jobs 5` with OTEL_SDK_DISABLED=true (and the endpoint set)
                     exports nothing.

    check_traces.py HORIZONS_BINARY

Run it with the virtualenv's python that tools/peers/peers.sh makes. Exits 1 naming the first
problems found.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from horizons_process import EmbeddedCluster, die_with_parent, child_environment, terminate_on_sigterm  # noqa: E402

try:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
except ImportError as error:  # an environment problem, not a test result
    sys.exit(f"check_traces.py: cannot import opentelemetry-proto ({error}); run it with the python that "
             "`tools/peers/peers.sh install` makes (tools/peers/peers.sh python prints it).")

SERVICES = ["orchestrator", "metrics-aggregator", "notification-dispatcher", "compliance-auditor", "health-monitor"]
JOBS = 20
PRODUCER, CONSUMER = 4, 5  # Span.SpanKind


class Receiver:
    """Collects spans POSTed to /v1/traces, with their resource's service.name."""

    def __init__(self):
        self.spans, self.requests, self.lock = [], 0, threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # else each export waits ~40 ms for a delayed ACK

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.add(request)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, request):
        with self.lock:
            self.requests += 1
            for resource_spans in request.resource_spans:
                service = next((a.value.string_value for a in resource_spans.resource.attributes
                                if a.key == "service.name"), "")
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(Span(service, span))


class Span:
    def __init__(self, service, span):
        self.service, self.name, self.kind = service, span.name, span.kind
        self.trace, self.id, self.parent = span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex()
        self.status = span.status.code
        self.attributes = {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}

    def __repr__(self):
        return f"{self.service}/{self.name}({self.attributes.get('horizons.event_type')})"


def tracing_environment(endpoint, **extra):
    return {**child_environment(), "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", **extra}


def start_service(horizons, service, cluster, data_dir, endpoint, log):
    command = [horizons, "serve", service, "--brokers", cluster.bootstrap, "--data-dir", data_dir]
    if service == "health-monitor":
        command += ["--http", "127.0.0.1:0"]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            env=tracing_environment(endpoint), preexec_fn=die_with_parent)


def run_platform(horizons, receiver, work):
    """The workload on services in separate processes; each exports its spans before it exits."""
    log = open(work / "processes.log", "wb")
    with EmbeddedCluster(horizons, brokers=1) as cluster:
        services = [start_service(horizons, s, cluster, str(work / "data"), receiver.endpoint, log) for s in SERVICES]
        try:
            run = subprocess.run([horizons, "run", "--brokers", cluster.bootstrap, "--services", "none",
                                  "--jobs", str(JOBS), "--rate", "20", "--data-dir", str(work / "data"),
                                  "--timeout", "120"], stdin=subprocess.DEVNULL, capture_output=True,
                                 env=tracing_environment(receiver.endpoint), timeout=180)
            if run.returncode != 0:
                raise SystemExit(f"`horizons run` exited {run.returncode}:\n{run.stdout.decode()[-3000:]}\n"
                                 f"{run.stderr.decode()[-3000:]}")
        finally:
            for process in services:
                process.terminate()
            for process in services:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
    return [p.returncode for p in services]


def check(spans):
    problems = []
    by_id = {s.id: s for s in spans}
    jobs = defaultdict(set)  # job id -> traces
    for s in spans:
        if "horizons.job_id" in s.attributes:
            jobs[s.attributes["horizons.job_id"]].add(s.trace)
    submitted = {s.attributes["horizons.job_id"] for s in spans
                 if s.kind == PRODUCER and s.attributes.get("horizons.event_type") == "job.submitted"}
    if len(submitted) != JOBS:
        problems.append(f"{len(submitted)} job submissions traced, expected {JOBS}")
    by_trace = defaultdict(list)
    for s in spans:
        by_trace[s.trace].append(s)
    for job, traces in sorted(jobs.items()):
        if len(traces) != 1:
            problems.append(f"job {job}: its spans are in {len(traces)} traces")
            continue
        trace = by_trace[next(iter(traces))]
        roots = [s for s in trace if not s.parent]
        if len(roots) != 1 or roots[0].attributes.get("horizons.event_type") != "job.submitted":
            problems.append(f"job {job}: roots {roots}, expected the submission alone")
        services = {s.service for s in trace}
        if len(services) < 4:
            problems.append(f"job {job}: spans of {sorted(services)} only, expected four services or more")
        missing = [s for s in trace if s.parent and s.parent not in by_id]
        if missing:
            problems.append(f"job {job}: {len(missing)} spans whose parent was not exported, e.g. {missing[0]}")
    for s in spans:
        parent = by_id.get(s.parent)
        a = s.attributes
        if a.get("messaging.system") != "kafka" or "messaging.destination.name" not in a or "horizons.event_type" not in a:
            problems.append(f"{s}: lacks messaging.system=kafka, the destination or horizons.event_type")
        if s.kind == CONSUMER:
            if a.get("messaging.operation.type") != "process" or not a.get("messaging.consumer.group.name") or \
                    "messaging.kafka.offset" not in a or "messaging.destination.partition.id" not in a:
                problems.append(f"{s}: a CONSUMER span without operation, group, offset or partition: {a}")
            if parent and (parent.kind != PRODUCER or
                           parent.attributes.get("messaging.destination.name") != a["messaging.destination.name"]):
                problems.append(f"{s}: its parent {parent} is not a PRODUCER span for the same topic")
        elif s.kind == PRODUCER:
            if a.get("messaging.operation.type") != "send":
                problems.append(f"{s}: a PRODUCER span with operation {a.get('messaging.operation.type')}")
            if parent and not ((parent.kind == CONSUMER and parent.service == s.service) or
                               parent.attributes.get("horizons.event_type") == "job.submitted"):
                problems.append(f"{s}: its parent {parent} is neither this service's handler nor the submission")
        else:
            problems.append(f"{s}: kind {s.kind}, expected PRODUCER or CONSUMER")
    return problems


def self_check(spans):
    """Each check above can fail: one span moved to another trace, one CONSUMER span's parent made a
    CONSUMER span, one span's service renamed away from its trace's, one root added."""
    import copy
    consumers = [s for s in spans if s.kind == CONSUMER and s.parent]
    if not consumers:
        return ["self-check: no CONSUMER span with a parent to change"]
    changes = {
        "a span in another trace": lambda c: setattr(c[0], "trace", "0" * 32),
        "a CONSUMER parent": lambda c: setattr(next(s for s in c if s.kind == CONSUMER and s.parent), "parent",
                                               next(s for s in c if s.kind == CONSUMER).id),
        "a span without its parent": lambda c: setattr(next(s for s in c if s.parent), "parent", "f" * 16),
        "a producer without messaging.system": lambda c: next(s for s in c if s.kind == PRODUCER).attributes.pop(
            "messaging.system"),
    }
    missed = []
    for name, change in changes.items():
        changed = copy.deepcopy(spans)
        change([s for s in changed if "horizons.job_id" in s.attributes])
        if not check(changed):
            missed.append(f"self-check: {name} was not caught")
    print(f"self-check: {len(changes) - len(missed)} of {len(changes)} changes caught", flush=True)
    return missed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("horizons")
    args = parser.parse_args()
    terminate_on_sigterm()
    receiver = Receiver()
    with tempfile.TemporaryDirectory(prefix="horizons-traces-") as directory:
        work = Path(directory)
        exits = run_platform(args.horizons, receiver, work)
        time.sleep(1)  # the last exports were answered before the processes exited; let the handlers finish
        spans = list(receiver.spans)
        kinds = defaultdict(int)
        for s in spans:
            kinds[(s.service, s.kind)] += 1
        print(f"{len(spans)} spans in {receiver.requests} requests, {len({s.trace for s in spans})} traces; "
              f"services: {sorted({s.service for s in spans})}; serve exits {exits}", flush=True)
        problems = check(spans)
        problems += self_check(spans)
        if any(code != 0 for code in exits):
            problems.append(f"a service did not stop cleanly: exit codes {exits}; log:\n"
                            f"{(work / 'processes.log').read_text(errors='replace')[-3000:]}")

        before = receiver.requests
        disabled = subprocess.run([args.horizons, "run", "--jobs", "5", "--rate", "50", "--data-dir",
                                   str(work / "disabled")], stdin=subprocess.DEVNULL, capture_output=True,
                                  env=tracing_environment(receiver.endpoint, OTEL_SDK_DISABLED="true"), timeout=180)
        if disabled.returncode != 0:
            problems.append(f"`horizons run` with OTEL_SDK_DISABLED=true exited {disabled.returncode}")
        if receiver.requests != before:
            problems.append(f"with OTEL_SDK_DISABLED=true, {receiver.requests - before} export requests arrived")
        print(f"OTEL_SDK_DISABLED=true: {receiver.requests - before} export requests", flush=True)
    for problem in problems[:10]:
        print(f"  {problem}", flush=True)
    print(f"traces: {len(problems)} problems", flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
