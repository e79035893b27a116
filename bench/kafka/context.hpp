// What every part of one bench run shares: the options, the client configuration, the topic, the
// pre-encoded events both sides send, the CPU meter, and the results a side returns.
//
//   bench_context ctx{.options = options, .config = config, ...};
//   side_result r{.events = n};
//   finish_throughput(r, ctx, elapsed, cpu_ns);
//
// One bench_context per run, owned by the thread that calls kafka_bench::run(); the sides read it
// from their own threads while the run waits for them.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include <horizons/catalogue.hpp>
#include <horizons/config.hpp>
#include <horizons/uuid.hpp>

#include "cpu_meter.hpp"
#include "kafka_bench.hpp"

namespace horizons::kafka_bench {

using steady = std::chrono::steady_clock;

// Events sent at each e2e rate before measuring: clients connect, the consumer finds its offsets.
inline constexpr std::chrono::seconds e2e_warmup{1};
// Distinct events cycled through: keys spread over every partition.
inline constexpr std::size_t pool_size = 1'024;

// One pre-encoded event: exactly what both sides put on the wire.
struct wire_event {
  std::string value;  // framed Avro
  std::optional<std::string> key;
  std::string_view event_type;
  std::array<char, uuid::text_size> event_id{};
  std::array<char, uuid::text_size> correlation_id{};
  std::optional<std::string> traceparent;
};

struct side_result {
  std::uint64_t events = 0;  // records produced or consumed (e2e: measured records received)
  double seconds = 0;
  double events_per_s = 0;
  double mb_per_s = 0;
  std::optional<double> cpu_ns_per_event{};  // the client's CPU (embedded cluster excluded)
  std::uint64_t sent = 0;                    // e2e: measured records sent
  std::vector<std::int64_t> latencies_us{};  // e2e: sorted
};

struct codec_result {
  double encode_ns = 0;
  double decode_ns = 0;
};

struct bench_context {
  const bench_options& options;
  client_config config;
  std::string cluster;  // "embedded (3 brokers)" or the broker list
  topic_id topic;
  std::string topic_name;
  int partitions = 0;
  std::vector<wire_event> wire{};
  double mean_bytes = 0;
  cpu_meter cpu{};
  std::stop_token stop{};
  bool tty = false;
  bool embedded = false;
  double load_at_start = 0;
  std::uint64_t consume_events = 0;  // what the topic holds, up to --events (the mock keeps 5 MB a partition)

  // The raw side's clients: the same configuration under their own client id, told apart in broker logs.
  [[nodiscard]] client_config raw_config(const client_config& base) const {
    auto raw = base;
    raw.client_id += "-bench-raw";
    return raw;
  }
  // The mock broker holds an empty Fetch response for the whole fetch wait (500 ms by default) even when
  // records arrive meanwhile, which would swamp every latency: unless told otherwise, both sides' e2e
  // consumers wait 1 ms there. A real broker answers as soon as records arrive.
  [[nodiscard]] client_config e2e_consumer_config() const {
    auto consumer_config = config;
    if (embedded && config.fetch_wait == client_config{}.fetch_wait)
      consumer_config.fetch_wait = std::chrono::milliseconds{1};
    return consumer_config;
  }
  [[nodiscard]] compression codec() const { return config.compression_override.value_or(spec(topic).compression_type); }
  [[nodiscard]] double megabytes(std::uint64_t events) const { return static_cast<double>(events) * mean_bytes / 1e6; }
  // A consumer group of its own per run and purpose: no committed offsets from an earlier run.
  [[nodiscard]] std::string group(std::string_view purpose) const {
    return fmt::format("horizons-bench-{}-{}-{}", purpose, ::getpid(), steady::now().time_since_epoch().count());
  }
};

inline void finish_throughput(side_result& r, const bench_context& ctx, std::chrono::duration<double> elapsed,
                              std::int64_t cpu_ns) {
  r.seconds = elapsed.count();
  r.events_per_s = static_cast<double>(r.events) / r.seconds;
  r.mb_per_s = ctx.megabytes(r.events) / r.seconds;
  if (r.events > 0) r.cpu_ns_per_event = static_cast<double>(cpu_ns) / static_cast<double>(r.events);
}

}  // namespace horizons::kafka_bench
