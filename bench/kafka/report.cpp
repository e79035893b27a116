// The report: progress on stderr, text and JSON on stdout, the targets (see report.hpp).
#include "report.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include <fmt/format.h>

namespace horizons::kafka_bench {

using namespace std::chrono_literals;
using ordered_json = nlohmann::ordered_json;

// ------------------------------------------------------------------- scenario_result

const side_outcome* scenario_result::find(std::string_view key) const {
  auto it = std::ranges::find(sides, key, [](const side_outcome& s) { return s.name.key; });
  return it == sides.end() ? nullptr : &*it;
}

const side_result& scenario_result::side(std::string_view key) const {
  const auto* found = find(key);
  assert(found != nullptr);
  return found->result;
}

side_result& scenario_result::side(std::string_view key) {
  return const_cast<side_result&>(std::as_const(*this).side(key));
}

double scenario_result::ratio(std::string_view numerator, std::string_view denominator) const {
  const auto *top = find(numerator), *bottom = find(denominator);
  if (!top || !bottom || bottom->result.events_per_s <= 0) return 0;
  return top->result.events_per_s / bottom->result.events_per_s;
}

double scenario_result::median_ratio(std::string_view numerator, std::string_view denominator) const {
  auto median = [](std::vector<double> runs) {
    if (runs.empty()) return 0.0;
    std::ranges::sort(runs);
    auto n = runs.size();
    return n % 2 ? runs[n / 2] : (runs[n / 2 - 1] + runs[n / 2]) / 2;
  };
  const auto *top = find(numerator), *bottom = find(denominator);
  if (!top || !bottom) return 0;
  auto below = median(bottom->runs);
  return below > 0 ? median(top->runs) / below : 0;
}

// ------------------------------------------------------------------- progress on stderr

progress::progress(std::string label, std::uint64_t total, const std::atomic<std::uint64_t>& done, bool tty)
    : label_(std::move(label)) {
  if (!tty) return;
  drawer_ = std::jthread([this, total, &done](std::stop_token stop) {
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    while (!stop.stop_requested()) {
      if (wake.wait_for(lock, stop, 200ms, [] { return false; }) || stop.stop_requested()) break;
      auto count = std::min(done.load(std::memory_order_relaxed), total);
      auto filled = total == 0 ? 0 : static_cast<std::size_t>(30 * count / total);
      fmt::print(stderr, "\r\033[K{:<26} [{:#<{}}{:.<{}}] {:3}%  {}/{}", label_, "", filled, "", 30 - filled,
                 total == 0 ? 100 : 100 * count / total, count, total);
      std::fflush(stderr);
    }
  });
}

void progress::finish(std::string_view result) {
  stop();
  fmt::print(stderr, "{}{:<26} {}\n", drawn_ ? "\r\033[K" : "", label_, result);
}

void progress::stop() {
  if (drawer_.joinable()) {
    drawer_.request_stop();
    drawer_.join();
    drawn_ = true;
  }
}

std::string magnitude(double value) {
  if (value >= 1e6) return fmt::format("{:.2f} M", value / 1e6);
  if (value >= 1e3) return fmt::format("{:.1f} k", value / 1e3);
  return fmt::format("{:.0f}", value);
}

std::string micros_text(double us) {
  if (us >= 1e6) return fmt::format("{:.2f} s", us / 1e6);
  if (us >= 1e3) return fmt::format("{:.2f} ms", us / 1e3);
  return fmt::format("{:.0f} us", us);
}

std::string throughput_text(const side_result& r) {
  return fmt::format("{} events in {:.2f} s: {} events/s, {:.1f} MB/s{}", r.events, r.seconds,
                     magnitude(r.events_per_s), r.mb_per_s,
                     r.cpu_ns_per_event ? fmt::format(", {:.0f} ns client CPU/event", *r.cpu_ns_per_event) : "");
}

std::string latency_text(const side_result& r) {
  if (r.latencies_us.empty()) return fmt::format("{} of {} received", r.events, r.sent);
  return fmt::format("{} of {} received; p50 {} p99 {} p99.9 {} max {}", r.events, r.sent,
                     micros_text(percentile(r.latencies_us, 50)), micros_text(percentile(r.latencies_us, 99)),
                     micros_text(percentile(r.latencies_us, 99.9)),
                     micros_text(static_cast<double>(r.latencies_us.back())));
}

// ------------------------------------------------------------------- figures

double percentile(const std::vector<std::int64_t>& sorted, double percent) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(percent / 100.0 * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1]);
}

