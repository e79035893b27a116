// The whole platform in one call, as a test of itself: `horizons run`.
//
//   horizons::platform::options options{.jobs = 1000};        // no brokers: the embedded cluster
//   auto report = horizons::platform::run(options, stop_token);
//   fmt::print("{}", report->text());
//
// It starts the embedded 3-broker cluster when no brokers are configured,
// ensures the topics, starts the services in `services` (registry.hpp) on threads of
// this process (the others are expected to run elsewhere on the same
// cluster and data dir, e.g. `horizons serve ...`), submits a simulated
// workload, and watches every topic with its own reader — an observer that
// shares nothing with the services — until every submitted job has ended
// and all its consequences were seen: a notification per ended job, a
// performance summary per job that ran, every audit record in the ledger.
// The report is computed from what the observer read and from what the
// services recorded as delivered: lost = delivered but never read;
// duplicated = one source with two effects. What the services hold is asked
// of them (services::delivered_between, ledger::contains,
// notification_dispatcher::webhooks_pending), never read from their tables.
// This is the test oracle; what runs a service in production is registry.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <horizons/config.hpp>

#include "services/common/service_descriptor.hpp"
#include "services/common/sql/sql.hpp"
#include "services/descriptors.hpp"
#include "services/health_monitor/http_endpoint.hpp"
#include "services/orchestrator/scheduler.hpp"

namespace horizons::platform {

struct progress {
  int jobs_submitted = 0;
  int jobs_total = 0;
  int jobs_ended = 0;
  std::map<std::string, int> jobs_by_state;  // the latest status of each job
  std::uint64_t events = 0;
  double events_per_s = 0;
  std::chrono::duration<double> elapsed{};
};

struct latency_summary {
  std::uint64_t count = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
};

/// A topic's schema as the run's registry holds it.
struct registered_subject {
  std::string subject;
  int id = 0;
  int version = 0;
};

struct report {
  std::string cluster;                       // "embedded (3 brokers)" or the bootstrap list
  std::string registry;                      // the schema registry's URL ("" without one)
  std::vector<registered_subject> subjects;  // this build's schemas in it
  int jobs_submitted = 0;
  std::string job_prefix;  // every job id of this run starts with it
  bool complete = false;   // every job ended and every consequence was seen before the deadline
  std::string incomplete_reason;
  std::chrono::duration<double> duration{};
  /// From the first submission until every job had ended and every consequence was read (checked every
  /// 0.5 s): the time the platform took for the workload, without the setup.
  std::chrono::duration<double> workload_duration{};
  std::map<std::string, int> jobs_by_final_state;
  std::map<std::string, std::uint64_t> events_per_topic;
  std::map<std::string, latency_summary> latency_per_topic;  // produced-at header -> observer
  std::map<std::string, std::int64_t> lag_per_group;         // after the services stopped
  std::uint64_t dead_lettered = 0;                           // records in the .dlq topics
  int jobs_that_ran = 0;
  int summaries = 0;
  int summaries_matching_samples = 0;  // summaries equal to the observer's own fold of the samples
  int notifications_for_ended_jobs = 0;
  std::int64_t audit_events = 0;
  std::int64_t ledger_entries = 0;
  std::int64_t audit_events_missing_from_ledger = 0;
  bool ledger_verified = false;
  std::string ledger_detail;
  std::uint64_t delivered = 0;          // events the services (and the workload) saw acknowledged
  std::uint64_t lost = 0;               // acknowledged, never read
  std::uint64_t duplicate_records = 0;  // the same event id read twice (a republished outbox row)
  /// A source with two notifications, a job with two summaries, a status change that does not start
  /// from the job's status before it (a step taken twice), ...
  std::uint64_t duplicated_effects = 0;

  [[nodiscard]] bool ok() const {
    return complete && lost == 0 && duplicated_effects == 0 && ledger_verified &&
           audit_events_missing_from_ledger == 0 && summaries_matching_samples == summaries;
  }
  [[nodiscard]] std::string text() const;
  [[nodiscard]] std::string json() const;
};

struct options {
  client_config config{};  // empty brokers: start the embedded cluster
  std::filesystem::path data_dir{"horizons-data"};
  /// Where the services keep their state (`--state`); none: SQLite in data_dir.
  std::optional<sql::location> state{};
  int jobs = 300;
  double submit_rate = 200;  // jobs per second
  orchestrator::simulation sim{};
  /// The orchestrator's scheduler; with slurm the workload's jobs are sized to fit a small cluster.
  orchestrator::scheduler_options scheduling{};
  /// Run in this process (each a descriptor of services::platform_services); the others run elsewhere.
  std::vector<const services::service_descriptor*> services{services::platform_services.begin(),
                                                            services::platform_services.end()};
  /// Instances of each of `services` in this process, sharing their groups and their state (the health
  /// monitors take turns: one evaluates).
  int instances = 1;
  std::string webhook_url{};
  std::string health_listen{"127.0.0.1:0"};  // the health monitor's HTTP address
  /// The health monitor publishes to this endpoint (the dashboard, started and kept by the caller, so
  /// that it can be shown before the run and after the report) instead of starting one at health_listen.
  std::shared_ptr<health_monitor::http_endpoint> dashboard{};
  std::chrono::seconds timeout{600};
  std::uint64_t seed = 1;
  std::function<void(const progress&)> on_progress{};
};

[[nodiscard]] std::expected<report, std::string> run(const options& opts, std::stop_token stop);

}  // namespace horizons::platform
