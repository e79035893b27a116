"""Prometheus metrics of the platform's services in separate processes, scraped and checked.

On `horizons up --brokers 1`, the five services run as `horizons serve <service> --metrics 127.0.0.1:0`
processes, each printing `horizons serve: <service> metrics at http://127.0.0.1:PORT/metrics`. One
record that does not decode (b"not an avro record") is written to job-lifecycle, then
`horizons run --services none --jobs 20` submits the workload and waits for it. Then every service's
/metrics is scraped (GET) and parsed with prometheus_client (pinned in tools/peers/requirements.txt);
a text it cannot parse fails `parse`, naming the service. The checks, each a function below:

  conventions        (every service)
    content_type     Content-Type is text/plain; version=0.0.4; charset=utf-8.
    types            every sample belongs to a family that a # TYPE line declares.
    names            every family and sample name matches ^horizons_[a-z0-9_]+$.
    counters         every counter ends in _total.
    histograms       every histogram ends in _seconds; each child has buckets whose cumulative
                     counts never decrease, a +Inf bucket equal to its _count, and _sum >= 0.
  consumers          (orchestrator, metrics-aggregator, notification-dispatcher, compliance-auditor)
    event_latency    horizons_event_latency_seconds{group,topic}: children only of the service's
                     group and topics, with records (count > 0) on each topic that surely had some
                     (orchestrator: job-lifecycle; metrics-aggregator: job-metrics; dispatcher:
                     job-lifecycle; auditor: audit-trail).
    handler_duration horizons_handler_duration_seconds{group,event_type}: children only for event
                     types the service handles, at least one with count > 0.
    handler_retries  horizons_handler_retries_total is there.
    partition_lag    horizons_consumer_partition_lag_messages{group,topic,partition} has a child
                     on each topic the group reads.
  orchestrator
    submissions      horizons_handler_duration_seconds{group=job-processor,event_type=job.submitted}
                     counted 20 calls or more.
    decode_dead_letter  horizons_dead_letters_total{group=job-processor,topic=job-lifecycle,
                     error_class=decode} is 1 (also on the notification dispatcher, its group).
    outbox_published horizons_outbox_published_total{service=orchestrator} > 0.
    job_states       horizons_jobs{state} has submitted, queued, running, completed, failed, cancelled.
  health-monitor
    health_status    horizons_health_status is one-hot over ok, degraded, down.
    health_lag       horizons_consumer_lag_messages has group=job-processor, topic=job-lifecycle.
    health_jobs      horizons_health_jobs has active, pending and failed_24h.
  settling           (scraped about every second for up to 30 s; each must hold once)
    partition_lag_drained  every partition lag gauge of the group is 0 (consumers).
    outbox_drained   horizons_outbox_depth{service} is 0 (every service).
    jobs_finished    horizons_jobs: completed + failed + cancelled == 20, submitted + queued +
                     running == 0 (orchestrator).
  stopped            every `horizons serve` exits 0 on SIGTERM.

    check_metrics.py HORIZONS_BINARY
    check_metrics.py --self-test

--self-test starts nothing: it checks an exposition text made here (every family above, plausible
values), which must pass every check, and one mutation of it per case, each of which must fail
exactly the check it targets. Run it with the virtualenv's python that tools/peers/peers.sh makes.
Exits 1 naming the problems found.
"""

import argparse
import math
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from horizons_process import EmbeddedCluster, die_with_parent, child_environment, terminate_on_sigterm  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as error:  # an environment problem, not a test result
    sys.exit(f"check_metrics.py: cannot import prometheus_client ({error}); run it with the python that "
             "`tools/peers/peers.sh install` makes (tools/peers/peers.sh python prints it).")

JOBS = 20
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NAME = re.compile(r"horizons_[a-z0-9_]+")  # whole names: ^horizons_[a-z0-9_]+$
TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)", re.MULTILINE)
URL_LINE = re.compile(r"horizons serve: (\S+) metrics at (http://\S+/metrics)")
JOB_STATES = ["submitted", "queued", "running", "completed", "failed", "cancelled"]
URL_DEADLINE_S = 30
SETTLE_S = 30


