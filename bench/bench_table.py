#!/usr/bin/python3
"""`horizons bench --json` output (a file or stdin) -> Markdown tables (stdout).

    horizons bench --json > bench/results/embedded.json
    /usr/bin/python3 bench/bench_table.py bench/results/embedded.json

Throughput: events/s and MB/s of each side, client CPU per event, and the
ratio Horizons/raw of events/s; then the further sides of a scenario (consume's
raw+avro-c: raw librdkafka decoding every record with avro-c) with their ratios. Latency: percentiles from each event's
scheduled send time. Then the codec line and the targets as the run judged
them.
"""
import json
import sys


# Labels of the sides `horizons bench --json` reports besides "horizons" and "raw".
SIDE_LABELS = {
    "horizons_view": "Horizons, view handler (on_view: views into the record)",
    "raw_avro_c": "raw+avro-c (raw librdkafka, avro-c generic decode)",
    "raw_batched": "raw librdkafka, batched (rd_kafka_consume_batch_queue, no decode)",
}


def rate(value):
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    if value >= 1e3:
        return f"{value / 1e3:.1f} k"
    return f"{value:.0f}"


def micros(us):
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    if us >= 1e3:
        return f"{us / 1e3:.2f} ms"
    return f"{us:.0f} µs"


def cpu(side):
    ns = side.get("cpu_ns_per_event")
    return "—" if ns is None else f"{ns / 1e3:.2f} µs"


def main():
    try:
        report = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
    except (OSError, json.JSONDecodeError) as error:
        sys.exit(f"bench_table: not `horizons bench --json` output ({error})")
    scenarios = report.get("scenarios", [])
    print(f"{report['event_type']} ({report['mean_bytes']:.0f} B on average), {report['cluster']}, "
          f"topic {report['topic']} with {report['partitions']} partitions, acks=all, idempotent, "
          f"{report['settings']['compression']}, linger {report['settings']['linger_ms']} ms; "
          f"{report['machine']['cpus']} CPUs ({report['machine']['cpu']}), load average "
          f"{report['machine']['load_average_start']:.2f} at the start, {report['machine']['load_average_end']:.2f} "
          f"at the end")

    throughput = [s for s in scenarios if s["scenario"] in ("produce", "consume")]
    if throughput:
        print()
        print("| scenario | events | Horizons events/s | MB/s | CPU/event | raw events/s | MB/s | CPU/event "
              "| Horizons/raw |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s in throughput:
            h, r = s["horizons"], s["raw"]
            print(f"| {s['scenario']} | {s['events']} | {rate(h['events_per_s'])} | {h['mb_per_s']:.1f} | {cpu(h)} "
                  f"| {rate(r['events_per_s'])} | {r['mb_per_s']:.1f} | {cpu(r)} | {s['ratio']:.2f} |")

    # Sides beyond Horizons and raw librdkafka (consume: raw+avro-c), with every ratio the run reports.
    others = [(s, key) for s in throughput for key in s if key not in ("horizons", "raw") and
              isinstance(s[key], dict) and "events_per_s" in s[key]]
    if others:
        print()
        print("| scenario | side | events/s | MB/s | CPU/event | ratios |")
        print("|---|---|---:|---:|---:|---|")
        for s, key in others:
            side = s[key]
            ratios = ", ".join(f"{name} {value:.2f}" for name, value in s.get("ratios", {}).items())
            print(f"| {s['scenario']} | {SIDE_LABELS.get(key, key)} | {rate(side['events_per_s'])} "
                  f"| {side['mb_per_s']:.1f} | {cpu(side)} | {ratios} |")

    latency = [s for s in scenarios if s["scenario"] == "e2e"]
    if latency:
        print()
        print("| e2e offered rate | side | received | p50 | p95 | p99 | p99.9 | max |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for s in latency:
            for name in ("horizons", "raw"):
                side = s[name]
                l = side["latency_us"]
                print(f"| {s['rate']}/s | {'Horizons' if name == 'horizons' else 'raw'} "
                      f"| {side['events']}/{side['sent']} | {micros(l['p50'])} | {micros(l['p95'])} "
                      f"| {micros(l['p99'])} | {micros(l['p99_9'])} | {micros(l['max'])} |")

    for s in scenarios:
        if s["scenario"] == "codec":
            h = s["horizons"]
            share = s.get("codec_share_of_client_cpu")
            print()
            print(f"codec: encode {h['encode_ns']:.0f} ns + decode {h['decode_ns']:.0f} ns of CPU per event"
                  + ("" if share is None else
                     f", {100 * share:.1f}% of the client's {s['client_cpu_ns_per_event'] / 1e3:.2f} µs per event"))

    if report.get("targets"):
        print()
        for t in report["targets"]:
            print(f"- {'met' if t['met'] else 'MISSED'}: {t['target']} — {t['measured']}")


if __name__ == "__main__":
    main()
