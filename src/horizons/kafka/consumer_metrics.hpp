// A consumer's Prometheus instruments (include/horizons/metrics.hpp lists them), fed by its
// polling thread. Observations are kept here, without locks, and added to the process registry by
// flush() at the end of each poll(), so recording one costs a few additions.
//
//   detail::consumer_metrics metrics("job-processor");
//   metrics.latency(topic_id::job_lifecycle, 0.004);       // per handled record
//   metrics.handler_call(payload_index<job_submitted>, 0.00002);
//   metrics.flush(client);                                  // end of poll(): add, refresh lag gauges
//
// Threads: one object per consumer, used from its polling thread alone (flush() too).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <horizons/events.hpp>
#include <horizons/metrics.hpp>
#include <horizons/timestamp.hpp>

#include "rdkafka.hpp"

namespace horizons::detail {

class consumer_metrics {
 public:
  explicit consumer_metrics(std::string group);
  ~consumer_metrics();  ///< removes its partition gauges
  consumer_metrics(const consumer_metrics&) = delete;
  consumer_metrics& operator=(const consumer_metrics&) = delete;

  /// Seconds from `produced` (wall clock) to `at` (a steady-clock reading since the last flush): the
  /// wall clock is read once per flush, not per record.
  [[nodiscard]] double seconds_between(timestamp produced, std::chrono::steady_clock::time_point at) const {
    return std::chrono::duration<double>(wall_anchor_ + (at - steady_anchor_) - produced).count();
  }
  /// A record of `topic` starts being handled `seconds` after it was produced.
  /// A record from a host whose clock is ahead counts as 0.
  void latency(topic_id topic, double seconds) {
    latency_[static_cast<std::size_t>(topic)].observe(seconds > 0 ? seconds : 0);
  }
  /// One call of the handler of payload `index` (payload_index<P>) took `seconds`.
  void handler_call(std::size_t index, double seconds) { handler_[index].observe(seconds); }
  /// Starts the series of a handler (its retries at 0) and of a topic read (its dead letters at 0),
  /// so that they are exposed before anything happens to them.
  void declare_handler(std::size_t index) { (void)retries_counter(index); }
  void declare_topic(std::string_view topic);
  /// The handler of payload `index` is called again after a failure.
  void retry(std::size_t index);
  /// A record of `topic` went to its DLQ, for `error_class` ("decode", "handler").
  void dead_letter(std::string_view topic, std::string_view error_class);

  /// Adds what was observed since the last flush to the registry; about every second, also sets
  /// the lag gauge of each assigned partition from `client`'s positions and cached high watermarks.
  void flush(rd_kafka_t* client);
  /// Drops the partition gauges (the consumer is closing).
  void forget_partitions();

 private:
  // Per-bucket counts (not cumulative; the last is +Inf) and their sum, since the last flush.
  struct pending_histogram {
    const prometheus::Histogram::BucketBoundaries* bounds = nullptr;
    prometheus::Histogram* target = nullptr;  // created at the first flush that has something
    std::vector<double> counts;
    double sum = 0;
    bool any = false;
    void observe(double value);
    // Adds what is pending to its child of `family`, made with `labels()` at the first flush that has
    // something (so an idle flush builds no labels).
    template <class MakeLabels>
    void add_to_registry(prometheus::Family<prometheus::Histogram>& family, const MakeLabels& labels) {
      if (!any) return;
      if (!target) target = &family.Add(labels(), *bounds);
      target->ObserveMultiple(counts, sum);
      std::fill(counts.begin(), counts.end(), 0.0);
      sum = 0;
      any = false;
    }
  };
  void refresh_lag(rd_kafka_t* client);
  prometheus::Counter& retries_counter(std::size_t index);
  prometheus::Counter& dead_letters_counter(std::string_view topic, std::string_view error_class);

  std::string group_;
  prometheus::Family<prometheus::Histogram>& latency_family_;
  prometheus::Family<prometheus::Histogram>& handler_family_;
  prometheus::Family<prometheus::Counter>& retries_family_;
  prometheus::Family<prometheus::Counter>& dead_letters_family_;
  prometheus::Family<prometheus::Gauge>& lag_family_;
  std::array<pending_histogram, topic_count> latency_;
  std::array<pending_histogram, payload_count> handler_;
  std::array<prometheus::Counter*, payload_count> retries_{};
  std::map<std::pair<std::string, std::string>, prometheus::Counter*> dead_letters_;
  std::map<std::pair<std::string, std::int32_t>, prometheus::Gauge*> lag_;
  std::chrono::steady_clock::time_point next_lag_refresh_{};
  std::chrono::system_clock::time_point wall_anchor_ = std::chrono::system_clock::now();
  std::chrono::steady_clock::time_point steady_anchor_ = std::chrono::steady_clock::now();
};

}  // namespace horizons::detail