std::vector<std::pair<double, double>> percentile_curve(const std::vector<std::int64_t>& sorted) {
  std::vector<std::pair<double, double>> curve;
  if (sorted.empty()) return curve;
  auto top = std::log10(static_cast<double>(sorted.size()));
  for (double x = 0; x < top; x += 0.05) {
    auto percent = 100.0 * (1.0 - std::pow(10.0, -x));
    curve.emplace_back(percent, percentile(sorted, std::max(percent, 1e-9)));
  }
  curve.emplace_back(100.0, static_cast<double>(sorted.back()));
  return curve;
}

void merge_e2e(side_result& into, side_result run, const bench_context& ctx) {
  into.events += run.events;
  into.sent += run.sent;
  into.seconds += run.seconds;
  into.events_per_s = static_cast<double>(into.events) / into.seconds;
  into.mb_per_s = ctx.megabytes(into.events) / into.seconds;
  into.latencies_us.insert(into.latencies_us.end(), run.latencies_us.begin(), run.latencies_us.end());
  std::ranges::sort(into.latencies_us);
}

double rounded(double value, int decimals) {
  auto scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

// ------------------------------------------------------------------- targets

namespace {

constexpr std::array<std::pair<std::string_view, double>, 4> reported_percentiles{
    {{"p50", 50}, {"p95", 95}, {"p99", 99}, {"p99_9", 99.9}}};

const scenario_result* find_scenario(const report& r, std::string_view name, int rate = 0) {
  for (const auto& s : r.scenarios) {
    if (s.name == name && s.rate == rate) return &s;
  }
  return nullptr;
}

// The client's CPU per event end to end: producing one record plus consuming it, Horizons side.
std::optional<double> client_cpu_per_event(const report& r) {
  auto* produced = find_scenario(r, "produce");
  auto* consumed = find_scenario(r, "consume");
  if (!produced || !consumed) return std::nullopt;
  const auto &p = produced->side(horizons_side.key), &c = consumed->side(horizons_side.key);
  if (!p.cpu_ns_per_event || !c.cpu_ns_per_event) return std::nullopt;
  return *p.cpu_ns_per_event + *c.cpu_ns_per_event;
}

// Every side over raw, then every Horizons side over every other side that is not raw:
// {"horizons/raw": 0.71, "raw_avro_c/raw": 0.35, "horizons/raw_avro_c": 2.03}.
std::vector<std::pair<std::string, double>> ratios(const scenario_result& s) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& side : s.sides) {
    if (side.name.key != raw_side.key) {
      out.emplace_back(fmt::format("{}/{}", side.name.key, raw_side.key), s.ratio(side.name.key, raw_side.key));
    }
  }
  for (const auto& top : s.sides) {
    if (!top.name.key.starts_with(horizons_side.key)) continue;
    for (const auto& bottom : s.sides) {
      if (bottom.name.key == raw_side.key || bottom.name.key.starts_with(horizons_side.key)) continue;
      out.emplace_back(fmt::format("{}/{}", top.name.key, bottom.name.key), s.ratio(top.name.key, bottom.name.key));
    }
  }
  return out;
}

}  // namespace

