#include "services/orchestrator/engine.hpp"

#include <algorithm>
#include <cctype>

#include <spdlog/spdlog.h>

#include <horizons/event_builder.hpp>
#include <horizons/status_machine.hpp>

#include "services/orchestrator/orchestrator.hpp"

namespace horizons::orchestrator {
namespace {

using services::outbox;
using services::step_result;

std::string to_lower(std::string_view s) {
  std::string lowered(s);
  for (auto& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lowered;
}

}  // namespace

step_result engine::admit(const envelope& meta, const job_submitted& job) {
  auto handled = store_.handle_once(meta.event_id, [&](outbox& out) -> step_result {
    auto exists = jobs_.contains(job.job_id);
    if (!exists) return std::unexpected(exists.error());
    if (*exists) {
      spdlog::warn("{}: job {} was already submitted; ignoring event {}", descriptor.name, job.job_id,
                   meta.event_id.to_string());
      return {};
    }
    job_row row;
    static_cast<envelope&>(row.submitted) = meta;
    row.submitted.payload = job;
    row.user_id = meta.user_id.value_or("anonymous");
    row.correlation_id = meta.correlation_id;
    row.last_event_id = meta.event_id;
    auto plan = plan_job(sim_, job);
    double wait = plan.cancel == cancel_point::while_submitted ? plan.cancel_fraction : 1.0;
    row.next_at = now_() + sim_.real(sim_.admission_delay * wait);
    if (auto audited = audit(out, row, std::nullopt, job_status::submitted, row.user_id); !audited) return audited;
    return jobs_.insert(row);
  });
  if (!handled) return std::unexpected(handled.error());
  return {};
}

std::size_t engine::advance_due(std::size_t limit) {
  auto due = jobs_.due(now_(), limit);
  if (!due) {
    spdlog::error("{}: due jobs: {}", descriptor.name, due.error());
    return 0;
  }
  std::size_t steps = 0;
  for (const auto& job_id : *due) {
    auto stepped = store_.transact([&](outbox& out) -> step_result {
      auto row = jobs_.load(job_id);
      if (!row) return std::unexpected(row.error());
      // Another orchestrator sharing this state may have taken the step already.
      if (row->finished || row->next_at > now_()) return {};
      if (auto ok = step(out, *row); !ok) return ok;
      ++steps;
      return jobs_.save(*row);
    });
    if (!stepped) spdlog::error("{}: job {}: {}", descriptor.name, job_id, stepped.error());
  }
  return steps;
}

step_result engine::step(outbox& out, job_row& row) {
  auto plan = plan_job(sim_, row.job());
  auto at = now_();
  const auto& attempt = plan.attempts[static_cast<std::size_t>(row.attempt)];
  switch (row.status) {
    case job_status::submitted: {
      if (plan.cancel == cancel_point::while_submitted)
        return cancel(out, row, "cancelled by the user before it was queued");
      if (auto ok = transition(out, row, job_status::queued,
                               fmt::format("accepted by the {} scheduler", to_string(row.job().tacc_system)));
          !ok) {
        return ok;
      }
      double fraction = plan.cancel == cancel_point::while_queued ? plan.cancel_fraction : 1.0;
      row.next_at = at + sim_.real(attempt.queue_wait * fraction);
      return {};
    }
    case job_status::queued: {
      if (plan.cancel == cancel_point::while_queued && row.attempt == 0) {
        return cancel(out, row, "cancelled by the user while queued");
      }
      if (auto ok = transition(
              out, row, job_status::running,
              fmt::format("started on {} nodes of {}", row.job().resources.nodes, to_string(row.job().tacc_system)));
          !ok) {
        return ok;
      }
      if (!row.allocation_id) {
        row.allocation_id = "alloc-" + row.job().job_id;
        if (auto ok = allocate(out, row, allocation_change::allocated, "job started"); !ok) return ok;
      }
      row.elapsed = 0;
      row.samples = 0;
      row.cpu_sum = row.gpu_sum = row.memory_peak = row.io_sum = 0;
      row.next_at = at + sim_.real(std::min(sim_.sample_interval, attempt.run_time));
      return {};
    }
    case job_status::running: {
      // One sample per interval (the last one covers what is left), then the attempt ends.
      auto chunk = std::min(sim_.sample_interval, attempt.run_time - sim_duration(row.elapsed));
      auto sample = sample_metrics(sim_, row.job(), row.attempt, row.samples, at);
      sample.interval_ms = static_cast<std::int64_t>(chunk.count() * 1000);
      row.elapsed += chunk.count();
      ++row.samples;
      row.cpu_sum += sample.cpu_pct;
      row.gpu_sum += sample.gpu_pct;
      row.memory_peak = std::max(row.memory_peak, sample.memory_gb);
      row.io_sum += sample.disk_read_mb_per_s + sample.disk_write_mb_per_s;
      if (auto ok = emit(out, row, std::move(sample)); !ok) return ok;
      if (row.elapsed + 1e-9 < attempt.run_time.count()) {
        row.next_at = at + sim_.real(std::min(sim_.sample_interval, attempt.run_time - sim_duration(row.elapsed)));
        return {};
      }
      return attempt.fails ? fail(out, row, attempt, plan) : complete(out, row);
    }
    case job_status::failed: {  // a retry is due
      if (auto ok =
              transition(out, row, job_status::queued, fmt::format("retry {} of {}", row.attempt, sim_.max_retries));
          !ok) {
        return ok;
      }
      row.next_at = at + sim_.real(attempt.queue_wait);
      return {};
    }
    default:
      return std::unexpected(fmt::format("job {} is {} and cannot advance", row.job().job_id, to_string(row.status)));
  }
}

step_result engine::complete(outbox& out, job_row& row) {
  if (auto ok = transition(out, row, job_status::completed, "finished successfully"); !ok) return ok;
  double n = std::max(1, row.samples);
  const auto& job = row.job();
  if (auto ok = emit(
          out, row,
          job_completed{
              .job_id = job.job_id,
              .execution_time_ms = static_cast<std::int64_t>(row.elapsed * 1000),
              .output_location = fmt::format("/scratch/{}/{}/{}", to_string(job.tacc_system), row.user_id, job.job_id),
              .result_size_bytes = static_cast<std::int64_t>(row.io_sum / n * row.elapsed * 1e4),
              .cpu_utilization_pct = row.cpu_sum / n,
              .gpu_utilization_pct = row.gpu_sum / n,
              .memory_used_gb = row.memory_peak,
              .io_throughput_mb_per_s = row.io_sum / n,
          });
      !ok) {
    return ok;
  }
  return finish(out, row, "job completed");
}

step_result engine::fail(outbox& out, job_row& row, const attempt_plan& attempt, const job_plan& plan) {
  if (auto ok = transition(out, row, job_status::failed, attempt.error_message); !ok) return ok;
  bool retry = static_cast<std::size_t>(row.attempt) + 1 < plan.attempts.size();
  auto retry_at = now_() + sim_.real(sim_.retry_delay);
  if (auto ok = emit(out, row,
                     job_failed{
                         .job_id = row.job().job_id,
                         .error_code = attempt.error_code,
                         .error_message = attempt.error_message,
                         .exit_code = attempt.exit_code,
                         .retry_count = row.attempt,
                         .max_retries = sim_.max_retries,
                         .next_retry_at = retry ? std::optional(retry_at) : std::nullopt,
                     });
      !ok) {
    return ok;
  }
  if (!retry) return finish(out, row, fmt::format("job failed: {}", attempt.error_code));
  ++row.attempt;
  row.next_at = retry_at;
  return {};
}

step_result engine::cancel(outbox& out, job_row& row, std::string reason) {
  if (auto ok = transition(out, row, job_status::cancelled, reason); !ok) return ok;
  if (auto ok = emit(out, row,
                     job_cancelled{.job_id = row.job().job_id,
                                   .cancelled_by = row.user_id,
                                   .reason = std::move(reason),
                                   .refund_usd = row.job().estimated_cost_usd});
      !ok) {
    return ok;
  }
  return finish(out, row, "job cancelled");
}

step_result engine::finish(outbox& out, job_row& row, std::string_view reason) {
  row.finished = true;
  if (row.allocation_id) return allocate(out, row, allocation_change::deallocated, reason);
  return {};
}

step_result engine::allocate(outbox& out, job_row& row, allocation_change change, std::string_view reason) {
  const auto& r = row.job().resources;
  resource_allocation held{.tacc_system = row.job().tacc_system,
                           .nodes = r.nodes,
                           .cores_per_node = r.cores_per_node,
                           .gpus = r.gpus,
                           .memory_gb = r.memory_gb};
  resource_allocation_changed changed{.allocation_id = *row.allocation_id,
                                      .job_id = row.job().job_id,
                                      .change = change,
                                      .previous_allocation = std::nullopt,
                                      .new_allocation = std::nullopt,
                                      .reason = std::string(reason)};
  (change == allocation_change::allocated ? changed.new_allocation : changed.previous_allocation) = held;
  return emit(out, row, std::move(changed));
}

// A status change: refused unless the status machine allows it; audited.
step_result engine::transition(outbox& out, job_row& row, job_status to, std::string reason) {
  if (auto legal = check_transition(row.status, to); !legal) return std::unexpected(legal.error());
  auto from = row.status;
  if (auto ok = emit(out, row,
                     job_status_changed{.job_id = row.job().job_id,
                                        .previous_status = from,
                                        .new_status = to,
                                        .reason = std::move(reason),
                                        .transitioned_at = now_()});
      !ok) {
    return ok;
  }
  row.status = to;
  bool by_user = to == job_status::cancelled;
  return audit(out, row, from, to, by_user ? row.user_id : std::string(descriptor.name));
}

step_result engine::audit(outbox& out, job_row& row, std::optional<job_status> from, job_status to,
                          std::string initiated_by) {
  double hours = 0;
  if (is_terminal(to)) {
    hours =
        row.elapsed / 3600.0 * std::max(1, row.job().resources.nodes) * std::max(1, row.job().resources.cores_per_node);
  }
  return emit(out, row,
              audit_job_lifecycle{.job_id = row.job().job_id,
                                  .lifecycle_event = fmt::format("job.{}", to_lower(to_string(to))),
                                  .previous_state = from,
                                  .new_state = to,
                                  .initiated_by = std::move(initiated_by),
                                  .datasets_affected = 1,
                                  .records_affected = 0,
                                  .compute_hours = hours});
}

template <class Payload>
step_result engine::emit(outbox& out, job_row& row, Payload payload) {
  envelope cause;
  cause.event_id = row.last_event_id;
  cause.correlation_id = row.correlation_id;
  cause.traceparent = row.submitted.traceparent;  // the job's trace: its events outside a handler join it here
  auto built = make_event(std::move(payload)).caused_by(cause).user_id(row.user_id).build();
  if (!built) return std::unexpected(built.error().message);
  // The job's own events chain; audit records hang off the event they record.
  if constexpr (payload_traits<Payload>::topic == topic_id::job_lifecycle) row.last_event_id = built->event_id;
  return out.emit(*built);
}

}  // namespace horizons::orchestrator
