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
#include <vector>

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

/// The platform-scale scenario: the platform's capacity (jobs and events per second from the first
/// submission until every consequence was read) with its state on SQLite and on PostgreSQL, with one and
/// with more instances of every service, the configurations taking turns run by run. Jobs are offered
/// faster than the platform takes them and run in simulated milliseconds, so the runs measure the
/// services and their state, not the simulated scheduler.
struct platform_scale_workload {
  int jobs = 1'000;
  double rate = 1'000;          // jobs offered per second
  double time_scale = 360'000;  // simulated seconds per second: a two-hour job runs in 20 ms
  /// A PostgreSQL server ("postgresql://user@host:port/db"); each run gets a database of its own there,
  /// created and dropped (the user needs CREATEDB). Empty: SQLite only.
  std::string postgres{};
  int max_instances = 2;  // runs with 1, 2, ... this many instances of every service
};

struct platform_scale_result {
  std::string store;  // "sqlite" or "postgresql"
  int instances = 1;
  std::vector<double> jobs_per_s;    // one per run
  std::vector<double> events_per_s;  // events every topic carried in the workload's time
};

/// The results as a table (median and range of each configuration, and its ratio to SQLite with one
/// instance) on stdout, or as JSON.
void print_platform_scale(const std::vector<platform_scale_result>& results, const platform_scale_workload& workload,
                          bool json);

/// `repeat` rounds; in each, every configuration runs once. Errors: a run that did not complete, lost or
/// duplicated something, or a PostgreSQL server that refuses a new database.
[[nodiscard]] std::expected<std::vector<platform_scale_result>, std::string> run_platform_scale(
    const client_config& config, const platform_scale_workload& workload, int repeat, std::stop_token stop);

}  // namespace horizons::kafka_bench
