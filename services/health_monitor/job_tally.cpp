#include "services/health_monitor/job_tally.hpp"

#include <variant>

namespace horizons::health_monitor {

namespace {

struct status_of {
  job_status operator()(const job_submitted&) const { return job_status::submitted; }
  job_status operator()(const job_status_changed& p) const { return p.new_status; }
  job_status operator()(const job_completed&) const { return job_status::completed; }
  job_status operator()(const job_failed&) const { return job_status::failed; }
  job_status operator()(const job_cancelled&) const { return job_status::cancelled; }
};

}  // namespace

void job_tally::set(const std::string& job_id, job_status status, timestamp when) {
  auto [it, inserted] = jobs_.try_emplace(job_id, job_state{status, when});
  // job.status.changed -> FAILED and job.failed (likewise COMPLETED, CANCELLED) usually both arrive: the first
  // one dates the end.
  if (!inserted && it->second.status != status) it->second = {status, when};
}

void job_tally::apply(const job_lifecycle_event& e) {
  const auto& job_id = std::visit([](const auto& p) -> const std::string& { return p.job_id; }, e.payload);
  set(job_id, status_after(e), e.occurred_at);
}

job_status job_tally::status_after(const job_lifecycle_event& e) { return std::visit(status_of{}, e.payload); }

job_counts job_tally::counts(timestamp now) {
  constexpr auto day = std::chrono::hours(24);
  job_counts counts;
  std::erase_if(jobs_, [&](const auto& entry) {
    auto status = entry.second.status;
    bool ended = status == job_status::failed || status == job_status::completed || status == job_status::cancelled;
    return ended && now - entry.second.since > day;
  });
  for (const auto& [id, job] : jobs_) {
    switch (job.status) {
      case job_status::submitted:
        ++counts.pending;
        ++counts.submitted;
        break;
      case job_status::queued:
        ++counts.pending;
        ++counts.queued;
        break;
      case job_status::running: ++counts.active; break;
      case job_status::failed: ++counts.failed_24h; break;
      case job_status::completed: ++counts.completed_24h; break;
      case job_status::cancelled: ++counts.cancelled_24h; break;
      case job_status::unknown: break;
    }
  }
  return counts;
}

}  // namespace horizons::health_monitor
