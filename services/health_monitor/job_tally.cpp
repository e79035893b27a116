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
  if (status == job_status::completed || status == job_status::cancelled) {
    jobs_.erase(job_id);
    return;
  }
  auto [it, inserted] = jobs_.try_emplace(job_id, job_state{status, when});
  // job.status.changed -> FAILED and job.failed usually both arrive: the first one dates the failure.
  if (!inserted && it->second.status != status) it->second = {status, when};
}

void job_tally::apply(const job_lifecycle_event& e) {
  const auto& job_id = std::visit([](const auto& p) -> const std::string& { return p.job_id; }, e.payload);
  set(job_id, std::visit(status_of{}, e.payload), e.occurred_at);
}

job_counts job_tally::counts(timestamp now) {
  constexpr auto day = std::chrono::hours(24);
  job_counts counts;
  std::erase_if(jobs_, [&](const auto& entry) {
    return entry.second.status == job_status::failed && now - entry.second.since > day;
  });
  for (const auto& [id, job] : jobs_) {
    switch (job.status) {
      case job_status::submitted:
      case job_status::queued: ++counts.pending; break;
      case job_status::running: ++counts.active; break;
      case job_status::failed: ++counts.failed_24h; break;
      case job_status::completed:
      case job_status::cancelled:
      case job_status::unknown: break;
    }
  }
  return counts;
}

}  // namespace horizons::health_monitor
