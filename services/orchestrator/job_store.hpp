// The orchestrator's jobs as stored: one row per job in <data_dir>/orchestrator/state.db,
// table `jobs`. Only this file knows the table.
//
//   orchestrator::job_store jobs(store.db());
//   if (auto ok = jobs.prepare(); !ok) return fail(ok.error());
//   for (const auto& id : jobs.due(now(), 256).value_or({})) {
//     auto row = jobs.load(id);      // the submission decoded, the job's progress
//     ...; jobs.save(*row);          // inside the caller's transaction
//   }
//   auto status = jobs.status_of("job-42");   // what GET /jobs/<id> answers
//
// The store runs no transactions of its own: the engine wraps each load/save
// in the state store's transaction, with the job's outgoing events. Threads:
// the thread that owns the database connection it was given.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <horizons/events.hpp>

#include "services/common/sql/sql.hpp"

namespace horizons::orchestrator {

/// One job as stored, with its submission decoded.
struct job_row {
  event<job_submitted> submitted;
  std::string user_id;
  uuid correlation_id;
  uuid last_event_id;  // the causation of the job's next event
  job_status status = job_status::submitted;
  int attempt = 0;
  timestamp next_at{};  // when the job's next step is due
  bool finished = false;
  double elapsed = 0;  // simulated seconds run in this attempt
  int samples = 0;
  double cpu_sum = 0, gpu_sum = 0, memory_peak = 0, io_sum = 0;
  std::optional<std::string> allocation_id;
  std::optional<std::string> batch_id;             // the attempt's job in the batch system, once submitted
  std::optional<std::string> cancel_requested_by;  // a user asked to cancel the job (POST /jobs/<id>/cancel)
  timestamp last_sample_at{};                      // the running attempt's last job.metrics.recorded

  [[nodiscard]] const job_submitted& job() const { return submitted.payload; }
};

/// What the HTTP API tells about a job.
struct job_state {
  std::string user_id;  // the submitter
  job_status status = job_status::submitted;
  int attempt = 0;
  bool finished = false;
  std::optional<std::string> batch_id;
  bool cancel_requested = false;
};

/// What asking to cancel a job found.
enum class cancel_request : std::uint8_t { recorded, no_such_job, already_finished, not_the_submitter };
/// Who may cancel a job: only its submitter, or anyone (an admin).
enum class cancel_authority : std::uint8_t { submitter, anyone };

class job_store {
 public:
  explicit job_store(sql::database& db) : db_(db) {}

  /// Creates the table and its index if needed.
  [[nodiscard]] std::expected<void, std::string> prepare();

  [[nodiscard]] std::expected<bool, std::string> contains(const std::string& job_id);
  [[nodiscard]] std::expected<void, std::string> insert(const job_row& row);
  /// An error when the job is not stored or its submission does not decode.
  [[nodiscard]] std::expected<job_row, std::string> load(const std::string& job_id);
  [[nodiscard]] std::expected<void, std::string> save(const job_row& row);
  struct due_job {
    std::string job_id;
    std::optional<std::string> batch_id;
  };
  /// Unfinished jobs whose next step is due at `at`, earliest first, at most `limit`.
  [[nodiscard]] std::expected<std::vector<due_job>, std::string> due(timestamp at, std::size_t limit);
  /// nullopt: no such job.
  [[nodiscard]] std::expected<std::optional<job_state>, std::string> status_of(const std::string& job_id);
  /// Records that `user` asks to cancel the job, and makes its next step due at `at`. With
  /// cancel_authority::submitter only the job's submitter may.
  [[nodiscard]] std::expected<cancel_request, std::string> request_cancel(
      const std::string& job_id, const std::string& user, timestamp at,
      cancel_authority authority = cancel_authority::submitter);
  /// How many jobs are in each status (statuses without jobs are absent).
  [[nodiscard]] std::expected<std::vector<std::pair<job_status, std::int64_t>>, std::string> count_by_status();

 private:
  sql::database& db_;
};

}  // namespace horizons::orchestrator
