#!/usr/bin/python3
"""Google Benchmark JSON from horizons_codec_bench (stdin) -> a Markdown table (stdout).

    horizons_codec_bench --benchmark_format=json | /usr/bin/python3 bench/codec_table.py

Times are CPU ns per event. With --benchmark_repetitions the median is used
(the aggregate when reported, else the median of the repetitions). Ratios are
avro-c time / Horizons time: how many times faster Horizons is.
"""
import json
import statistics
import sys

KINDS = ("horizons_encode", "avro_c_encode", "horizons_decode", "avro_c_decode")
# Reading a record written with a later schema version: translated by a resolution plan, then decoded.
RESOLVED = "horizons_decode_resolved"
TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
# The project's targets, checked for job.submitted only.
TARGET_EVENT, ENCODE_NS, DECODE_NS, MIN_RATIO = "job.submitted", 100.0, 150.0, 3.0


def collect(benchmarks):
    """{(kind, event type): {"times": [ns, ...], "median": ns or None, "bytes": n}}"""
    runs = {}
    for b in benchmarks:
        if b.get("error_occurred"):
            sys.exit(f"codec_table: {b['name']} failed: {b.get('error_message', '?')}")
        kind, _, event_type = b.get("run_name", b["name"]).partition("/")
        if (kind not in KINDS and kind != RESOLVED) or not event_type:
            continue
        run = runs.setdefault((kind, event_type), {"times": [], "median": None, "bytes": b.get("bytes")})
        ns = b["cpu_time"] * TO_NS[b.get("time_unit", "ns")]
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                run["median"] = ns
        else:
            run["times"].append(ns)
    return runs


def ns_of(runs, kind, event_type):
    run = runs.get((kind, event_type))
    if run is None:
        return None
    if run["median"] is not None:
        return run["median"]
    return statistics.median(run["times"]) if run["times"] else None


def fmt_ns(ns):
    return "—" if ns is None else (f"{ns:.0f}" if ns >= 100 else f"{ns:.1f}")


def fmt_ratio(slow, fast):
    return "—" if slow is None or not fast else f"{slow / fast:.1f}×"


def main():
    try:
        report = json.load(sys.stdin)
    except json.JSONDecodeError as error:
        sys.exit(f"codec_table: stdin is not Google Benchmark JSON ({error})")
    runs = collect(report.get("benchmarks", []))
    if not runs:
        sys.exit("codec_table: no horizons_codec_bench results on stdin")

    event_types = []
    for _, event_type in runs:
        if event_type not in event_types:
            event_types.append(event_type)

    print("| event type | bytes | Horizons encode ns | avro-c encode ns | ratio "
          "| Horizons decode ns | avro-c decode ns | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for event_type in event_types:
        he, ae, hd, ad = (ns_of(runs, kind, event_type) for kind in KINDS)
        size = next((r["bytes"] for (k, t), r in runs.items() if t == event_type and r["bytes"]), None)
        print(f"| {event_type} | {'—' if size is None else int(size)} | {fmt_ns(he)} | {fmt_ns(ae)} "
              f"| {fmt_ratio(ae, he)} | {fmt_ns(hd)} | {fmt_ns(ad)} | {fmt_ratio(ad, hd)} |")

    if any(kind == RESOLVED for kind, _ in runs):
        print()
        print("| event type | exact-schema decode ns | other-version decode ns (translate + decode) | ratio |")
        print("|---|---:|---:|---:|")
        for event_type in event_types:
            exact, resolved = ns_of(runs, "horizons_decode", event_type), ns_of(runs, RESOLVED, event_type)
            print(f"| {event_type} | {fmt_ns(exact)} | {fmt_ns(resolved)} | {fmt_ratio(resolved, exact)} |")

    he, ae, hd, ad = (ns_of(runs, kind, TARGET_EVENT) for kind in KINDS)
    if None not in (he, ae, hd, ad):
        checks = [
            (f"encode {he:.0f} ns <= {ENCODE_NS:.0f}", he <= ENCODE_NS),
            (f"decode {hd:.0f} ns <= {DECODE_NS:.0f}", hd <= DECODE_NS),
            (f"encode {ae / he:.1f}x avro-c >= {MIN_RATIO:.0f}x", ae / he >= MIN_RATIO),
            (f"decode {ad / hd:.1f}x avro-c >= {MIN_RATIO:.0f}x", ad / hd >= MIN_RATIO),
        ]
        print()
        print(f"Targets for {TARGET_EVENT} (bytes = Avro body; framed = body + 5): "
              + "; ".join(f"{text} {'met' if ok else 'MISSED'}" for text, ok in checks))


if __name__ == "__main__":
    main()
