// The Kafka benchmark behind `horizons bench`: Horizons' typed producer and consumer against raw
// librdkafka writing and reading the very same bytes with the very same client properties, in one
// process run, on the embedded cluster or a real one.
//
//   horizons::kafka_bench::bench_options options{.scenarios = {"consume"}, .events = 200'000};
//   auto ran = horizons::kafka_bench::run(config, options, stop_token);   // prints the report on stdout
//   if (!ran) fmt::print(stderr, "{}\n", ran.error().message);
//
// Scenarios (sides take turns forwards then backwards, raw, Horizons, Horizons, raw, so that drift
// hits every side alike):
//   produce  typed publish() of sampled events vs rd_kafka_producev() of their pre-encoded bytes with the
//            same six headers; first send to last delivery report. Both sides serve delivery reports where
//            bench_options::reports says: on the sending thread (default) or on a thread of their own.
//   consume  the typed consumer (decode into event<Payload>, handler per record) vs rd_kafka_consumer_poll()
//            on assigned partitions (no decode), and vs the same raw loop decoding every record with
//            avro-c's generic API (`raw+avro-c`, what a user would otherwise write); first record to the
//            N-th, group join excluded.
//   e2e      fixed offered rates; latency from each event's scheduled send time to its handler, so a
//            stalled sender shows in the latencies of every event it delayed (no coordinated omission).
//   codec    encode_framed / decode_body ns per event in a tight loop, and its share of the client's CPU.
//   platform the five services, a workload of `platform.jobs` jobs at `platform.rate` jobs/s and an
//            independent reader (platform_scenario.hpp); latency per topic from produced-at to the reader.
//            Not in the default list, and runs alone: its report is the run's (`horizons run`'s).
//
// run() blocks for the whole benchmark on the calling thread (and starts threads of its own); progress
// goes to stderr, the report (text or --json) to stdout. Errors are values: a bad option (`usage`) or
// a failed scenario, named.
#pragma once

#include <cstdint>
#include <expected>
#include <stop_token>
#include <string>
#include <vector>

#include <horizons/config.hpp>
#include <horizons/producer.hpp>

#include "platform_scenario.hpp"

namespace horizons::kafka_bench {

struct bench_options {
  std::vector<std::string> scenarios{"produce", "consume", "e2e", "codec"};
  std::string event_type = "job.submitted";
  std::uint64_t events = 2'000'000;
  double duration_s = 10;
  std::vector<int> rates{1'000, 10'000, 50'000};
  int partitions = 10;
  int repeat = 3;
  bool json = false;
  std::string plot{};  // SVG file to write; empty: none
  platform_workload platform{};
  platform_scale_workload platform_scale{};
  // Where both sides serve delivery reports: after each send on the sending thread (librdkafka's own
  // pattern) or on a thread of their own (Horizons' default).
  std::string reports = "caller";
  [[nodiscard]] delivery_reports reports_mode() const {
    return reports == "thread" ? delivery_reports::on_delivery_thread : delivery_reports::on_caller;
  }
};

/// The scenarios run() knows: the default ones in their order, then "platform".
[[nodiscard]] const std::vector<std::string>& scenario_names();

struct bench_error {
  std::string message;
  enum class kind : std::uint8_t { usage, failed } kind = kind::failed;
};

/// Runs `options.scenarios` against `config.brokers`, or against an embedded 3-broker cluster when
/// that is empty, and writes the report. Stops early (an error "interrupted") when `stop` is requested.
[[nodiscard]] std::expected<void, bench_error> run(const client_config& config, const bench_options& options,
                                                   std::stop_token stop);

}  // namespace horizons::kafka_bench
