// What the health monitor's own reader sees on the topics between two
// evaluations: events per second and end-to-end latency per topic (from the
// `produced-at` header every Horizons producer sets to the moment the monitor
// read the record), and the records in each dead-letter topic.
//
//   traffic_meter meter({"job-lifecycle", "job-metrics"});
//   meter.record("job-lifecycle", produced_at, horizons::now());   // the reader's thread, per record
//   meter.dead_letter("job-metrics.dlq");
//   auto interval = meter.take(steady_clock::now());                // the evaluating thread
//   // interval.topics[0] = {.topic = "job-lifecycle", .events_total = 1, .events_per_s = ..., .p99_ms = ...}
//
// take() reports every topic named at construction (and any other recorded),
// in that order, each with the events since the previous take() divided by
// the time since it, and the latency percentiles of those events (zero and
// `latency_samples` 0 when none came). Latency is kept for at most
// `max_samples` records per topic and interval (the count goes on).
// Threads: record(), dead_letter() and take() from any threads (a mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <horizons/timestamp.hpp>

namespace horizons::health_monitor {

struct topic_traffic {
  std::string topic{};
  std::uint64_t events_total = 0;  // since the reader started
  double events_per_s = 0;         // over the last interval
  std::uint64_t latency_samples = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
};

struct traffic_interval {
  std::vector<topic_traffic> topics{};
  std::map<std::string, std::uint64_t> dead_letters{};  // per .dlq topic read: its records
};

class traffic_meter {
 public:
  explicit traffic_meter(std::vector<std::string> topics, std::size_t max_samples = 65'536);

  /// One record of `topic` read at `read_at`; without a produced-at header it counts but has no latency.
  void record(std::string_view topic, std::optional<timestamp> produced_at, timestamp read_at);
  /// One record of a dead-letter topic.
  void dead_letter(std::string_view dlq_topic);
  /// Reports `dlq_topic` from now on, with 0 records until dead_letter() counts one.
  void watch_dead_letters(std::string_view dlq_topic);
  /// Forgets the dead letters counted (the reader starts again from the beginning).
  void reset_dead_letters();
  /// What came since the previous take() (or construction).
  [[nodiscard]] traffic_interval take(std::chrono::steady_clock::time_point now);

 private:
  struct per_topic {
    std::uint64_t total = 0;
    std::uint64_t interval = 0;
    std::vector<double> latencies_ms{};
  };
  per_topic& of(std::string_view topic);

  std::mutex mutex_;
  std::vector<std::string> order_;
  std::map<std::string, per_topic, std::less<>> topics_;
  std::map<std::string, std::uint64_t, std::less<>> dead_letters_;
  std::size_t max_samples_;
  std::chrono::steady_clock::time_point since_;
};

/// The produced-at header's value (microseconds since the epoch, decimal) as a time; nullopt if malformed.
[[nodiscard]] std::optional<timestamp> parse_produced_at(std::string_view header_value);

}  // namespace horizons::health_monitor
