// The simulated TACC scheduler the orchestrator drives jobs against.
//
//   horizons::orchestrator::simulation sim;          // defaults: an hour of cluster time per second
//   sim.time_scale = 86'400;                         // a day per second
//   auto plan = horizons::orchestrator::plan_job(sim, submitted_payload);
//   plan.attempts[0].queue_wait;                     // simulated time; sim.real(...) for wall time
//
// Every number a job meets (queue wait, run time, whether and where an
// attempt fails, whether the user cancels it, each metrics sample) is drawn
// from a generator seeded by the job id and the simulation seed, so a
// restarted orchestrator replays the same job the same way.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include <horizons/events.hpp>

namespace horizons::orchestrator {

using sim_duration = std::chrono::duration<double>;  // simulated seconds

/// How one TACC system behaves.
struct system_profile {
  tacc_system system = tacc_system::frontera;
  sim_duration queue_wait_mean{std::chrono::minutes(20)};
  sim_duration run_time_mean{std::chrono::hours(2)};
  double failure_rate = 0.1;  // chance that one attempt fails
};

struct simulation {
  /// Simulated seconds per wall-clock second (3600: an hour of cluster time per second).
  double time_scale = 3'600;
  /// Retries after a failed attempt before the job fails for good.
  int max_retries = 1;
  sim_duration retry_delay{std::chrono::minutes(5)};
  sim_duration admission_delay{std::chrono::seconds(30)};
  sim_duration sample_interval{std::chrono::minutes(10)};
  /// Chance that the user cancels a job before it first runs.
  double cancel_rate = 0.05;
  std::uint64_t seed = 0;
  std::array<system_profile, 3> systems{{
      {.system = tacc_system::frontera,
       .queue_wait_mean = std::chrono::minutes(30),
       .run_time_mean = std::chrono::hours(2),
       .failure_rate = 0.08},
      {.system = tacc_system::stampede3,
       .queue_wait_mean = std::chrono::minutes(15),
       .run_time_mean = std::chrono::minutes(90),
       .failure_rate = 0.12},
      {.system = tacc_system::lonestar6,
       .queue_wait_mean = std::chrono::minutes(10),
       .run_time_mean = std::chrono::hours(1),
       .failure_rate = 0.15},
  }};

  [[nodiscard]] const system_profile& profile(tacc_system system) const;
  /// Wall-clock time of a simulated duration.
  [[nodiscard]] std::chrono::microseconds real(sim_duration simulated) const;
  /// A configuration that cannot run (negative rates, zero scale, ...), named.
  [[nodiscard]] std::expected<void, std::string> check() const;
};

enum class cancel_point : std::uint8_t { never, while_submitted, while_queued };

struct attempt_plan {
  sim_duration queue_wait{};
  sim_duration run_time{};  // until completion, or until the failure
  bool fails = false;
  std::string error_code{};  // when it fails
  std::string error_message{};
  int exit_code = 0;
};

struct job_plan {
  cancel_point cancel = cancel_point::never;
  double cancel_fraction = 0;          // how far into the wait the user cancels
  std::vector<attempt_plan> attempts;  // the last one succeeds unless every attempt fails
};

[[nodiscard]] job_plan plan_job(const simulation& sim, const job_submitted& job);

/// One metrics sample of a running job: the pipeline's profile with noise, reproducible by (job, attempt, index).
[[nodiscard]] job_metrics_recorded sample_metrics(const simulation& sim, const job_submitted& job, int attempt,
                                                  int index, timestamp at);

}  // namespace horizons::orchestrator
