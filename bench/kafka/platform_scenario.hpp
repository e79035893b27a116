// The platform scenario of `horizons bench`: the whole platform (`horizons run`'s harness: the five
// services, a simulated workload, an independent reader) at a fixed offered rate, measured the same way
// every time. Its result is the run's report: the latency per topic from each record's produced-at
// header to the reader, and the run's own checks (nothing lost or duplicated).
//
//   auto report = horizons::kafka_bench::run_platform(config, {.jobs = 300, .rate = 200}, stop_token);
//   if (report) fmt::print("{}", report->text());
//
// Blocks the calling thread for the run (the services run on threads of their own). The services keep
// their state in a fresh temporary folder, removed afterwards. Errors are values: a run that could not
// start or did not complete (its reason), or a run that lost or duplicated events.
#pragma once

#include <expected>
#include <stop_token>
#include <string>

#include <horizons/config.hpp>

#include "services/platform/run_harness.hpp"

namespace horizons::kafka_bench {

struct platform_workload {
  int jobs = 300;
  double rate = 200;  // jobs submitted per second
  /// On a real cluster, a run of this many jobs (same rate) comes first and is not measured: a cluster
  /// just started pays once for its JVMs' compilation, its first producer ids and its group coordinators.
  /// The embedded cluster is new for every run, so it is not warmed.
  int warmup_jobs = 100;
};

/// Runs the platform on `config.brokers` (the embedded cluster when empty) with `workload`, after the
/// warm-up run on a real cluster. Errors of the warm-up run say so.
[[nodiscard]] std::expected<platform::report, std::string> run_platform(const client_config& config,
                                                                        const platform_workload& workload,
                                                                        std::stop_token stop);

}  // namespace horizons::kafka_bench