std::vector<target_check> check_targets(const report& r) {
  std::vector<target_check> checks;
  // Judged on the medians of the runs; the fastest runs' ratio is shown beside them.
  auto throughput = [&](const scenario_result& s, std::string_view side, std::string name, double target) {
    auto median = s.median_ratio(side, raw_side.key);
    checks.push_back({std::move(name), fmt::format("{:.3f} (fastest {:.3f})", median, s.ratio(side, raw_side.key)),
                      median >= target});
  };
  if (auto* s = find_scenario(r, "produce"))
    throughput(*s, horizons_side.key, "typed produce >= 0.95 x raw events/s", 0.95);
  if (auto* s = find_scenario(r, "consume")) {
    throughput(*s, horizons_view_side.key, "typed consume, view handler >= 0.90 x raw (no decode)", 0.90);
    throughput(*s, horizons_side.key, "typed consume, owning handler >= 0.80 x raw (no decode)", 0.80);
  }
  if (auto* s = find_scenario(r, "e2e", 10'000)) {
    const auto& h = s->side(horizons_side.key);
    auto horizons = percentile(h.latencies_us, 99), raw = percentile(s->side(raw_side.key).latencies_us, 99);
    checks.push_back(
        {"e2e p99 at 10k/s <= raw p99 + 0.2 ms",
         fmt::format("{} vs {} ({:+.3f} ms)", micros_text(horizons), micros_text(raw), (horizons - raw) / 1e3),
         horizons <= raw + 200 && h.events == h.sent});
  }
  if (auto* s = find_scenario(r, "codec"); s && s->codec) {
    if (auto client = client_cpu_per_event(r)) {
      auto share = (s->codec->encode_ns + s->codec->decode_ns) / *client;
      checks.push_back({"codec CPU (encode+decode) <= 10% of the client's CPU per event",
                        fmt::format("{:.1f}% ({:.0f} of {:.0f} ns)", 100 * share,
                                    s->codec->encode_ns + s->codec->decode_ns, *client),
                        share <= 0.10});
    }
  }
  return checks;
}

// ------------------------------------------------------------------- JSON

namespace {

ordered_json side_json(const side_result& r, bool latencies) {
  ordered_json j;
  j["events"] = r.events;
  j["seconds"] = rounded(r.seconds, 4);
  j["events_per_s"] = rounded(r.events_per_s, 1);
  j["mb_per_s"] = rounded(r.mb_per_s, 2);
  j["cpu_ns_per_event"] = r.cpu_ns_per_event ? ordered_json(rounded(*r.cpu_ns_per_event, 1)) : ordered_json(nullptr);
  if (latencies) {
    j["sent"] = r.sent;
    ordered_json l;
    for (auto [name, p] : reported_percentiles) l[std::string(name)] = percentile(r.latencies_us, p);
    l["max"] = r.latencies_us.empty() ? 0 : r.latencies_us.back();
    j["latency_us"] = l;
    ordered_json curve = ordered_json::array();
    for (auto [p, us] : percentile_curve(r.latencies_us)) curve.push_back({rounded(p, 5), us});
    j["percentile_curve"] = curve;
  }
  return j;
}

}  // namespace

ordered_json report_json(const report& r, const bench_context& ctx) {
  ordered_json j;
  j["tool"] = "horizons bench";
  j["cluster"] = ctx.cluster;
  j["topic"] = ctx.topic_name;
  j["partitions"] = ctx.partitions;
  j["event_type"] = ctx.options.event_type;
  j["mean_bytes"] = rounded(ctx.mean_bytes, 1);
  j["settings"] = {{"acks", "all"},
                   {"idempotence", true},
                   {"compression", std::string(to_string(ctx.codec()))},
                   {"linger_ms", ctx.config.linger.count()},
                   {"batch_size", ctx.config.batch_size},
                   {"delivery_reports", ctx.options.reports},
                   {"repeat", ctx.options.repeat}};
  j["machine"] = {{"cpus", std::thread::hardware_concurrency()},
                  {"cpu", cpu_model()},
                  {"load_average_start", ctx.load_at_start},
                  {"load_average_end", load_average()}};
  j["scenarios"] = ordered_json::array();
  for (const auto& s : r.scenarios) {
    ordered_json o;
    o["scenario"] = s.name;
    if (s.codec) {
      o["horizons"] = {{"encode_ns", rounded(s.codec->encode_ns, 1)},
                       {"decode_ns", rounded(s.codec->decode_ns, 1)},
                       {"events_per_s", rounded(1e9 / (s.codec->encode_ns + s.codec->decode_ns), 1)}};
      o["raw"] = nullptr;  // the raw side ships pre-encoded bytes: there is no codec to compare
      o["ratio"] = nullptr;
      auto client = client_cpu_per_event(r);
      o["client_cpu_ns_per_event"] = client ? ordered_json(rounded(*client, 1)) : ordered_json(nullptr);
      o["codec_share_of_client_cpu"] =
          client ? ordered_json(rounded((s.codec->encode_ns + s.codec->decode_ns) / *client, 4))
                 : ordered_json(nullptr);
    } else {
      const bool e2e = s.name == "e2e";
      if (e2e) {
        o["rate"] = s.rate;
        o["duration_s"] = ctx.options.duration_s;
      } else {
        o["events"] = s.name == "consume" ? ctx.consume_events : ctx.options.events;
        for (const auto& side : s.sides) o[fmt::format("{}_runs_events_per_s", side.name.key)] = side.runs;
      }
      for (const auto& side : s.sides) o[std::string(side.name.key)] = side_json(side.result, e2e);
      o["ratio"] = rounded(s.ratio(), 4);
      if (!e2e) {
        o["ratios"] = ordered_json::object();
        for (const auto& [name, value] : ratios(s)) o["ratios"][name] = rounded(value, 4);
      }
    }
    j["scenarios"].push_back(o);
  }
  j["targets"] = ordered_json::array();
  for (const auto& t : r.targets)
    j["targets"].push_back({{"target", t.name}, {"measured", t.measured}, {"met", t.met}});
  return j;
}

// ------------------------------------------------------------------- text

void print_report(const report& r, const bench_context& ctx) {
  fmt::print(
      "horizons bench: {} ({:.0f} bytes on average), {}, topic {} with {} partitions, acks=all, "
      "idempotent, {}; load average {:.2f} at the start, {:.2f} at the end\n",
      ctx.options.event_type, ctx.mean_bytes, ctx.cluster, ctx.topic_name, ctx.partitions, to_string(ctx.codec()),
      ctx.load_at_start, load_average());
  auto cpu = [](const side_result& side) {
    return side.cpu_ns_per_event ? fmt::format("{:.2f} us", *side.cpu_ns_per_event / 1e3) : std::string("-");
  };
  bool throughput_header = false, latency_header = false;
  for (const auto& s : r.scenarios) {
    if (s.name != "produce" && s.name != "consume") continue;
    if (!throughput_header) {
      fmt::print("\n{:<26} {:>10} {:>6} {:>10} {:>8}\n", "", "events/s", "MB/s", "CPU/event", "x raw");
      throughput_header = true;
    }
    for (const auto& side : s.sides) {
      fmt::print("{:<26} {:>10} {:>6.1f} {:>10} {:>8.3f}\n", fmt::format("{} {}", s.name, side.name.label),
                 magnitude(side.result.events_per_s), side.result.mb_per_s, cpu(side.result),
                 s.ratio(side.name.key, raw_side.key));
    }
    for (const auto& [name, value] : ratios(s)) {
      if (!name.ends_with(fmt::format("/{}", raw_side.key))) fmt::print("{:<26} {} {:.3f}\n", s.name, name, value);
    }
  }
  for (const auto& s : r.scenarios) {
    if (s.name != "e2e") continue;
    if (!latency_header) {
      fmt::print("\ne2e latency from the scheduled send time\n{:<20} {:>10} {:>10} {:>10} {:>10} {:>10} {:>16}\n", "",
                 "p50", "p95", "p99", "p99.9", "max", "received");
      latency_header = true;
    }
    for (const auto& side : s.sides) {
      const auto& l = side.result.latencies_us;
      fmt::print("{:<20} {:>10} {:>10} {:>10} {:>10} {:>10} {:>16}\n", fmt::format("{}/s {}", s.rate, side.name.label),
                 micros_text(percentile(l, 50)), micros_text(percentile(l, 95)), micros_text(percentile(l, 99)),
                 micros_text(percentile(l, 99.9)), micros_text(l.empty() ? 0 : static_cast<double>(l.back())),
                 fmt::format("{}/{}", side.result.events, side.result.sent));
    }
  }
  for (const auto& s : r.scenarios) {
    if (s.codec) {
      fmt::print("\ncodec: encode {:.1f} ns + decode {:.1f} ns of CPU per event\n", s.codec->encode_ns,
                 s.codec->decode_ns);
    }
  }
  if (!r.targets.empty()) fmt::print("\ntargets\n");
  for (const auto& t : r.targets) fmt::print("  {:<64} {:<7} {}\n", t.name, t.met ? "met" : "MISSED", t.measured);
}

}  // namespace horizons::kafka_bench
