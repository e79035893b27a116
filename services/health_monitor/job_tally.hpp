// Jobs by their latest status, folded from the job-lifecycle topic: what the
// health check reports as active, pending and failed-in-24h jobs.
//
//   job_tally tally;
//   tally.apply(lifecycle_event);                  // any job-lifecycle event, in topic order per job
//   auto counts = tally.counts(horizons::now());   // {.active, .pending, .failed_24h}
//
// The latest event of a job sets its status: job.submitted -> SUBMITTED,
// job.status.changed -> its new status, job.completed / job.failed /
// job.cancelled -> COMPLETED / FAILED / CANCELLED. pending = SUBMITTED or
// QUEUED (also counted apart as `submitted` and `queued`), active = RUNNING,
// failed_24h / completed_24h / cancelled_24h = jobs that entered that state
// at most 24 h before `now` (the time of the event that put them there).
// Ended jobs are forgotten 24 h after they ended (the tally stays bounded by
// a day of jobs); a later retry (FAILED -> QUEUED) brings a job back through
// its status change.
// Per-key order on the topic keeps one job's events in order.
// Threads: a plain value; one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

#include <horizons/events.hpp>

namespace horizons::health_monitor {

struct job_counts {
  std::int32_t active = 0;
  std::int32_t pending = 0;
  std::int32_t failed_24h = 0;
  std::int32_t submitted = 0;  // pending, split by status
  std::int32_t queued = 0;
  std::int32_t completed_24h = 0;
  std::int32_t cancelled_24h = 0;
};

class job_tally {
 public:
  void apply(const job_lifecycle_event& e);
  /// The status an event leaves its job in (job.submitted -> SUBMITTED, ...).
  [[nodiscard]] static job_status status_after(const job_lifecycle_event& e);
  /// Counts the jobs as of `now`, dropping jobs that ended more than 24 h ago.
  [[nodiscard]] job_counts counts(timestamp now);

 private:
  struct job_state {
    job_status status;
    timestamp since;  // when it entered `status`
  };
  void set(const std::string& job_id, job_status status, timestamp when);
  std::unordered_map<std::string, job_state> jobs_;
};

}  // namespace horizons::health_monitor
