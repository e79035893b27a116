#include <horizons/status_machine.hpp>

#include <fmt/format.h>

namespace horizons {

bool is_legal_transition(job_status from, job_status to) {
  using enum job_status;
  switch (from) {
    case submitted: return to == queued || to == cancelled;
    case queued: return to == running || to == failed || to == cancelled;  // failed: refused by the scheduler
    case running: return to == completed || to == failed || to == cancelled;
    case failed: return to == queued;
    case completed:
    case cancelled:
    case unknown: return false;
  }
  return false;
}

bool is_terminal(job_status status) {
  return status == job_status::completed || status == job_status::failed || status == job_status::cancelled;
}

std::expected<void, std::string> check_transition(job_status from, job_status to) {
  if (is_legal_transition(from, to)) return {};
  return std::unexpected(fmt::format("illegal job status transition {} -> {}", to_string(from), to_string(to)));
}

std::expected<void, std::string> check_retry(int retry_count, int max_retries) {
  if (retry_count < max_retries) return {};
  return std::unexpected(
      fmt::format("illegal job status transition FAILED -> QUEUED: retry {} of {} exhausts the budget", retry_count + 1,
                  max_retries));
}

}  // namespace horizons
