#include "services/orchestrator/job_store.hpp"

#include <fmt/format.h>

#include <horizons/codec.hpp>

namespace horizons::orchestrator {
namespace {

using sql::from_micros;
using sql::micros;

constexpr std::array<sql::migration, 2> schema{{{1, R"sql(
  CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    submitted BLOB NOT NULL,          -- the job.submitted event, framed Avro
    user_id TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    last_event_id TEXT NOT NULL,      -- causation of the job's next event
    status INTEGER NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,         -- wall-clock microseconds of the job's next step
    finished INTEGER NOT NULL DEFAULT 0,
    elapsed REAL NOT NULL DEFAULT 0,  -- simulated seconds run in this attempt
    samples INTEGER NOT NULL DEFAULT 0,
    cpu_sum REAL NOT NULL DEFAULT 0,
    gpu_sum REAL NOT NULL DEFAULT 0,
    memory_peak REAL NOT NULL DEFAULT 0,
    io_sum REAL NOT NULL DEFAULT 0,
    allocation_id TEXT
  );
  CREATE INDEX IF NOT EXISTS jobs_due ON jobs(finished, next_at);
)sql"},
                                                {2, R"sql(
  ALTER TABLE jobs ADD COLUMN batch_id TEXT;             -- the attempt's job in the batch system (Slurm's job id)
  ALTER TABLE jobs ADD COLUMN cancel_requested_by TEXT;  -- who asked to cancel the job
  ALTER TABLE jobs ADD COLUMN last_sample_at INTEGER NOT NULL DEFAULT 0;
)sql"}}};

std::optional<event<job_submitted>> decode_submission(std::span<const std::byte> framed) {
  auto decoded = decode_framed(framed);
  if (!decoded) return std::nullopt;
  auto* lifecycle = std::get_if<job_lifecycle_event>(&*decoded);
  if (!lifecycle) return std::nullopt;
  auto* job = std::get_if<job_submitted>(&lifecycle->payload);
  if (!job) return std::nullopt;
  event<job_submitted> e;
  static_cast<envelope&>(e) = static_cast<const envelope&>(*lifecycle);
  e.payload = *job;
  return e;
}

}  // namespace

std::expected<void, std::string> job_store::prepare() {
  if (auto ok = db_.migrate("orchestrator_jobs", schema); !ok) return std::unexpected(ok.error().message);
  return {};
}

std::expected<bool, std::string> job_store::contains(const std::string& job_id) {
  auto exists = db_.prepare("SELECT 1 FROM jobs WHERE job_id = ?1");
  if (!exists) return std::unexpected(exists.error().message);
  auto found = exists->bind(1, job_id).single_int();
  if (!found) return std::unexpected(found.error().message);
  return found->has_value();
}

std::expected<void, std::string> job_store::insert(const job_row& row) {
  byte_buffer framed;
  encode_framed(row.submitted, framed);
  auto insert = db_.prepare(
      "INSERT INTO jobs(job_id, submitted, user_id, correlation_id, last_event_id, status, next_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!insert) return std::unexpected(insert.error().message);
  insert->bind(1, row.job().job_id)
      .bind(2, framed.bytes())
      .bind(3, row.user_id)
      .bind(4, row.correlation_id.to_string());
  insert->bind(5, row.last_event_id.to_string())
      .bind(6, static_cast<std::int64_t>(row.status))
      .bind(7, micros(row.next_at));
  if (auto ok = insert->run(); !ok) return std::unexpected(ok.error().message);
  return {};
}

std::expected<job_row, std::string> job_store::load(const std::string& job_id) {
  // Locked until the step's transaction ends: two orchestrators never take one job's step together.
  auto select = db_.prepare(fmt::format(
      "SELECT submitted, user_id, correlation_id, last_event_id, status, attempt, next_at, finished, elapsed, samples, "
      "cpu_sum, gpu_sum, memory_peak, io_sum, allocation_id, batch_id, cancel_requested_by, last_sample_at FROM jobs "
      "WHERE job_id = ?1{}",
      db_.for_update()));
  if (!select) return std::unexpected(select.error().message);
  select->bind(1, job_id);
  if (!select->next()) return std::unexpected(fmt::format("job {} is not stored", job_id));
  job_row row;
  auto submitted = decode_submission(select->blob(0));
  if (!submitted) return std::unexpected(fmt::format("job {}: the stored submission does not decode", job_id));
  row.submitted = std::move(*submitted);
  row.user_id = select->text(1);
  row.correlation_id = uuid::parse(select->text(2)).value_or(uuid{});
  row.last_event_id = uuid::parse(select->text(3)).value_or(uuid{});
  row.status = static_cast<job_status>(select->integer(4));
  row.attempt = static_cast<int>(select->integer(5));
  row.next_at = from_micros(select->integer(6));
  row.finished = select->integer(7) != 0;
  row.elapsed = select->real(8);
  row.samples = static_cast<int>(select->integer(9));
  row.cpu_sum = select->real(10);
  row.gpu_sum = select->real(11);
  row.memory_peak = select->real(12);
  row.io_sum = select->real(13);
  if (!select->is_null(14)) row.allocation_id = select->text(14);
  if (!select->is_null(15)) row.batch_id = select->text(15);
  if (!select->is_null(16)) row.cancel_requested_by = select->text(16);
  row.last_sample_at = from_micros(select->integer(17));
  return row;
}

std::expected<void, std::string> job_store::save(const job_row& row) {
  auto update = db_.prepare(
      "UPDATE jobs SET last_event_id = ?2, status = ?3, attempt = ?4, next_at = ?5, finished = ?6, elapsed = ?7, "
      "samples = ?8, cpu_sum = ?9, gpu_sum = ?10, memory_peak = ?11, io_sum = ?12, allocation_id = ?13, batch_id = "
      "?14, "
      "last_sample_at = ?15 WHERE job_id = ?1");
  if (!update) return std::unexpected(update.error().message);
  update->bind(1, row.job().job_id)
      .bind(2, row.last_event_id.to_string())
      .bind(3, static_cast<std::int64_t>(row.status));
  update->bind(4, static_cast<std::int64_t>(row.attempt)).bind(5, micros(row.next_at));
  update->bind(6, static_cast<std::int64_t>(row.finished));
  update->bind(7, row.elapsed)
      .bind(8, static_cast<std::int64_t>(row.samples))
      .bind(9, row.cpu_sum)
      .bind(10, row.gpu_sum);
  update->bind(11, row.memory_peak).bind(12, row.io_sum);
  if (row.allocation_id) {
    update->bind(13, *row.allocation_id);
  } else {
    update->bind_null(13);
  }
  if (row.batch_id) {
    update->bind(14, *row.batch_id);
  } else {
    update->bind_null(14);
  }
  update->bind(15, micros(row.last_sample_at));
  if (auto ok = update->run(); !ok) return std::unexpected(ok.error().message);
  return {};
}

std::expected<std::vector<job_store::due_job>, std::string> job_store::due(timestamp at, std::size_t limit) {
  auto select =
      db_.prepare("SELECT job_id, batch_id FROM jobs WHERE finished = 0 AND next_at <= ?1 ORDER BY next_at LIMIT ?2");
  if (!select) return std::unexpected(select.error().message);
  select->bind(1, micros(at)).bind(2, static_cast<std::int64_t>(limit));
  std::vector<due_job> ids;
  while (select->next()) {
    ids.push_back(
        {.job_id = select->text(0), .batch_id = select->is_null(1) ? std::nullopt : std::optional(select->text(1))});
  }
  if (select->last_error()) return std::unexpected(select->last_error()->message);
  return ids;
}

std::expected<std::optional<job_state>, std::string> job_store::status_of(const std::string& job_id) {
  auto select = db_.prepare(
      "SELECT status, attempt, finished, batch_id, cancel_requested_by, user_id FROM jobs WHERE job_id = ?1");
  if (!select) return std::unexpected(select.error().message);
  select->bind(1, job_id);
  if (!select->next()) {
    if (select->last_error()) return std::unexpected(select->last_error()->message);
    return std::nullopt;
  }
  return job_state{.user_id = select->text(5),
                   .status = static_cast<job_status>(select->integer(0)),
                   .attempt = static_cast<int>(select->integer(1)),
                   .finished = select->integer(2) != 0,
                   .batch_id = select->is_null(3) ? std::nullopt : std::optional(select->text(3)),
                   .cancel_requested = !select->is_null(4)};
}

std::expected<cancel_request, std::string> job_store::request_cancel(const std::string& job_id, const std::string& user,
                                                                     timestamp at, cancel_authority authority) {
  {
    auto select = db_.prepare("SELECT user_id, finished FROM jobs WHERE job_id = ?1");
    if (!select) return std::unexpected(select.error().message);
    select->bind(1, job_id);
    if (!select->next()) {
      if (select->last_error()) return std::unexpected(select->last_error()->message);
      return cancel_request::no_such_job;
    }
    if (authority == cancel_authority::submitter && select->text(0) != user) return cancel_request::not_the_submitter;
    if (select->integer(1) != 0) return cancel_request::already_finished;
  }
  // The first request counts; the step it makes due sees it whichever orchestrator takes it.
  auto update = db_.prepare(
      "UPDATE jobs SET cancel_requested_by = coalesce(cancel_requested_by, ?2), next_at = CASE WHEN next_at < ?3 THEN "
      "next_at ELSE ?3 END "
      "WHERE job_id = ?1 AND finished = 0");
  if (!update) return std::unexpected(update.error().message);
  update->bind(1, job_id).bind(2, user).bind(3, micros(at));
  if (auto ok = update->run(); !ok) return std::unexpected(ok.error().message);
  if (db_.changes() == 0) return cancel_request::already_finished;
  return cancel_request::recorded;
}

std::expected<std::vector<std::pair<job_status, std::int64_t>>, std::string> job_store::count_by_status() {
  auto select = db_.prepare("SELECT status, count(*) FROM jobs GROUP BY status");
  if (!select) return std::unexpected(select.error().message);
  std::vector<std::pair<job_status, std::int64_t>> counts;
  while (select->next()) counts.emplace_back(static_cast<job_status>(select->integer(0)), select->integer(1));
  if (select->last_error()) return std::unexpected(select->last_error()->message);
  return counts;
}

}  // namespace horizons::orchestrator
