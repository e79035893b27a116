#include "services/health_monitor/monitor_state.hpp"

namespace horizons::health_monitor {
namespace {

using sql::from_micros;
using sql::micros;

template <class T>
std::expected<T, sql::error> rows_done(const sql::statement& rows, T value) {
  if (rows.last_error()) return std::unexpected(*rows.last_error());
  return value;
}

}  // namespace

std::expected<void, sql::error> create_monitor_tables(sql::database& db) {
  // Times in microseconds since the epoch; severity as its schema symbol; committed NULL: the group has committed
  // nothing there.
  static constexpr std::array<sql::migration, 1> steps{{{1, R"sql(
    CREATE TABLE IF NOT EXISTS lag_observations (
      consumer_group TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, observed_at INTEGER NOT NULL,
      committed INTEGER, high INTEGER NOT NULL, lag INTEGER NOT NULL, committed_since INTEGER NOT NULL,
      PRIMARY KEY (consumer_group, topic, partition, observed_at)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS open_alerts (
      alert_id TEXT PRIMARY KEY, alert_type TEXT NOT NULL, severity TEXT NOT NULL,
      correlation_id TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS job_events (
      job_id TEXT NOT NULL, event_id TEXT NOT NULL, partition INTEGER NOT NULL, "offset" INTEGER NOT NULL,
      event_type TEXT NOT NULL, status TEXT NOT NULL, occurred_at INTEGER NOT NULL, read_at INTEGER NOT NULL,
      detail TEXT NOT NULL, PRIMARY KEY (job_id, event_id)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS job_events_by_read_at ON job_events (read_at);
  )sql"}}};
  return db.migrate("health_monitor", steps);
}

std::expected<lag_evaluator, sql::error> load_windows(sql::database& db, const lag_rule_options& options) {
  auto rows = db.prepare(
      "SELECT consumer_group, topic, partition, observed_at, committed, high, lag, committed_since "
      "FROM lag_observations ORDER BY consumer_group, topic, partition, observed_at");
  if (!rows) return std::unexpected(rows.error());
  std::map<partition_ref, std::vector<observation>> windows;
  while (rows->next()) {
    partition_ref where{rows->text(0), rows->text(1), static_cast<std::int32_t>(rows->integer(2))};
    windows[where].push_back({
        .time = from_micros(rows->integer(3)),
        .committed = rows->is_null(4) ? std::nullopt : std::optional(rows->integer(4)),
        .high = rows->integer(5),
        .lag = rows->integer(6),
        .committed_since = from_micros(rows->integer(7)),
    });
  }
  lag_evaluator evaluator(options);
  for (const auto& [where, stored] : windows) evaluator.restore(where, stored);
  return rows_done(*rows, std::move(evaluator));
}

std::expected<void, sql::error> save_windows(sql::database& db, const lag_evaluator& evaluator) {
  if (auto cleared = db.exec("DELETE FROM lag_observations"); !cleared) return cleared;
  auto insert = db.prepare("INSERT INTO lag_observations VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!insert) return std::unexpected(insert.error());
  for (const auto& [where, window] : evaluator.windows()) {
    for (const auto& o : window.observations()) {
      insert->bind(1, where.group).bind(2, where.topic).bind(3, std::int64_t{where.partition}).bind(4, micros(o.time));
      if (o.committed) {
        insert->bind(5, *o.committed);
      } else {
        insert->bind_null(5);
      }
      insert->bind(6, o.high).bind(7, o.lag).bind(8, micros(o.committed_since));
      if (auto done = insert->run(); !done) return done;
    }
  }
  return {};
}

std::expected<std::map<std::string, open_alert>, sql::error> load_open_alerts(sql::database& db) {
  auto rows = db.prepare("SELECT alert_id, alert_type, severity, correlation_id FROM open_alerts");
  if (!rows) return std::unexpected(rows.error());
  std::map<std::string, open_alert> alerts;
  while (rows->next()) {
    auto id = rows->text(0);
    alerts[id] = {.id = id,
                  .type = rows->text(1),
                  .severity = enum_from_string<alert_severity>(rows->text(2)).value_or(alert_severity::unknown),
                  .correlation_id = uuid::parse(rows->text(3)).value_or(uuid{})};
  }
  return rows_done(*rows, std::move(alerts));
}

std::expected<void, sql::error> store_open_alert(sql::database& db, const open_alert& alert) {
  auto upsert = db.prepare(
      "INSERT INTO open_alerts VALUES (?1, ?2, ?3, ?4) ON CONFLICT(alert_id) DO UPDATE SET "
      "alert_type = excluded.alert_type, severity = excluded.severity, correlation_id = excluded.correlation_id");
  if (!upsert) return std::unexpected(upsert.error());
  return upsert->bind(1, alert.id)
      .bind(2, alert.type)
      .bind(3, to_string(alert.severity))
      .bind(4, alert.correlation_id.to_string())
      .run();
}

std::expected<void, sql::error> remove_open_alert(sql::database& db, const std::string& id) {
  auto remove = db.prepare("DELETE FROM open_alerts WHERE alert_id = ?1");
  if (!remove) return std::unexpected(remove.error());
  return remove->bind(1, id).run();
}

std::expected<void, sql::error> store_job_events(sql::database& db, std::span<const job_event_row> events) {
  auto insert = db.prepare("INSERT INTO job_events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING");
  if (!insert) return std::unexpected(insert.error());
  for (const auto& e : events) {
    insert->bind(1, e.job_id)
        .bind(2, e.event_id)
        .bind(3, std::int64_t{e.partition})
        .bind(4, e.offset)
        .bind(5, e.event_type)
        .bind(6, e.status)
        .bind(7, micros(e.occurred_at))
        .bind(8, micros(e.read_at))
        .bind(9, e.detail);
    if (auto done = insert->run(); !done) return done;
  }
  return {};
}

std::expected<std::int64_t, sql::error> prune_job_events(sql::database& db, timestamp read_before,
                                                         std::int64_t max_jobs) {
  auto aged = db.prepare("DELETE FROM job_events WHERE read_at < ?1");
  if (!aged) return std::unexpected(aged.error());
  if (auto done = aged->bind(1, micros(read_before)).run(); !done) return std::unexpected(done.error());
  std::int64_t removed = db.changes();
  // Whole timelines go: the jobs read least recently beyond the limit.
  auto surplus = db.prepare(
      "DELETE FROM job_events WHERE job_id NOT IN (SELECT job_id FROM job_events GROUP BY job_id "
      "ORDER BY max(read_at) DESC LIMIT ?1)");
  if (!surplus) return std::unexpected(surplus.error());
  if (auto done = surplus->bind(1, max_jobs).run(); !done) return std::unexpected(done.error());
  return removed + db.changes();
}

std::expected<std::vector<job_event_row>, sql::error> load_job_events(sql::database& db, const std::string& job_id) {
  auto rows = db.prepare(
      "SELECT job_id, event_id, partition, \"offset\", event_type, status, occurred_at, read_at, detail "
      "FROM job_events WHERE job_id = ?1 ORDER BY partition, \"offset\"");
  if (!rows) return std::unexpected(rows.error());
  rows->bind(1, job_id);
  std::vector<job_event_row> events;
  while (rows->next()) {
    events.push_back({.job_id = rows->text(0),
                      .event_id = rows->text(1),
                      .partition = static_cast<std::int32_t>(rows->integer(2)),
                      .offset = rows->integer(3),
                      .event_type = rows->text(4),
                      .status = rows->text(5),
                      .occurred_at = from_micros(rows->integer(6)),
                      .read_at = from_micros(rows->integer(7)),
                      .detail = rows->text(8)});
  }
  return rows_done(*rows, std::move(events));
}

std::expected<std::vector<std::string>, sql::error> find_jobs(sql::database& db, const std::string& prefix, int limit) {
  auto rows = db.prepare(
      "SELECT job_id FROM job_events WHERE substr(job_id, 1, length(?1)) = ?1 GROUP BY job_id "
      "ORDER BY max(read_at) DESC, job_id LIMIT ?2");
  if (!rows) return std::unexpected(rows.error());
  rows->bind(1, prefix).bind(2, std::int64_t{limit});
  std::vector<std::string> jobs;
  while (rows->next()) jobs.push_back(rows->text(0));
  return rows_done(*rows, std::move(jobs));
}

}  // namespace horizons::health_monitor
