// The orchestrator's job engine: admits submissions and takes each job's due
// step against the simulated scheduler (scheduler.hpp), publishing every
// consequence through the state store's outbox.
//
//   orchestrator::engine jobs(sim, store);                 // store: the service's state_store
//   if (auto ok = jobs.prepare(); !ok) return fail(ok.error());
//   jobs.admit(meta, submitted);                           // a job.submitted record
//   jobs.advance_due();                                    // on a timer: every step that is due now
//
// A job goes SUBMITTED → QUEUED → RUNNING (one job.metrics.recorded per
// sample interval) → COMPLETED, or FAILED (→ QUEUED again while retries are
// left), or CANCELLED before it runs. Each step is one transaction: the job's
// row (job_store.hpp), its job.status.changed (checked by the status
// machine), its audit.job.lifecycle and its other events commit together, so
// a restarted engine carries on from the stored row, and engines sharing a
// database take each step once (a step not due any more is left alone).
// admit() is idempotent by event id (state_store::handle_once) and ignores a
// second submission of a known job id.
//
// Time comes from `clock` (horizons::now unless a test gives its own): a
// step is due when the clock reaches the job's next_at. Threads: the thread
// that owns `store`; `sim` and `store` must outlive the engine.
#pragma once

#include <cstddef>
#include <expected>
#include <functional>
#include <string>
#include <string_view>

#include <horizons/events.hpp>

#include "services/common/state_store.hpp"
#include "services/orchestrator/job_store.hpp"
#include "services/orchestrator/scheduler.hpp"

namespace horizons::orchestrator {

class engine {
 public:
  using clock = std::function<timestamp()>;

  engine(const simulation& sim, services::state_store& store, clock now = horizons::now)
      : sim_(sim), store_(store), jobs_(store.db()), now_(std::move(now)) {}

  /// Creates the jobs table if needed.
  [[nodiscard]] std::expected<void, std::string> prepare() { return jobs_.prepare(); }

  /// A job.submitted record: the job joins the store, once whatever redelivery does. An error means
  /// nothing was kept (the consumer retries).
  [[nodiscard]] services::step_result admit(const envelope& meta, const job_submitted& job);

  /// Takes the step of every job due now (at most `limit`); returns how many steps were taken.
  /// A job whose step fails is logged and left for the next call.
  std::size_t advance_due(std::size_t limit = 256);

  /// The stored jobs (read them on the engine's thread).
  [[nodiscard]] job_store& jobs() { return jobs_; }

 private:
  services::step_result step(services::outbox& out, job_row& row);
  services::step_result complete(services::outbox& out, job_row& row);
  services::step_result fail(services::outbox& out, job_row& row, const attempt_plan& attempt, const job_plan& plan);
  services::step_result cancel(services::outbox& out, job_row& row, std::string reason);
  services::step_result finish(services::outbox& out, job_row& row, std::string_view reason);
  services::step_result allocate(services::outbox& out, job_row& row, allocation_change change,
                                 std::string_view reason);
  services::step_result transition(services::outbox& out, job_row& row, job_status to, std::string reason);
  services::step_result audit(services::outbox& out, job_row& row, std::optional<job_status> from, job_status to,
                              std::string initiated_by);
  template <class Payload>
  services::step_result emit(services::outbox& out, job_row& row, Payload payload);

  const simulation& sim_;
  services::state_store& store_;
  job_store jobs_;
  clock now_;
};

}  // namespace horizons::orchestrator
