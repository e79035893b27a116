// The orchestrator's job engine: admits submissions and takes each job's due
// step against one of two schedulers, publishing every consequence through
// the state store's outbox:
// - the simulated TACC scheduler (scheduler.hpp): queue waits, run times and
//   failures drawn from each job's id;
// - a real batch system (batch_job.hpp, batch_system.hpp; Slurm in slurm.hpp):
//   each attempt is a batch job the engine submits, then polls until it ends.
//
//   orchestrator::engine jobs(sim, store);                 // store: the service's state_store
//   orchestrator::engine real(sim, store, horizons::now, {.system = &slurm, ...});   // or: real jobs
//   if (auto ok = jobs.prepare(); !ok) return fail(ok.error());
//   jobs.admit(meta, submitted);                           // a job.submitted record
//   jobs.advance_due();                                    // on a timer: every step that is due now
//
// A job goes SUBMITTED → QUEUED → RUNNING (one job.metrics.recorded per
// sample interval) → COMPLETED, or FAILED (→ QUEUED again while retries are
// left), or CANCELLED (by the simulation's users, or by a user's request:
// job_store::request_cancel). With a batch system, QUEUED covers "waiting to
// be submitted" (also while the scheduler is unreachable) and the batch job
// PENDING; the batch job's id is kept with the job in the step that submits
// it, and a step that finds no id asks the scheduler for the attempt's
// comment first, so an attempt is submitted once even when the engine died
// between the submission and its commit. A batch job that ended between two
// polls still goes through RUNNING. Each step is one transaction: the job's
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
#include "services/orchestrator/batch_job.hpp"
#include "services/orchestrator/job_store.hpp"
#include "services/orchestrator/scheduler.hpp"

namespace horizons::orchestrator {

class engine {
 public:
  using clock = std::function<timestamp()>;

  engine(const simulation& sim, services::state_store& store, clock now = horizons::now, batch_settings batch = {})
      : sim_(sim), store_(store), jobs_(store.db()), now_(std::move(now)), batch_(std::move(batch)) {}

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
  struct failure {
    std::string code;
    std::string message;
    int exit_code = 0;
  };
  enum class retries : std::uint8_t { allowed, none };

  services::step_result step(services::outbox& out, job_row& row);
  services::step_result simulated_step(services::outbox& out, job_row& row);
  services::step_result batch_step(services::outbox& out, job_row& row);
  services::step_result submit_batch(services::outbox& out, job_row& row);
  services::step_result watch_batch(services::outbox& out, job_row& row, const batch_status& seen);
  services::step_result start_running(services::outbox& out, job_row& row, std::string reason);
  services::step_result sample_batch(services::outbox& out, job_row& row);
  services::step_result emit_sample(services::outbox& out, job_row& row, job_metrics_recorded sample);
  services::step_result user_cancel(services::outbox& out, job_row& row, std::string_view detail);
  /// The batch job's status: from this round's answer, else asked alone; nullopt when the scheduler forgot it.
  std::expected<std::optional<batch_status>, batch_error> batch_status_of(const std::string& id);
  void refresh_batch_status(const std::vector<job_store::due_job>& due);
  void scheduler_unavailable(job_row& row, const batch_error& error);
  services::step_result complete(services::outbox& out, job_row& row);
  services::step_result fail(services::outbox& out, job_row& row, failure what, retries may_retry);
  services::step_result cancel(services::outbox& out, job_row& row, std::string by, std::string reason);
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
  batch_settings batch_;
  // The batch system's answer for this round's due jobs (advance_due), or why there is none.
  std::vector<batch_status> seen_;
  std::optional<batch_error> seen_error_;
  std::chrono::steady_clock::time_point next_unavailable_log_{};
};

}  // namespace horizons::orchestrator
