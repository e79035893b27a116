#include "services/metrics_aggregator/fold.hpp"

#include <spdlog/spdlog.h>

#include <horizons/event_builder.hpp>

#include "services/metrics_aggregator/aggregator.hpp"

namespace horizons::metrics_aggregator {
namespace {

using services::outbox;
using services::step_result;

constexpr std::array<sql::migration, 1> schema{{{1, R"sql(
  CREATE TABLE IF NOT EXISTS folds (
    job_id TEXT PRIMARY KEY,
    samples INTEGER NOT NULL DEFAULT 0,
    interval_ms INTEGER NOT NULL DEFAULT 0,
    cpu_sum REAL NOT NULL DEFAULT 0, cpu_max REAL NOT NULL DEFAULT 0,
    gpu_sum REAL NOT NULL DEFAULT 0, gpu_max REAL NOT NULL DEFAULT 0,
    memory_peak REAL NOT NULL DEFAULT 0, gpu_memory_peak REAL NOT NULL DEFAULT 0,
    network_in_mb REAL NOT NULL DEFAULT 0, network_out_mb REAL NOT NULL DEFAULT 0,
    disk_read_mb REAL NOT NULL DEFAULT 0, disk_write_mb REAL NOT NULL DEFAULT 0,
    summarized INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
)sql"}}};

}  // namespace

std::expected<void, std::string> job_folds::prepare() {
  if (auto ok = store_.db().migrate("metrics_aggregator", schema); !ok) return std::unexpected(ok.error().message);
  return {};
}

handler_result job_folds::fold(const envelope& meta, const job_metrics_recorded& s) {
  return once(meta, [&](outbox&) -> step_result {
    // Rates (MB/s) over the sample's interval give the volume moved in it. The existing row's columns
    // are named with their table: PostgreSQL finds a bare name ambiguous in DO UPDATE, SQLite takes both.
    double seconds = static_cast<double>(s.interval_ms) / 1000.0;
    auto upsert = store_.db().prepare(R"sql(
      INSERT INTO folds(job_id, samples, interval_ms, cpu_sum, cpu_max, gpu_sum, gpu_max, memory_peak, gpu_memory_peak,
                        network_in_mb, network_out_mb, disk_read_mb, disk_write_mb)
      VALUES (?1, 1, ?2, ?3, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
      ON CONFLICT(job_id) DO UPDATE SET
        samples = folds.samples + 1,
        interval_ms = folds.interval_ms + ?2,
        cpu_sum = folds.cpu_sum + ?3,
        cpu_max = CASE WHEN folds.cpu_max >= ?3 THEN folds.cpu_max ELSE ?3 END,
        gpu_sum = folds.gpu_sum + ?4,
        gpu_max = CASE WHEN folds.gpu_max >= ?4 THEN folds.gpu_max ELSE ?4 END,
        memory_peak = CASE WHEN folds.memory_peak >= ?5 THEN folds.memory_peak ELSE ?5 END,
        gpu_memory_peak = CASE WHEN folds.gpu_memory_peak >= ?6 THEN folds.gpu_memory_peak ELSE ?6 END,
        network_in_mb = folds.network_in_mb + ?7,
        network_out_mb = folds.network_out_mb + ?8,
        disk_read_mb = folds.disk_read_mb + ?9,
        disk_write_mb = folds.disk_write_mb + ?10
      WHERE folds.summarized = 0)sql");
    if (!upsert) return std::unexpected(upsert.error().message);
    upsert->bind(1, s.job_id).bind(2, s.interval_ms).bind(3, s.cpu_pct).bind(4, s.gpu_pct).bind(5, s.memory_gb);
    upsert->bind(6, s.gpu_memory_gb).bind(7, s.network_in_mb_per_s * seconds).bind(8, s.network_out_mb_per_s * seconds);
    upsert->bind(9, s.disk_read_mb_per_s * seconds).bind(10, s.disk_write_mb_per_s * seconds);
    if (auto ok = upsert->run(); !ok) return std::unexpected(ok.error().message);
    if (store_.db().changes() == 0) {
      spdlog::warn("{}: sample {} of job {} arrived after its summary; not folded", descriptor.name,
                   meta.event_id.to_string(), s.job_id);
    }
    return {};
  });
}

handler_result job_folds::released(const envelope& meta, const resource_allocation_changed& change) {
  if (change.change != allocation_change::deallocated) return {};
  return once(meta, [&](outbox& out) -> step_result {
    // Marked first: the mark holds the job's row until commit, so a sample folded by another instance
    // at the same moment either lands before (and is in the summary) or finds the mark (and is refused).
    auto mark = store_.db().prepare(
        "INSERT INTO folds(job_id, summarized) VALUES (?1, 1) "
        "ON CONFLICT(job_id) DO UPDATE SET summarized = 1 WHERE folds.summarized = 0");
    if (!mark) return std::unexpected(mark.error().message);
    if (auto ok = mark->bind(1, change.job_id).run(); !ok) return std::unexpected(ok.error().message);
    if (store_.db().changes() == 0) return {};  // summarized before
    auto summary = summary_of(change.job_id);
    if (!summary) return std::unexpected(summary.error());
    auto built = make_event(std::move(*summary)).caused_by(meta).user_id(meta.user_id.value_or("anonymous")).build();
    if (!built) return std::unexpected(built.error().message);
    return out.emit(*built);
  });
}

handler_result job_folds::once(const envelope& meta, const std::function<step_result(outbox&)>& step) {
  auto handled = store_.handle_once(meta.event_id, step);
  if (!handled) return std::unexpected(handled.error());
  return {};
}

std::expected<job_performance_summary, std::string> job_folds::summary_of(const std::string& job_id) {
  job_performance_summary summary{.job_id = job_id};
  auto select = store_.db().prepare(
      "SELECT samples, interval_ms, cpu_sum, cpu_max, gpu_sum, gpu_max, memory_peak, gpu_memory_peak, "
      "network_in_mb, network_out_mb, disk_read_mb, disk_write_mb FROM folds WHERE job_id = ?1");
  if (!select) return std::unexpected(select.error().message);
  if (select->bind(1, job_id).next()) {
    auto n = select->integer(0);
    double count = n > 0 ? static_cast<double>(n) : 1.0;
    summary.sample_count = n;
    summary.execution_time_ms = select->integer(1);
    summary.cpu_avg_pct = select->real(2) / count;
    summary.cpu_max_pct = select->real(3);
    summary.gpu_avg_pct = select->real(4) / count;
    summary.gpu_max_pct = select->real(5);
    summary.memory_peak_gb = select->real(6);
    summary.gpu_memory_peak_gb = select->real(7);
    summary.network_in_total_mb = select->real(8);
    summary.network_out_total_mb = select->real(9);
    summary.disk_read_total_mb = select->real(10);
    summary.disk_write_total_mb = select->real(11);
    while (select->next()) {
    }
  }
  if (select->last_error()) return std::unexpected(select->last_error()->message);
  return summary;
}

}  // namespace horizons::metrics_aggregator
