// The bench's results and how they are shown: progress lines on stderr, the report as text or JSON on
// stdout, and the targets the run is judged by.
//
//   progress bar("consume raw", total, consumed, ctx.tty);   ...   bar.finish(throughput_text(r));
//   report r{.scenarios = ...};
//   r.targets = check_targets(r);
//   fmt::print("{}\n", report_json(r, ctx).dump(2));
//
// A throughput or e2e scenario holds one outcome per side, named by a side_name: "horizons" (the typed
// API), "raw" (raw librdkafka, no decode) and, for consume, "raw_avro_c" (raw librdkafka plus avro-c's
// generic decode). Ratios are events/s of one side over another's. Everything here runs on the
// bench's own thread except progress's redraw thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "context.hpp"

namespace horizons::kafka_bench {

/// A side's key in the JSON report and its label for people.
struct side_name {
  std::string_view key;
  std::string_view label;
};
inline constexpr side_name horizons_side{"horizons", "Horizons"};
inline constexpr side_name horizons_view_side{"horizons_view", "Horizons view"};
inline constexpr side_name raw_side{"raw", "raw librdkafka"};
inline constexpr side_name raw_avro_c_side{"raw_avro_c", "raw+avro-c"};
inline constexpr side_name raw_batched_side{"raw_batched", "raw librdkafka, batched"};

struct side_outcome {
  side_name name;
  side_result result{};        // produce/consume: the fastest run; e2e: every run merged
  std::vector<double> runs{};  // produce/consume: events/s of every repetition
};

struct scenario_result {
  std::string name;
  int rate = 0;                       // e2e
  std::vector<side_outcome> sides{};  // raw first
  std::optional<codec_result> codec{};

  [[nodiscard]] const side_outcome* find(std::string_view key) const;
  /// The side named `key`; the scenario must have it.
  [[nodiscard]] const side_result& side(std::string_view key) const;
  [[nodiscard]] side_result& side(std::string_view key);
  /// events/s of side `numerator` over side `denominator` (0 when either is missing or idle).
  [[nodiscard]] double ratio(std::string_view numerator, std::string_view denominator) const;
  /// The same over the median events/s of each side's runs: what a target is judged on.
  [[nodiscard]] double median_ratio(std::string_view numerator, std::string_view denominator) const;
  /// Horizons over raw, the ratio every target is about.
  [[nodiscard]] double ratio() const { return ratio(horizons_side.key, raw_side.key); }
};

struct target_check {
  std::string name;
  std::string measured;
  bool met = false;
};

struct report {
  std::vector<scenario_result> scenarios;
  std::vector<target_check> targets;
};

// ------------------------------------------------------------------- progress on stderr

/// One phase's progress: a bar redrawn every 200 ms when stderr is a terminal, then one result line
/// (the only output when it is not). Never writes to stdout, which may carry --json.
class progress {
 public:
  progress(std::string label, std::uint64_t total, const std::atomic<std::uint64_t>& done, bool tty);
  ~progress() { stop(); }
  progress(const progress&) = delete;
  progress& operator=(const progress&) = delete;

  void finish(std::string_view result);

 private:
  void stop();
  std::string label_;
  bool drawn_ = false;
  std::jthread drawer_;
};

/// 1234567 -> "1.23 M", 51234 -> "51.2 k".
[[nodiscard]] std::string magnitude(double value);
/// 1500 -> "1.50 ms".
[[nodiscard]] std::string micros_text(double us);
[[nodiscard]] std::string throughput_text(const side_result& r);
[[nodiscard]] std::string latency_text(const side_result& r);

// ------------------------------------------------------------------- figures

/// Nearest-rank percentile of sorted samples.
[[nodiscard]] double percentile(const std::vector<std::int64_t>& sorted, double percent);
/// HdrHistogram-style percentile curve: points spaced evenly in log10(1 / (1 - p)), up to the maximum.
[[nodiscard]] std::vector<std::pair<double, double>> percentile_curve(const std::vector<std::int64_t>& sorted);
/// Adds a second e2e run of the same side and rate.
void merge_e2e(side_result& into, side_result run, const bench_context& ctx);
[[nodiscard]] double rounded(double value, int decimals = 3);

// ------------------------------------------------------------------- the report

[[nodiscard]] std::vector<target_check> check_targets(const report& r);
[[nodiscard]] nlohmann::ordered_json report_json(const report& r, const bench_context& ctx);
void print_report(const report& r, const bench_context& ctx);

}  // namespace horizons::kafka_bench