class Exposition:
    """One service's /metrics: its Content-Type, its families as prometheus_client parses them, and the
    names its # TYPE lines declare (the parser renames counters; see check_counters)."""

    def __init__(self, content_type, text):
        self.content_type = content_type
        self.families = list(text_string_to_metric_families(text))  # ValueError when malformed
        self.declared = dict(TYPE_LINE.findall(text))


def parse(service, content_type, text):
    """(Exposition, []) or (None, [why it does not parse])."""
    try:
        return Exposition(content_type, text), []
    except (ValueError, IndexError, KeyError) as error:
        return None, [f"{service.name}: /metrics does not parse: {error!r}"]


# ---------------------------------------------------------------- helpers

def family(exposition, name):
    """The family exposed as `name`, or None. prometheus_client names a counter's family without its
    _total; a family with no children yet is there with no samples."""
    for f in exposition.families:
        exposed = f.name + "_total" if f.type == "counter" else f.name
        if exposed == name:
            return f
    return None


def samples(exposition, name, **labels):
    """The samples named `name` whose labels include `labels`."""
    return [s for f in exposition.families for s in f.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


def total(exposition, name, **labels):
    return sum(s.value for s in samples(exposition, name, **labels))


def by_label(exposition, name, label):
    """{value of `label`: sample value} over the samples named `name`."""
    return {s.labels.get(label): s.value for s in samples(exposition, name)}


def histogram_children(f):
    """{labels without le, as text: {"buckets": [(le, cumulative count)], "count": n, "sum": x}}."""
    children = defaultdict(lambda: {"buckets": [], "count": None, "sum": None})
    for s in f.samples:
        child = children[",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "le")]
        if s.name == f.name + "_bucket":
            child["buckets"].append((s.labels.get("le", ""), s.value))
        elif s.name == f.name + "_count":
            child["count"] = s.value
        elif s.name == f.name + "_sum":
            child["sum"] = s.value
    return children


def histogram_child_problems(where, child):
    try:
        buckets = sorted((float(le), count) for le, count in child["buckets"])
    except ValueError:
        return [f"{where}: a bucket bound is not a number: {[le for le, _ in child['buckets']]}"]
    problems = []
    counts = [count for _, count in buckets]
    if counts != sorted(counts):
        problems.append(f"{where}: cumulative bucket counts decrease: {buckets}")
    if not buckets or buckets[-1][0] != math.inf:
        problems.append(f"{where}: no +Inf bucket")
    elif buckets[-1][1] != child["count"]:
        problems.append(f"{where}: +Inf bucket {buckets[-1][1]} differs from _count {child['count']}")
    if child["sum"] is None or child["sum"] < 0:
        problems.append(f"{where}: _sum {child['sum']}, expected a number >= 0")
    return problems


# ---------------------------------------------------------------- checks: (exposition, service) -> problems

def check_content_type(exposition, service):
    parts = [part.strip().lower() for part in exposition.content_type.split(";")]
    if parts[0] != "text/plain" or set(parts[1:]) != {"version=0.0.4", "charset=utf-8"}:
        return [f"{service.name}: Content-Type {exposition.content_type!r}, expected {CONTENT_TYPE!r}"]
    return []


def check_types(exposition, service):
    """The parser makes a sample whose name fits no declared family a family of its own, type unknown."""
    return [f"{service.name}: {f.name} is not in a family a # TYPE line declares (type {f.type})"
            for f in exposition.families if f.type not in ("counter", "gauge", "histogram", "summary")]


def check_names(exposition, service):
    names = set(exposition.declared) | {f.name for f in exposition.families} | \
        {s.name for f in exposition.families for s in f.samples}
    return [f"{service.name}: {name!r} does not match ^{NAME.pattern}$" for name in sorted(names)
            if not NAME.fullmatch(name)]


def check_counters(exposition, service):
    """Read on the # TYPE lines: prometheus_client drops _total from a counter family's name and adds it
    to each of its samples that lacks it, so the parsed samples cannot tell."""
    return [f"{service.name}: counter {name} does not end in _total"
            for name, kind in exposition.declared.items() if kind == "counter" and not name.endswith("_total")]


def check_histograms(exposition, service):
    problems = []
    for f in exposition.families:
        if f.type != "histogram":
            continue
        if not f.name.endswith("_seconds"):
            problems.append(f"{service.name}: histogram {f.name} does not end in _seconds")
        for labels, child in histogram_children(f).items():
            problems += histogram_child_problems(f"{service.name}: {f.name}{{{labels}}}", child)
    return problems


def check_event_latency(exposition, service):
    name = "horizons_event_latency_seconds"
    if family(exposition, name) is None:
        return [f"{service.name}: no {name}"]
    problems = [f"{service.name}: {name} has a child {s.labels}, not of group {service.group} on {service.topics}"
                for s in samples(exposition, name + "_count")
                if s.labels.get("group") != service.group or s.labels.get("topic") not in service.topics]
    for topic in service.latency_topics:
        if total(exposition, name + "_count", group=service.group, topic=topic) <= 0:
            problems.append(f"{service.name}: {name}{{group={service.group},topic={topic}}} counted no record")
    return problems


def check_handler_duration(exposition, service):
    name = "horizons_handler_duration_seconds"
    if family(exposition, name) is None:
        return [f"{service.name}: no {name}"]
    counts = samples(exposition, name + "_count")
    problems = [f"{service.name}: {name} has a child {s.labels}, not of group {service.group} and {service.handles}"
                for s in counts
                if s.labels.get("group") != service.group or s.labels.get("event_type") not in service.handles]
    if not any(s.value > 0 for s in counts):
        problems.append(f"{service.name}: {name} counted no handler call")
    return problems


def check_handler_retries(exposition, service):
    name = "horizons_handler_retries_total"
    return [] if family(exposition, name) else [f"{service.name}: no {name}"]


def check_partition_lag(exposition, service):
    name = "horizons_consumer_partition_lag_messages"
    return [f"{service.name}: no {name}{{group={service.group},topic={topic}}}" for topic in service.topics
            if not samples(exposition, name, group=service.group, topic=topic)]


def check_submissions(exposition, service):
    calls = total(exposition, "horizons_handler_duration_seconds_count", group=service.group,
                  event_type="job.submitted")
    if calls < JOBS:
        return [f"{service.name}: {calls:g} job.submitted handler calls counted, expected {JOBS} or more"]
    return []


def check_decode_dead_letter(exposition, service):
    labels = {"group": service.group, "topic": "job-lifecycle", "error_class": "decode"}
    values = [s.value for s in samples(exposition, "horizons_dead_letters_total", **labels)]
    if values != [1]:
        return [f"{service.name}: horizons_dead_letters_total{labels} is {values or 'absent'}, expected [1]"]
    return []


def check_outbox_published(exposition, service):
    published = total(exposition, "horizons_outbox_published_total", service=service.name)
    if published <= 0:
        return [f"{service.name}: horizons_outbox_published_total{{service={service.name}}} is {published:g}"]
    return []


def check_job_states(exposition, service):
    jobs = by_label(exposition, "horizons_jobs", "state")
    missing = [state for state in JOB_STATES if state not in jobs]
    return [f"{service.name}: horizons_jobs lacks states {missing}: {jobs}"] if missing else []


def check_health_status(exposition, service):
    status = by_label(exposition, "horizons_health_status", "status")
    if set(status) != {"ok", "degraded", "down"} or sorted(status.values()) != [0, 0, 1]:
        return [f"{service.name}: horizons_health_status is not one-hot over ok, degraded, down: {status}"]
    return []


def check_health_lag(exposition, service):
    if not samples(exposition, "horizons_consumer_lag_messages", group="job-processor", topic="job-lifecycle"):
        return [f"{service.name}: no horizons_consumer_lag_messages{{group=job-processor,topic=job-lifecycle}}"]
    return []


def check_health_jobs(exposition, service):
    jobs = by_label(exposition, "horizons_health_jobs", "state")
    missing = [state for state in ("active", "pending", "failed_24h") if state not in jobs]
    return [f"{service.name}: horizons_health_jobs lacks states {missing}: {jobs}"] if missing else []


def check_partition_lag_drained(exposition, service):
    behind = [s for s in samples(exposition, "horizons_consumer_partition_lag_messages", group=service.group)
              if s.value != 0]
    return [f"{service.name}: partitions still behind: {[(s.labels, s.value) for s in behind]}"] if behind else []


def check_outbox_drained(exposition, service):
    depths = [s.value for s in samples(exposition, "horizons_outbox_depth", service=service.name)]
    if depths != [0]:
        return [f"{service.name}: horizons_outbox_depth{{service={service.name}}} is {depths or 'absent'}, "
                "expected [0]"]
    return []


def check_jobs_finished(exposition, service):
    jobs = by_label(exposition, "horizons_jobs", "state")
    finished = sum(jobs.get(state, 0) for state in ("completed", "failed", "cancelled"))
    active = sum(jobs.get(state, 0) for state in ("submitted", "queued", "running"))
    if finished != JOBS or active != 0:
        return [f"{service.name}: horizons_jobs {jobs}: {finished:g} finished and {active:g} active, "
                f"expected {JOBS} and 0"]
    return []


# ---------------------------------------------------------------- the services and their checks

CONVENTIONS = [check_content_type, check_types, check_names, check_counters, check_histograms]
CONSUMER = [check_event_latency, check_handler_duration, check_handler_retries, check_partition_lag]
HEALTH = [check_health_status, check_health_lag, check_health_jobs]


@dataclass
class Service:
    name: str
    group: str = ""
    topics: list = field(default_factory=list)
    latency_topics: list = field(default_factory=list)  # topics surely written to in the run
    handles: list = field(default_factory=list)
    checks: list = field(default_factory=list)  # on one scrape after the settling checks held
    settling: list = field(default_factory=list)  # each must hold on one scrape within SETTLE_S


SERVICES = [
    Service("orchestrator", "job-processor", ["job-lifecycle"], ["job-lifecycle"], ["job.submitted"],
            checks=CONVENTIONS + CONSUMER + [check_submissions, check_decode_dead_letter, check_outbox_published,
                                             check_job_states],
            settling=[check_partition_lag_drained, check_outbox_drained, check_jobs_finished]),
    Service("metrics-aggregator", "metrics-aggregator", ["job-metrics"], ["job-metrics"],
            ["job.metrics.recorded", "resource.allocation.changed"],
            checks=CONVENTIONS + CONSUMER, settling=[check_partition_lag_drained, check_outbox_drained]),
    Service("notification-dispatcher", "notification-dispatcher", ["job-lifecycle", "notifications"], ["job-lifecycle"],
            ["job.completed", "job.failed", "job.cancelled", "alert.raised", "alert.resolved"],
            checks=CONVENTIONS + CONSUMER + [check_decode_dead_letter],
            settling=[check_partition_lag_drained, check_outbox_drained]),
    Service("compliance-auditor", "compliance-auditor", ["audit-trail"], ["audit-trail"],
            ["audit.action.recorded", "audit.policy.changed", "audit.data.access", "audit.job.lifecycle",
             "audit.compliance.check"],
            checks=CONVENTIONS + CONSUMER, settling=[check_partition_lag_drained, check_outbox_drained]),
    Service("health-monitor", checks=CONVENTIONS + HEALTH, settling=[check_outbox_drained]),
]


def run_checks(exposition, service, checks):
    """{check name: its problems} for the checks that found some."""
    failed = {}
    for check in checks:
        problems = check(exposition, service)
        if problems:
            failed[check.__name__] = problems
    return failed


# ---------------------------------------------------------------- the platform

def start_service(horizons, service, cluster, data_dir, log_path):
    command = [horizons, "serve", service, "--brokers", cluster.bootstrap, "--data-dir", data_dir,
               "--metrics", "127.0.0.1:0"]
    if service == "health-monitor":
        command += ["--http", "127.0.0.1:0"]
    log = open(log_path, "wb")
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            env=child_environment(), preexec_fn=die_with_parent)


def log_tail(path, limit=3000):
    return path.read_text(errors="replace")[-limit:]


def wait_for_metrics_urls(processes, logs):
    """{service: its metrics URL}, from the line each `horizons serve` prints to its log (its stdout)."""
    urls, deadline = {}, time.monotonic() + URL_DEADLINE_S
    while len(urls) < len(processes):
        for name, process in processes.items():
            found = {m.group(1): m.group(2) for m in URL_LINE.finditer(logs[name].read_text(errors="replace"))}
            if name in found:
                urls[name] = found[name]
            elif process.poll() is not None:
                raise SystemExit(f"`horizons serve {name}` exited {process.returncode} without printing its "
                                 f"metrics URL; log:\n{log_tail(logs[name])}")
        missing = [name for name in processes if name not in urls]
        if missing and time.monotonic() > deadline:
            raise SystemExit(f"no metrics URL from {missing} after {URL_DEADLINE_S} s; log of {missing[0]}:\n"
                             f"{log_tail(logs[missing[0]])}")
        time.sleep(0.1)
    return urls


def write_undecodable_record(bootstrap):
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce("job-lifecycle", value=b"not an avro record", key=b"garbage")
    if producer.flush(30) != 0:
        raise SystemExit("the undecodable record was not acknowledged in 30 s")


def run_workload(horizons, cluster, work):
    run = subprocess.run([horizons, "run", "--brokers", cluster.bootstrap, "--services", "none",
                          "--jobs", str(JOBS), "--rate", "20", "--data-dir", str(work / "data"),
                          "--timeout", "120"], stdin=subprocess.DEVNULL, capture_output=True,
                         env=child_environment(), timeout=180)
    if run.returncode != 0:
        raise SystemExit(f"`horizons run` exited {run.returncode}:\n{run.stdout.decode()[-3000:]}\n"
                         f"{run.stderr.decode()[-3000:]}")


def scrape(service, url):
    """(Exposition, []) or (None, [why not]) for one GET of the service's /metrics."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            content_type = response.headers.get("Content-Type", "")
            text = response.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:  # urllib's errors are OSErrors
        return None, [f"{service.name}: GET {url} failed: {error}"]
    return parse(service, content_type, text)


def poll_until_settled(urls):
    """Scrapes about every second until each service's settling checks have each held once, for up to
    SETTLE_S; returns the latest problems of those that never held."""
    unsettled = {(service.name, check): ["not checked"] for service in SERVICES for check in service.settling}
    deadline = time.monotonic() + SETTLE_S
    while unsettled and time.monotonic() < deadline:
        for service in SERVICES:
            checks = [check for name, check in unsettled if name == service.name]
            if not checks:
                continue
            exposition, problems = scrape(service, urls[service.name])
            for check in checks:
                found = problems or check(exposition, service)
                if found:
                    unsettled[(service.name, check)] = found
                else:
                    del unsettled[(service.name, check)]
        if unsettled:
            time.sleep(1)
    return [problem for problems in unsettled.values() for problem in problems]


def check_platform(urls):
    problems = poll_until_settled(urls)
    for service in SERVICES:
        exposition, found = scrape(service, urls[service.name])
        if exposition:
            print(f"{service.name}: {len(exposition.families)} families, "
                  f"{sum(len(f.samples) for f in exposition.families)} samples", flush=True)
            found = [p for check_problems in run_checks(exposition, service, service.checks).values()
                     for p in check_problems]
        problems += found
    return problems


def run_platform(horizons, work):
    """The workload on services in separate processes, scraped while they run; (problems, serve exits)."""
    with EmbeddedCluster(horizons, brokers=1) as cluster:
        logs = {s.name: work / f"{s.name}.log" for s in SERVICES}
        processes = {s.name: start_service(horizons, s.name, cluster, str(work / "data"), logs[s.name])
                     for s in SERVICES}
        try:
            urls = wait_for_metrics_urls(processes, logs)
            write_undecodable_record(cluster.bootstrap)
            run_workload(horizons, cluster, work)
            problems = check_platform(urls)
        finally:
            for process in processes.values():
                process.terminate()
            for process in processes.values():
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
    exits = {name: process.returncode for name, process in processes.items()}
    for name, code in exits.items():
        if code != 0:
            problems.append(f"`horizons serve {name}` did not stop cleanly: exit code {code}; log:\n"
                            f"{log_tail(logs[name])}")
    return problems, exits


# ---------------------------------------------------------------- --self-test

SELF_TEST_SERVICE = Service("self-test", "job-processor", ["job-lifecycle"], ["job-lifecycle"], ["job.submitted"],
                            checks=CONVENTIONS + CONSUMER + [check_submissions, check_decode_dead_letter,
                                                             check_outbox_published, check_job_states] + HEALTH,
                            settling=[check_partition_lag_drained, check_outbox_drained, check_jobs_finished])

VALID_TEXT = """\
# HELP horizons_event_latency_seconds From a record's produced-at header to the start of its handling.
# TYPE horizons_event_latency_seconds histogram
horizons_event_latency_seconds_count{group="job-processor",topic="job-lifecycle"} 61
horizons_event_latency_seconds_sum{group="job-processor",topic="job-lifecycle"} 0.4125
horizons_event_latency_seconds_bucket{group="job-processor",topic="job-lifecycle",le="0.001"} 3
horizons_event_latency_seconds_bucket{group="job-processor",topic="job-lifecycle",le="0.01"} 48
horizons_event_latency_seconds_bucket{group="job-processor",topic="job-lifecycle",le="0.1"} 60
horizons_event_latency_seconds_bucket{group="job-processor",topic="job-lifecycle",le="+Inf"} 61
# HELP horizons_handler_duration_seconds Each handler call.
# TYPE horizons_handler_duration_seconds histogram
horizons_handler_duration_seconds_count{event_type="job.submitted",group="job-processor"} 20
horizons_handler_duration_seconds_sum{event_type="job.submitted",group="job-processor"} 0.0213
horizons_handler_duration_seconds_bucket{event_type="job.submitted",group="job-processor",le="0.0001"} 2
horizons_handler_duration_seconds_bucket{event_type="job.submitted",group="job-processor",le="0.001"} 15
horizons_handler_duration_seconds_bucket{event_type="job.submitted",group="job-processor",le="0.01"} 20
horizons_handler_duration_seconds_bucket{event_type="job.submitted",group="job-processor",le="+Inf"} 20
# HELP horizons_handler_retries_total Handler calls repeated after a failure.
# TYPE horizons_handler_retries_total counter
# HELP horizons_dead_letters_total Records written to a dead-letter topic.
# TYPE horizons_dead_letters_total counter
horizons_dead_letters_total{error_class="decode",group="job-processor",topic="job-lifecycle"} 1
# HELP horizons_consumer_partition_lag_messages Records on an assigned partition not read yet.
# TYPE horizons_consumer_partition_lag_messages gauge
horizons_consumer_partition_lag_messages{group="job-processor",partition="0",topic="job-lifecycle"} 0
horizons_consumer_partition_lag_messages{group="job-processor",partition="1",topic="job-lifecycle"} 0
# HELP horizons_outbox_depth Outbox rows not yet published.
# TYPE horizons_outbox_depth gauge
horizons_outbox_depth{service="self-test"} 0
# HELP horizons_outbox_published_total Outbox rows published.
# TYPE horizons_outbox_published_total counter
horizons_outbox_published_total{service="self-test"} 57
# HELP horizons_jobs Jobs in the orchestrator's table by state.
# TYPE horizons_jobs gauge
horizons_jobs{state="submitted"} 0
horizons_jobs{state="queued"} 0
horizons_jobs{state="running"} 0
horizons_jobs{state="completed"} 17
horizons_jobs{state="failed"} 2
horizons_jobs{state="cancelled"} 1
# HELP horizons_brokers_up Brokers listed in the cluster metadata that answered a probe.
# TYPE horizons_brokers_up gauge
horizons_brokers_up 1
# HELP horizons_health_status Overall health of the platform (one-hot).
# TYPE horizons_health_status gauge
horizons_health_status{status="ok"} 1
horizons_health_status{status="degraded"} 0
horizons_health_status{status="down"} 0
# HELP horizons_consumer_lag_messages Records the group has yet to finish, per topic.
# TYPE horizons_consumer_lag_messages gauge
horizons_consumer_lag_messages{group="job-processor",topic="job-lifecycle"} 0
# HELP horizons_consumer_lag_seconds Age of the oldest record the group has yet to finish, per topic.
# TYPE horizons_consumer_lag_seconds gauge
horizons_consumer_lag_seconds{group="job-processor",topic="job-lifecycle"} 0
# HELP horizons_consumer_lag_status The lag rule's verdict per group and topic (one-hot).
# TYPE horizons_consumer_lag_status gauge
horizons_consumer_lag_status{group="job-processor",status="ok",topic="job-lifecycle"} 1
# HELP horizons_health_jobs Jobs by state, as the health monitor folds the job-lifecycle topic.
# TYPE horizons_health_jobs gauge
horizons_health_jobs{state="active"} 0
horizons_health_jobs{state="pending"} 0
horizons_health_jobs{state="failed_24h"} 2
# HELP horizons_health_evaluations_total Evaluations since the monitor started.
# TYPE horizons_health_evaluations_total counter
horizons_health_evaluations_total 14
"""

# (case, text replaced, its replacement, the one check that must fail); "" replaced: the Content-Type.
MUTATIONS = [
    ("a counter without _total", "horizons_health_evaluations_total", "horizons_health_evaluations",
     "check_counters"),
    ("a +Inf bucket that differs from _count",
     'topic="job-lifecycle",le="+Inf"} 61', 'topic="job-lifecycle",le="+Inf"} 60', "check_histograms"),
    ("a cumulative bucket count that decreases",
     'group="job-processor",le="0.001"} 15', 'group="job-processor",le="0.001"} 21', "check_histograms"),
    ("a name outside the convention (Horizons_x)", "horizons_brokers_up", "Horizons_brokers_up", "check_names"),
    ("a name the parser rejects (Horizons-x)", "horizons_brokers_up", "Horizons-brokers_up", "parse"),
    ("malformed text", 'horizons_jobs{state="queued"} 0', 'horizons_jobs{state="queued" 0', "parse"),
    ("a sample outside its declared family", "horizons_brokers_up 1", "horizons_brokers_upp 1", "check_types"),
    ("the decode dead letter counted 0", 'error_class="decode",group="job-processor",topic="job-lifecycle"} 1',
     'error_class="decode",group="job-processor",topic="job-lifecycle"} 0', "check_decode_dead_letter"),
    ("health status two-hot", 'horizons_health_status{status="degraded"} 0',
     'horizons_health_status{status="degraded"} 1', "check_health_status"),
    ("a partition behind", 'partition="1",topic="job-lifecycle"} 0', 'partition="1",topic="job-lifecycle"} 4',
     "check_partition_lag_drained"),
    ("an outbox row left", 'horizons_outbox_depth{service="self-test"} 0',
     'horizons_outbox_depth{service="self-test"} 3', "check_outbox_drained"),
    ("a job still running", 'horizons_jobs{state="running"} 0', 'horizons_jobs{state="running"} 1',
     "check_jobs_finished"),
    ("a Content-Type other than 0.0.4", "", "application/openmetrics-text; version=1.0.0; charset=utf-8",
     "check_content_type"),
]


def failed_checks(content_type, text):
    service = SELF_TEST_SERVICE
    exposition, problems = parse(service, content_type, text)
    if problems:
        return {"parse": problems}
    return run_checks(exposition, service, service.checks + service.settling)


def self_test():
    """0 when the valid text passes every check and each mutation fails exactly its check; else 1."""
    wrong = 0
    failed = failed_checks(CONTENT_TYPE, VALID_TEXT)
    print(f"self-test: the valid exposition: {'passes' if not failed else f'FAILS {failed}'}", flush=True)
    wrong += bool(failed)
    for case, old, new, expected in MUTATIONS:
        if old:
            assert VALID_TEXT.count(old) >= 1, f"self-test case {case!r}: {old!r} is not in the valid text"
            failed = failed_checks(CONTENT_TYPE, VALID_TEXT.replace(old, new))
        else:
            failed = failed_checks(new, VALID_TEXT)
        if set(failed) == {expected}:
            print(f"self-test: {case}: {expected} fails, as it must ({failed[expected][0]})", flush=True)
        else:
            print(f"self-test: {case}: NOT DETECTED as intended: failed {sorted(failed) or 'nothing'}, "
                  f"expected {expected} alone", flush=True)
            wrong += 1
    print(f"self-test: {1 + len(MUTATIONS) - wrong} of {1 + len(MUTATIONS)} cases as expected", flush=True)
    return 1 if wrong else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("horizons", nargs="?")
    parser.add_argument("--self-test", action="store_true", help="check the checks on texts made here; start nothing")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    if not args.horizons:
        parser.error("HORIZONS_BINARY is required unless --self-test")
    terminate_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="horizons-metrics-") as directory:
        problems, exits = run_platform(args.horizons, Path(directory))
    print(f"serve exits {exits}", flush=True)
    for problem in problems[:20]:
        print(f"  {problem}", flush=True)
    print(f"metrics: {len(problems)} problems", flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
