#include "services/orchestrator/engine.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include <spdlog/spdlog.h>

#include <horizons/event_builder.hpp>
#include <horizons/status_machine.hpp>

#include "services/orchestrator/orchestrator.hpp"

namespace horizons::orchestrator {
namespace {

using services::outbox;
using services::step_result;

// The bytes a finished batch job left in its folder: job.completed's result size.
std::int64_t folder_bytes(const std::filesystem::path& folder) {
  std::int64_t total = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder, error)) {
    if (entry.is_regular_file(error)) total += static_cast<std::int64_t>(entry.file_size(error));
  }
  return total;
}

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
  if (batch_.system) refresh_batch_status(*due);
  std::size_t steps = 0;
  for (const auto& [job_id, batch_id] : *due) {
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
  if (batch_.system) return batch_step(out, row);
  if (row.cancel_requested_by) return user_cancel(out, row, "");
  return simulated_step(out, row);
}

step_result engine::simulated_step(outbox& out, job_row& row) {
  auto plan = plan_job(sim_, row.job());
  auto at = now_();
  const auto& attempt = plan.attempts[static_cast<std::size_t>(row.attempt)];
  switch (row.status) {
    case job_status::submitted: {
      if (plan.cancel == cancel_point::while_submitted)
        return cancel(out, row, row.user_id, "cancelled by the user before it was queued");
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
        return cancel(out, row, row.user_id, "cancelled by the user while queued");
      }
      if (auto ok = start_running(
              out, row,
              fmt::format("started on {} nodes of {}", row.job().resources.nodes, to_string(row.job().tacc_system)));
          !ok) {
        return ok;
      }
      row.next_at = at + sim_.real(std::min(sim_.sample_interval, attempt.run_time));
      return {};
    }
    case job_status::running: {
      // One sample per interval (the last one covers what is left), then the attempt ends.
      auto chunk = std::min(sim_.sample_interval, attempt.run_time - sim_duration(row.elapsed));
      auto sample = sample_metrics(sim_, row.job(), row.attempt, row.samples, at);
      sample.interval_ms = static_cast<std::int64_t>(chunk.count() * 1000);
      row.elapsed += chunk.count();
      if (auto ok = emit_sample(out, row, std::move(sample)); !ok) return ok;
      if (row.elapsed + 1e-9 < attempt.run_time.count()) {
        row.next_at = at + sim_.real(std::min(sim_.sample_interval, attempt.run_time - sim_duration(row.elapsed)));
        return {};
      }
      if (!attempt.fails) return complete(out, row);
      return fail(out, row,
                  {.code = attempt.error_code, .message = attempt.error_message, .exit_code = attempt.exit_code},
                  retries::allowed);
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

// ------------------------------------------------------------------------------------ a real batch system

void engine::refresh_batch_status(const std::vector<job_store::due_job>& due) {
  seen_.clear();
  seen_error_.reset();
  std::vector<std::string> ids;
  for (const auto& job : due) {
    if (job.batch_id) ids.push_back(*job.batch_id);
  }
  if (ids.empty()) return;
  auto answer = batch_.system->status(ids);
  if (answer) {
    seen_ = std::move(*answer);
  } else {
    seen_error_ = std::move(answer.error());
  }
}

std::expected<std::optional<batch_status>, batch_error> engine::batch_status_of(const std::string& id) {
  if (seen_error_) return std::unexpected(*seen_error_);
  for (const auto& s : seen_) {
    if (s.id == id) return s;
  }
  // Not in this round's answer: submitted since (by another orchestrator), or forgotten. Ask alone.
  auto answer = batch_.system->status(std::span(&id, 1));
  if (!answer) return std::unexpected(answer.error());
  if (answer->empty()) return std::nullopt;
  return answer->front();
}

void engine::scheduler_unavailable(job_row& row, const batch_error& error) {
  // The rest of this round waits too, rather than each job waiting out the tools' timeouts in turn.
  seen_error_ = error;
  row.next_at = now_() + std::chrono::duration_cast<std::chrono::microseconds>(batch_.unavailable_retry);
  auto now = std::chrono::steady_clock::now();
  if (now < next_unavailable_log_) return;
  next_unavailable_log_ = now + std::chrono::seconds(10);
  spdlog::error("{}: the scheduler is unavailable; job {} stays {} and is tried again every {} ms: {}", descriptor.name,
                row.job().job_id, to_string(row.status), batch_.unavailable_retry.count(), error.message);
}

step_result engine::batch_step(outbox& out, job_row& row) {
  auto at = now_();
  switch (row.status) {
    case job_status::submitted: {
      if (row.cancel_requested_by) return user_cancel(out, row, "");
      auto partition = batch_.partitions.find(row.job().tacc_system);
      if (auto ok = transition(
              out, row, job_status::queued,
              fmt::format("accepted for {}{}", batch_.system->name(),
                          partition == batch_.partitions.end() ? std::string()
                                                               : fmt::format(", partition {}", partition->second)));
          !ok) {
        return ok;
      }
      row.next_at = at;
      return {};
    }
    case job_status::failed: {  // a retry is due
      if (row.cancel_requested_by) return user_cancel(out, row, "");
      if (auto ok = transition(
              out, row, job_status::queued,
              fmt::format("retry {} of {}: resubmitting to {}", row.attempt, sim_.max_retries, batch_.system->name()));
          !ok) {
        return ok;
      }
      row.next_at = at;
      return {};
    }
    case job_status::queued:
      if (!row.batch_id) {
        if (row.cancel_requested_by) return user_cancel(out, row, " before it was submitted");
        return submit_batch(out, row);
      }
      [[fallthrough]];
    case job_status::running: {
      auto seen = batch_status_of(*row.batch_id);
      if (!seen) {
        scheduler_unavailable(row, seen.error());
        return {};
      }
      if (!*seen) {
        return fail(out, row,
                    {.code = "LOST",
                     .message = fmt::format("{} no longer knows job {}: its record expired before it was seen to end",
                                            batch_.system->name(), *row.batch_id)},
                    retries::allowed);
      }
      auto phase = (*seen)->phase;
      if (row.cancel_requested_by && (phase == batch_phase::waiting || phase == batch_phase::running)) {
        if (auto cancelled = batch_.system->cancel(*row.batch_id); !cancelled) {
          scheduler_unavailable(row, cancelled.error());
          return {};
        }
      }
      return watch_batch(out, row, **seen);
    }
    default:
      return std::unexpected(fmt::format("job {} is {} and cannot advance", row.job().job_id, to_string(row.status)));
  }
}

// The attempt's batch job: the one a previous engine submitted (found by its comment), or a new one.
step_result engine::submit_batch(outbox& out, job_row& row) {
  if (seen_error_) {
    scheduler_unavailable(row, *seen_error_);
    return {};
  }
  const auto& job_id = row.job().job_id;
  auto known = batch_.system->find(job_id, batch_comment(job_id, row.attempt));
  if (!known) {
    scheduler_unavailable(row, known.error());
    return {};
  }
  if (*known) {
    spdlog::info("{}: job {} attempt {} was submitted already, as {} job {}", descriptor.name, job_id, row.attempt,
                 batch_.system->name(), **known);
    row.batch_id = **known;
  } else {
    auto request = batch_request_for(batch_, row.job(), row.attempt);
    if (!request)
      return fail(out, row, {.code = "NO_SCRIPT", .message = request.error(), .exit_code = 0}, retries::none);
    auto submitted = batch_.system->submit(*request);
    if (!submitted && submitted.error().what == batch_error::kind::refused) {
      return fail(out, row, {.code = "REFUSED", .message = submitted.error().message, .exit_code = 0}, retries::none);
    }
    if (!submitted) {
      scheduler_unavailable(row, submitted.error());
      return {};
    }
    row.batch_id = *submitted;
  }
  row.next_at = now_() + std::chrono::duration_cast<std::chrono::microseconds>(batch_.poll_interval);
  return {};
}

step_result engine::watch_batch(outbox& out, job_row& row, const batch_status& seen) {
  auto at = now_();
  auto name = batch_.system->name();
  auto poll_again = [&] {
    row.next_at = at + std::chrono::duration_cast<std::chrono::microseconds>(batch_.poll_interval);
  };
  switch (seen.phase) {
    case batch_phase::waiting:
      if (seen.never_runs) {
        // It would wait forever: cancel it (best effort) and fail the job with the scheduler's reason.
        (void)batch_.system->cancel(seen.id);
        return fail(
            out, row,
            {.code = "REFUSED",
             .message = fmt::format("{} job {} can never run: pending with reason {}", name, seen.id, seen.reason),
             .exit_code = seen.exit_code},
            retries::none);
      }
      poll_again();
      return {};
    case batch_phase::unknown:
      spdlog::warn("{}: job {}: {} job {} is in state {}, which this build does not know; still watching",
                   descriptor.name, row.job().job_id, name, seen.id, seen.state);
      poll_again();
      return {};
    case batch_phase::running:
      if (row.status == job_status::queued) {
        if (auto ok = start_running(out, row, fmt::format("{} job {} started", name, seen.id)); !ok) return ok;
      }
      if (at - row.last_sample_at >= batch_.sample_interval) {
        if (auto ok = sample_batch(out, row); !ok) return ok;
      }
      poll_again();
      return {};
    case batch_phase::succeeded:
    case batch_phase::failed:
    case batch_phase::cancelled: break;
  }
  // It ended.
  if (seen.phase == batch_phase::cancelled && row.status == job_status::queued) {
    auto by = row.cancel_requested_by.value_or(name);
    return cancel(out, row, by, fmt::format("cancelled by {} while pending ({} job {})", by, name, seen.id));
  }
  if (row.status == job_status::queued) {  // it ran between two polls
    if (auto ok = start_running(out, row, fmt::format("{} job {} started (seen after it ended)", name, seen.id)); !ok) {
      return ok;
    }
  }
  row.elapsed = static_cast<double>(seen.run_time.count());
  if (auto ok = sample_batch(out, row); !ok) return ok;
  switch (seen.phase) {
    case batch_phase::succeeded: return complete(out, row);
    case batch_phase::cancelled: {
      auto by = row.cancel_requested_by.value_or(name);
      return cancel(out, row, by, fmt::format("cancelled by {} while running ({} job {})", by, name, seen.id));
    }
    default: {
      std::string detail = seen.signal != 0 ? fmt::format(", signal {}", seen.signal) : std::string();
      if (!seen.reason.empty()) detail += fmt::format(", reason {}", seen.reason);
      return fail(out, row,
                  {.code = seen.state,
                   .message = fmt::format("{} job {} ended {} with exit code {}{}", name, seen.id, seen.state,
                                          seen.exit_code, detail),
                   .exit_code = seen.exit_code},
                  retries::allowed);
    }
  }
}

// The attempt starts (either scheduler): RUNNING, its sums reset, the job's allocation on its first run.
step_result engine::start_running(outbox& out, job_row& row, std::string reason) {
  if (auto ok = transition(out, row, job_status::running, std::move(reason)); !ok) return ok;
  row.elapsed = 0;
  row.samples = 0;
  row.cpu_sum = row.gpu_sum = row.memory_peak = row.io_sum = 0;
  row.last_sample_at = now_();
  if (row.allocation_id) return {};
  row.allocation_id = "alloc-" + row.job().job_id;
  return allocate(out, row, allocation_change::allocated, "job started");
}

// The job's latest measurements from its output, as a job.metrics.recorded (nothing while it has none).
step_result engine::sample_batch(outbox& out, job_row& row) {
  auto at = now_();
  auto sample = metrics_from_output(batch_output(batch_, row.job().job_id, row.attempt), row.job().job_id, at);
  if (!sample) return {};
  sample->interval_ms = std::chrono::duration_cast<std::chrono::milliseconds>(at - row.last_sample_at).count();
  row.last_sample_at = at;
  return emit_sample(out, row, std::move(*sample));
}

// A sample of the running attempt, counted into the sums job.completed reports.
step_result engine::emit_sample(outbox& out, job_row& row, job_metrics_recorded sample) {
  ++row.samples;
  row.cpu_sum += sample.cpu_pct;
  row.gpu_sum += sample.gpu_pct;
  row.memory_peak = std::max(row.memory_peak, sample.memory_gb);
  row.io_sum += sample.disk_read_mb_per_s + sample.disk_write_mb_per_s;
  return emit(out, row, std::move(sample));
}

step_result engine::complete(outbox& out, job_row& row) {
  if (auto ok = transition(out, row, job_status::completed, "finished successfully"); !ok) return ok;
  double n = std::max(1, row.samples);
  const auto& job = row.job();
  if (auto ok =
          emit(out, row,
               job_completed{
                   .job_id = job.job_id,
                   .execution_time_ms = static_cast<std::int64_t>(row.elapsed * 1000),
                   .output_location = batch_.system ? (batch_.jobs_dir / job.job_id).string()
                                                    : fmt::format("/scratch/{}/{}/{}", to_string(job.tacc_system),
                                                                  row.user_id, job.job_id),
                   .result_size_bytes = batch_.system ? folder_bytes(batch_.jobs_dir / job.job_id)
                                                      : static_cast<std::int64_t>(row.io_sum / n * row.elapsed * 1e4),
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

step_result engine::fail(outbox& out, job_row& row, failure what, retries may_retry) {
  if (auto ok = transition(out, row, job_status::failed, what.message); !ok) return ok;
  bool retry = may_retry == retries::allowed && row.attempt < sim_.max_retries;
  auto delay = batch_.system ? std::chrono::duration_cast<std::chrono::microseconds>(batch_.poll_interval)
                             : sim_.real(sim_.retry_delay);
  auto retry_at = now_() + delay;
  if (auto ok = emit(out, row,
                     job_failed{
                         .job_id = row.job().job_id,
                         .error_code = what.code,
                         .error_message = what.message,
                         .exit_code = what.exit_code,
                         .retry_count = row.attempt,
                         .max_retries = sim_.max_retries,
                         .next_retry_at = retry ? std::optional(retry_at) : std::nullopt,
                     });
      !ok) {
    return ok;
  }
  if (!retry) return finish(out, row, fmt::format("job failed: {}", what.code));
  ++row.attempt;
  row.batch_id.reset();
  row.next_at = retry_at;
  return {};
}

step_result engine::cancel(outbox& out, job_row& row, std::string by, std::string reason) {
  if (auto ok = transition(out, row, job_status::cancelled, reason); !ok) return ok;
  if (auto ok = emit(out, row,
                     job_cancelled{.job_id = row.job().job_id,
                                   .cancelled_by = std::move(by),
                                   .reason = std::move(reason),
                                   .refund_usd = row.job().estimated_cost_usd});
      !ok) {
    return ok;
  }
  return finish(out, row, "job cancelled");
}

// A user's request (job_store::request_cancel); a job waiting for its retry is queued first, which the
// status machine requires before CANCELLED.
step_result engine::user_cancel(outbox& out, job_row& row, std::string_view detail) {
  const auto& by = *row.cancel_requested_by;
  if (row.status == job_status::failed) {
    if (auto ok = transition(out, row, job_status::queued, fmt::format("retry {} not started", row.attempt)); !ok) {
      return ok;
    }
  }
  return cancel(out, row, by, fmt::format("cancelled by {}{}", by, detail));
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
