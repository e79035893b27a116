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
// QUEUED, active = RUNNING, failed_24h = FAILED at most 24 h before `now`
// (the time of the event that made it FAILED). Jobs that completed or were
// cancelled are forgotten, and so are failures older than 24 h: a later
// retry (FAILED -> QUEUED) brings the job back through its status change.
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
};

class job_tally {
 public:
  void apply(const job_lifecycle_event& e);
  /// Counts the jobs as of `now`, dropping failures that are older than 24 h.
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
