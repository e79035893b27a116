// The orchestrator: takes job submissions and drives each job through the
// status machine against the simulated TACC scheduler (scheduler.hpp) or,
// with `.scheduler = scheduler_kind::slurm`, as real batch jobs on Slurm
// (slurm.hpp, batch_job.hpp).
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
// HTTP (when http_listen is set, http_api.hpp), for callers with a bearer
// token: POST /jobs with a JSON submission (submission.hpp) → 202
// {"job_id", "event_id"} once Kafka acknowledged the job.submitted record;
// GET /jobs/<job_id> → the job's state; POST /jobs/<job_id>/cancel → 202
// once the request is recorded.
//
// Inside: job_store.hpp (the jobs table), engine.hpp (the steps of a job),
// http_api.hpp, submission.hpp; run() wires them on a service_host.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <expected>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include <horizons/events.hpp>

#include "services/common/bearer_tokens.hpp"
#include "services/common/http_listener.hpp"
#include "services/common/service_descriptor.hpp"
#include "services/common/service_host.hpp"
#include "services/orchestrator/batch_job.hpp"
#include "services/orchestrator/scheduler.hpp"
#include "services/orchestrator/slurm.hpp"
#include "services/orchestrator/submission.hpp"

namespace horizons::orchestrator {

namespace detail {
inline constexpr std::array topics{topic_id::job_lifecycle};
inline constexpr std::array handles{payload_traits<job_submitted>::event_type};
inline constexpr std::array routes{
    services::http_route{
        .method = "POST", .path = "/jobs", .what = "submit a job (JSON, bearer token); 202 once Kafka acknowledged it"},
    services::http_route{.method = "GET",
                         .path = "/jobs/<job_id>",
                         .what = "the job's status, attempt and whether it finished (its submitter or an admin)"},
    services::http_route{.method = "POST",
                         .path = "/jobs/<job_id>/cancel",
                         .what = "ask to cancel a job (its submitter or an admin); 202 once recorded"},
    services::http_route{
        .method = "GET", .path = "/metrics", .what = "the process's metrics in Prometheus text format"},
};
}  // namespace detail

/// Reads job-lifecycle in the group `job-processor` (the topic's catalogue group); handles job.submitted.
inline constexpr services::service_descriptor descriptor{.name = "orchestrator",
                                                         .group = "job-processor",
                                                         .topics = detail::topics,
                                                         .handles = detail::handles,
                                                         .routes = detail::routes};

enum class scheduler_kind : std::uint8_t { simulation, slurm };

/// "simulation" | "slurm" (as --scheduler and HORIZONS_SCHEDULER take it); an error names the choices.
[[nodiscard]] std::expected<scheduler_kind, std::string> parse_scheduler(std::string_view name);

/// The pipeline scripts shipped with this source tree (services/orchestrator/pipelines).
[[nodiscard]] std::filesystem::path default_pipelines_dir();

/// Which scheduler runs the jobs, and how to reach a real one.
struct scheduler_options {
  scheduler_kind kind = scheduler_kind::simulation;
  slurm_settings slurm{};
  /// With slurm: the scripts, partitions and intervals. An empty pipelines_dir means
  /// default_pipelines_dir(); an empty jobs_dir <data_dir>/orchestrator/jobs; `system` is set by run().
  batch_settings batch{};
};

struct options {
  services::service_options service{};
  /// The simulation's knobs; its max_retries also bounds a real job's retries.
  simulation sim{};
  scheduler_options scheduling{};
  /// host:port for the HTTP API; empty: none.
  std::string http_listen{};
  /// The key the HTTP API checks tokens with; without a key, token_keys::for_checking() (the environment).
  services::token_keys api_auth{};
  /// The HTTP API's certificate and key (HTTPS); without them, tls_files::from_environment()
  /// (HORIZONS_HTTP_TLS_CERT, HORIZONS_HTTP_TLS_KEY), and plain HTTP when those are not set either.
  std::optional<services::tls_files> api_tls{};
};

/// Runs the orchestrator until `stop`; an error names what could not start or go on.
[[nodiscard]] std::expected<void, std::string> run(const options& opts, std::stop_token stop);

}  // namespace horizons::orchestrator
