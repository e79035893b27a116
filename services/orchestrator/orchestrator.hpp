// The orchestrator: takes job submissions and drives each job through the
// status machine against the simulated TACC scheduler (scheduler.hpp).
//
//   horizons::orchestrator::options options{.service = {.config = config, .data_dir = "horizons-data"},
//                                           .http_listen = "127.0.0.1:8070"};
//   auto done = horizons::orchestrator::run(options, stop_token);   // until stop
//
// Submissions arrive as `job.submitted` records on job-lifecycle (from
// `horizons submit`, from POST /jobs, or from any producer), consumed in the
// group `job-processor`. For each job the orchestrator publishes, through its
// outbox, every `job.status.changed` (each checked against the status
// machine), `job.completed` / `job.failed` / `job.cancelled`, the running
// job's `job.metrics.recorded` samples, `resource.allocation.changed` when it
// first runs and when it ends, and one `audit.job.lifecycle` per transition.
// Jobs live in <data_dir>/orchestrator/state.db: a restarted orchestrator
// carries on where the last one stopped. Several orchestrators may share that
// data dir (scale-out): each step of a job is a compare-and-set in one
// transaction, so exactly one of them takes it.
//
// HTTP (when http_listen is set): POST /jobs with a JSON submission → 202
// {"job_id", "event_id"} once Kafka acknowledged the job.submitted record;
// GET /jobs/<job_id> → the job's state.
#pragma once

#include <expected>
#include <stop_token>
#include <string>
#include <string_view>

#include <horizons/events.hpp>

#include "services/common/service_host.hpp"
#include "services/orchestrator/scheduler.hpp"

namespace horizons::orchestrator {

inline constexpr std::string_view service_name = "orchestrator";

struct options {
  services::service_options service{};
  simulation sim{};
  /// host:port for the HTTP API; empty: none.
  std::string http_listen{};
};

/// Runs the orchestrator until `stop`; an error names what could not start or go on.
[[nodiscard]] std::expected<void, std::string> run(const options& opts, std::stop_token stop);

/// A submission as JSON, e.g. {"job_name": "m87-cal", "pipeline": "alpha_cal", "tacc_system": "frontera",
/// "dataset_id": "ds-1", "resources": {"nodes": 4, ...}, "user_id": "alice"}. Missing "job_id" gets a fresh
/// one; enum names are accepted in any case. The error names the bad field and what was expected.
[[nodiscard]] std::expected<event<job_submitted>, std::string> submission_from_json(std::string_view json,
                                                                                   std::string_view default_user = "");

}  // namespace horizons::orchestrator
