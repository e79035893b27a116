// Consumer lag evaluated the way Burrow does it: by the shape of a sliding
// window of observations per partition, not by one fixed threshold.
//
//   horizons::health_monitor::lag_evaluator evaluator({.window_size = 10, .stop_after = std::chrono::minutes(1)});
//   auto report = horizons::consumer_lag(config, {.group = "metrics-aggregator", .topics = {"job-metrics"}});
//   for (const auto& verdict : evaluator.evaluate(*report, horizons::now()))
//     fmt::print("{} on {}: {} ({})\n", verdict.group, verdict.topic, status_name(verdict.status), verdict.reason);
//
// Each (group, topic, partition) keeps its last `window_size` observations:
// when, the committed offset (or none), the high watermark and the lag. The
// rules, first match wins, for the partition's latest state:
//
//   1. error    the measurement failed: the partition's lag could not be read
//               (an error in partition_lag), or the topic was not measured at
//               all (lag_evaluator::failed: the lag query failed, or the
//               monitor found a partition without a reachable leader).
//   2. ok       some observation in the window has lag 0: the consumer was
//               caught up within the window (Burrow's rule 1; it also keeps a
//               slow topic whose consumer simply has not seen its one new
//               record yet from raising an alarm).
//   3. ok       the window is not full yet: too little history to judge.
//   4. stopped  the committed offset is the same in every observation of the
//               window (lag > 0 throughout, by rule 2) and either the group
//               never committed on this partition while records wait, or the
//               offset has not moved for at least `stop_after` (tracked beyond
//               the window: `observation::committed_since`).
//   5. stalled  the committed offset is the same in every observation of the
//               window, for less than `stop_after`: the consumer is not
//               making progress (Burrow's STALL).
//   6. warning  the offset moved within the window, yet the lag never fell
//               from one observation to the next and grew from the first to
//               the last: the consumer works but falls behind (Burrow's
//               WARNING, except that a lag that stays level is fine here —
//               we sample on a timer, so a level lag is a consumer keeping
//               pace, not one losing ground).
//   7. ok       anything else (the lag fell at least once: catching up).
//
// A rewound offset counts as movement. Observations older than the newest
// one of a window are ignored (two monitors sharing a data dir may store
// their measurements out of order). A topic's status is the worst of its
// partitions (ok < warning < stalled < stopped < error) with the reason of
// the first such partition, which names it, and how many more share it.
//
// Threads: a lag_evaluator is a plain value; use it from one thread at a time.
#pragma once

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <horizons/events.hpp>
#include <horizons/health.hpp>
#include <horizons/timestamp.hpp>

namespace horizons::health_monitor {

struct lag_rule_options {
  /// Observations kept per partition; the rules judge only a full window (at least 2).
  std::size_t window_size = 10;
  /// An offset that has not moved for this long while records wait is `stopped`, not `stalled`.
  std::chrono::milliseconds stop_after{60'000};
};

/// One measurement of one partition.
struct observation {
  timestamp time{};
  std::optional<std::int64_t> committed{};  // nullopt: the group has committed nothing here
  std::int64_t high = 0;
  std::int64_t lag = 0;
  /// When the committed offset was first seen at its present value; lag_window::add fills it in.
  timestamp committed_since{};
};

struct partition_ref {
  std::string group{};
  std::string topic{};
  std::int32_t partition = -1;
  friend auto operator<=>(const partition_ref&, const partition_ref&) = default;
};

struct verdict {
  lag_status status = lag_status::ok;
  std::string reason{};
};

/// The last observations of one partition, oldest first.
class lag_window {
 public:
  explicit lag_window(std::size_t capacity) : capacity_(capacity) {}

  /// Appends `seen` (its committed_since is derived from the previous observation) and drops the
  /// oldest beyond capacity. An observation not newer than the newest is ignored.
  void add(observation seen);
  /// Appends an observation as stored earlier, committed_since included.
  void restore(const observation& stored);
  /// Rules 2-7 above; `where` names the partition in the reason ("job-metrics[3]").
  [[nodiscard]] verdict evaluate(const lag_rule_options& options, std::string_view where) const;

  [[nodiscard]] const std::deque<observation>& observations() const { return observations_; }
  [[nodiscard]] bool full() const { return observations_.size() >= capacity_; }

 private:
  std::size_t capacity_;
  std::deque<observation> observations_;
};

/// The verdict on one group's consumption of one topic.
struct topic_verdict {
  std::string group{};
  std::string topic{};
  lag_status status = lag_status::ok;
  std::int64_t lag_messages = 0;  // sum over the partitions
  double lag_seconds = 0;         // maximum over the partitions
  std::string reason{};           // the worst partition's, naming it (+ "and N more"); a summary when ok
};

class lag_evaluator {
 public:
  explicit lag_evaluator(lag_rule_options options = {}) : options_(options) {}

  /// Adds what `report` measured (at `time`) to each partition's window and judges every topic of
  /// the report. A partition with an error is `error` and adds nothing to its window.
  [[nodiscard]] std::vector<topic_verdict> evaluate(const lag_report& report, timestamp time);
  /// The verdicts when the lag query of `group` on `topics` failed as a whole: every topic is `error`.
  [[nodiscard]] static std::vector<topic_verdict> failed(const std::string& group,
                                                         const std::vector<std::string>& topics,
                                                         std::string_view error);

  /// Puts back a window stored earlier (observations oldest first).
  void restore(const partition_ref& partition, const std::vector<observation>& stored);
  [[nodiscard]] const std::map<partition_ref, lag_window>& windows() const { return windows_; }
  [[nodiscard]] const lag_rule_options& options() const { return options_; }

 private:
  lag_window& window_of(const partition_ref& partition);
  lag_rule_options options_;
  std::map<partition_ref, lag_window> windows_;
};

/// How bad a status is: ok 0 < warning < stalled < stopped < error 4.
[[nodiscard]] int severity_rank(lag_status status);
/// "ok", "warning", "stalled", "stopped", "error": the lower-case names /healthz and /metrics use.
[[nodiscard]] std::string_view status_name(lag_status status);

}  // namespace horizons::health_monitor
