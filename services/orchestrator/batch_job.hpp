// A job as a real batch job: what the engine sends to its batch system
// (batch_system.hpp) and what it reads back from the job's output.
//
//   orchestrator::batch_settings batch{.system = &slurm, .pipelines_dir = "services/orchestrator/pipelines",
//                                      .jobs_dir = "horizons-data/orchestrator/jobs"};
//   auto request = batch_request_for(batch, submitted, /*attempt=*/0);   // script, resources, partition
//   auto sample = metrics_from_output(request->output, "job-42", now);   // the job's last measurements
//
// The script is `<pipelines_dir>/prelude.sh` (which measures the job's
// processes) followed by `<pipelines_dir>/<pipeline>.sh` (alpha_cal,
// image_reconstruction, anomaly_detection, other); both are read at each
// submission, so an edited template applies to the next attempt. The job
// runs in `<jobs_dir>/<job id>/` and writes `attempt-<n>.out` there.
//
// Measurements are lines of the job's output:
//   horizons-metrics cpu_pct=97.5 memory_gb=0.012 disk_write_mb_per_s=0.4
// with any of job.metrics.recorded's measurement fields as keys; the last
// value of each key counts. Other keys and malformed values are ignored.
#pragma once

#include <chrono>
#include <expected>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <horizons/events.hpp>

#include "services/orchestrator/batch_system.hpp"

namespace horizons::orchestrator {

struct batch_settings {
  batch_system* system = nullptr;  // none: the simulated scheduler drives the jobs
  std::filesystem::path pipelines_dir{};
  std::filesystem::path jobs_dir{};
  /// The partition of each TACC system's jobs; a system not listed uses the scheduler's default.
  std::map<tacc_system, std::string> partitions{};
  /// How often a queued or running batch job's status is asked for.
  std::chrono::milliseconds poll_interval{1'000};
  /// How long a job waits before the engine tries again to reach an unavailable scheduler.
  std::chrono::milliseconds unavailable_retry{5'000};
  /// Wall time between two job.metrics.recorded samples of a running job.
  std::chrono::milliseconds sample_interval{5'000};
  /// The pipeline scripts' measuring interval (HORIZONS_SAMPLE_SECONDS in the job).
  int script_sample_seconds = 1;
};

/// The comment that marks attempt `attempt` of `job_id` in the scheduler.
[[nodiscard]] std::string batch_comment(const std::string& job_id, int attempt);

/// Where attempt `attempt` of `job_id` writes its output.
[[nodiscard]] std::filesystem::path batch_output(const batch_settings& settings, const std::string& job_id,
                                                 int attempt);

/// The batch job of one attempt; an error names a missing template or an unusable folder.
[[nodiscard]] std::expected<batch_request, std::string> batch_request_for(const batch_settings& settings,
                                                                          const job_submitted& job, int attempt);

/// The job's last measurements from its output file, as a sample at `at`; nullopt while it has none.
[[nodiscard]] std::optional<job_metrics_recorded> metrics_from_output(const std::filesystem::path& output,
                                                                      const std::string& job_id, timestamp at);

}  // namespace horizons::orchestrator
