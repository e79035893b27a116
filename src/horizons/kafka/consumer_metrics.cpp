#include "consumer_metrics.hpp"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>

namespace horizons::detail {
namespace {

// The partition gauges of every consumer of the process, counted by holder: two consumers of one
// group in a process (a restart, a rebalance between instances) get the same gauge from the family,
// and it may be removed only when neither holds it any more.
class shared_gauges {
 public:
  prometheus::Gauge& hold(prometheus::Family<prometheus::Gauge>& family, const prometheus::Labels& labels) {
    std::lock_guard lock(mutex_);
    auto& gauge = family.Add(labels);
    ++holders_[&gauge];
    return gauge;
  }
  void release(prometheus::Family<prometheus::Gauge>& family, prometheus::Gauge* gauge) {
    std::lock_guard lock(mutex_);
    auto found = holders_.find(gauge);
    if (found == holders_.end() || --found->second > 0) return;
    holders_.erase(found);
    family.Remove(gauge);
  }

 private:
  std::mutex mutex_;
  std::map<prometheus::Gauge*, int> holders_;
};

shared_gauges& partition_gauges() {
  static shared_gauges gauges;
  return gauges;
}

}  // namespace

consumer_metrics::consumer_metrics(std::string group)
    : group_(std::move(group)),
      latency_family_(prometheus::BuildHistogram()
                          .Name("horizons_event_latency_seconds")
                          .Help("From a record's production (its CreateTime, which Horizons' producer takes from its "
                                "produced-at header's clock reading) to the start of its handling, per consumer "
                                "group and topic.")
                          .Register(metrics::registry())),
      handler_family_(prometheus::BuildHistogram()
                          .Name("horizons_handler_duration_seconds")
                          .Help("Time spent in one call of a handler, per consumer group and event type.")
                          .Register(metrics::registry())),
      retries_family_(prometheus::BuildCounter()
                          .Name("horizons_handler_retries_total")
                          .Help("Handler calls repeated after a failure, per consumer group and event type.")
                          .Register(metrics::registry())),
      dead_letters_family_(prometheus::BuildCounter()
                               .Name("horizons_dead_letters_total")
                               .Help("Records written to a dead-letter topic, per consumer group, source topic and "
                                     "error class (decode, handler).")
                               .Register(metrics::registry())),
      lag_family_(prometheus::BuildGauge()
                      .Name("horizons_consumer_partition_lag_messages")
                      .Help("Records on an assigned partition the consumer has not read yet (high watermark minus "
                            "position), per consumer group, topic and partition.")
                      .Register(metrics::registry())) {
  for (auto& h : latency_) h.bounds = &metrics::latency_buckets();
  for (auto& h : handler_) h.bounds = &metrics::duration_buckets();
}

consumer_metrics::~consumer_metrics() { forget_partitions(); }

void consumer_metrics::pending_histogram::observe(double value) {
  if (counts.empty()) counts.assign(bounds->size() + 1, 0.0);
  // Prometheus buckets are "less than or equal": the first bound not below the value.
  auto bucket = std::lower_bound(bounds->begin(), bounds->end(), value) - bounds->begin();
  counts[static_cast<std::size_t>(bucket)] += 1;
  sum += value;
  any = true;
}

prometheus::Counter& consumer_metrics::retries_counter(std::size_t index) {
  auto& counter = retries_[index];
  if (!counter)
    counter = &retries_family_.Add({{"group", group_}, {"event_type", std::string(all_event_types[index])}});
  return *counter;
}

prometheus::Counter& consumer_metrics::dead_letters_counter(std::string_view topic, std::string_view error_class) {
  auto key = std::pair(std::string(topic), std::string(error_class));
  auto found = dead_letters_.find(key);
  if (found == dead_letters_.end()) {
    auto& counter = dead_letters_family_.Add({{"group", group_}, {"topic", key.first}, {"error_class", key.second}});
    found = dead_letters_.emplace(std::move(key), &counter).first;
  }
  return *found->second;
}

void consumer_metrics::retry(std::size_t index) { retries_counter(index).Increment(); }

void consumer_metrics::declare_topic(std::string_view topic) {
  for (auto error_class : {"decode", "handler"}) (void)dead_letters_counter(topic, error_class);
}

void consumer_metrics::dead_letter(std::string_view topic, std::string_view error_class) {
  dead_letters_counter(topic, error_class).Increment();
}

void consumer_metrics::flush(rd_kafka_t* client) {
  for (std::size_t t = 0; t < topic_count; ++t) {
    latency_[t].add_to_registry(latency_family_, [&] {
      return prometheus::Labels{{"group", group_}, {"topic", std::string(topic_name(static_cast<topic_id>(t)))}};
    });
  }
  for (std::size_t i = 0; i < payload_count; ++i) {
    handler_[i].add_to_registry(handler_family_, [&] {
      return prometheus::Labels{{"group", group_}, {"event_type", std::string(all_event_types[i])}};
    });
  }
  auto now = std::chrono::steady_clock::now();
  wall_anchor_ = std::chrono::system_clock::now();
  steady_anchor_ = now;
  if (now < next_lag_refresh_) return;
  next_lag_refresh_ = now + std::chrono::seconds(1);
  refresh_lag(client);
}

void consumer_metrics::refresh_lag(rd_kafka_t* client) {
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(client, &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  partition_list_ptr assigned(raw);
  // Positions come from the consumer's own fetch state and the high watermarks from its last fetch
  // responses: no request to a broker.
  rd_kafka_position(client, assigned.get());
  std::map<std::pair<std::string, std::int32_t>, prometheus::Gauge*> seen;
  for (int i = 0; i < assigned->cnt; ++i) {
    const auto& p = assigned->elems[i];
    std::int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(client, p.topic, p.partition, &low, &high) || high < 0) {
      continue;  // no fetch answered yet: the lag is not known
    }
    // No position until a record is read: known only when the partition is empty.
    auto position = p.offset >= 0 ? p.offset : high == low ? high : -1;
    if (position < 0) continue;
    auto key = std::pair(std::string(p.topic), p.partition);
    auto found = lag_.find(key);
    auto* gauge = found != lag_.end()
                      ? found->second
                      : &partition_gauges().hold(
                            lag_family_,
                            {{"group", group_}, {"topic", key.first}, {"partition", fmt::format("{}", p.partition)}});
    gauge->Set(static_cast<double>(std::max<std::int64_t>(high - position, 0)));
    seen.emplace(std::move(key), gauge);
  }
  for (auto& [key, gauge] : lag_) {
    if (!seen.contains(key)) partition_gauges().release(lag_family_, gauge);
  }
  lag_ = std::move(seen);
}

void consumer_metrics::forget_partitions() {
  for (auto& [key, gauge] : lag_) partition_gauges().release(lag_family_, gauge);
  lag_.clear();
}

}  // namespace horizons::detail
