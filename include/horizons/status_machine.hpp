// The job status machine:
//
//   SUBMITTED -> QUEUED -> RUNNING -> COMPLETED | FAILED | CANCELLED
//   SUBMITTED -> CANCELLED, QUEUED -> CANCELLED, QUEUED -> FAILED (the scheduler refused the job)
//   FAILED -> QUEUED while retries remain
//
//   if (auto ok = horizons::check_transition(from, to); !ok) reject(ok.error());
//   // "illegal job status transition RUNNING -> QUEUED"
#pragma once

#include <expected>
#include <string>

#include <horizons/events.hpp>

namespace horizons {

[[nodiscard]] bool is_legal_transition(job_status from, job_status to);
[[nodiscard]] bool is_terminal(job_status status);

/// Accepts a legal transition; otherwise an error naming both states.
/// FAILED -> QUEUED is legal here; whether retries remain is check_retry's business.
[[nodiscard]] std::expected<void, std::string> check_transition(job_status from, job_status to);

/// FAILED -> QUEUED with the retry budget: refused once retry_count reached max_retries.
[[nodiscard]] std::expected<void, std::string> check_retry(int retry_count, int max_retries);

}  // namespace horizons
