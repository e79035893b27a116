#include "services/health_monitor/monitor_state.hpp"

namespace horizons::health_monitor {
namespace {

using sqlite::from_micros;
using sqlite::micros;

template <class T>
std::expected<T, sqlite::error> rows_done(const sqlite::statement& rows, T value) {
  if (rows.last_error()) return std::unexpected(*rows.last_error());
  return value;
}

}  // namespace

std::expected<void, sqlite::error> create_monitor_tables(sqlite::database& db) {
  // Times in microseconds since the epoch; severity as its schema symbol; committed NULL: the group has committed
  // nothing there.
  return db.exec(R"sql(
    CREATE TABLE IF NOT EXISTS lag_observations (
      consumer_group TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, observed_at INTEGER NOT NULL,
      committed INTEGER, high INTEGER NOT NULL, lag INTEGER NOT NULL, committed_since INTEGER NOT NULL,
      PRIMARY KEY (consumer_group, topic, partition, observed_at)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS open_alerts (
      alert_id TEXT PRIMARY KEY, alert_type TEXT NOT NULL, severity TEXT NOT NULL,
      correlation_id TEXT NOT NULL) WITHOUT ROWID;
  )sql");
}

std::expected<lag_evaluator, sqlite::error> load_windows(sqlite::database& db, const lag_rule_options& options) {
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

std::expected<void, sqlite::error> save_windows(sqlite::database& db, const lag_evaluator& evaluator) {
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

std::expected<std::map<std::string, open_alert>, sqlite::error> load_open_alerts(sqlite::database& db) {
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

std::expected<void, sqlite::error> store_open_alert(sqlite::database& db, const open_alert& alert) {
  auto upsert = db.prepare("INSERT OR REPLACE INTO open_alerts VALUES (?1, ?2, ?3, ?4)");
  if (!upsert) return std::unexpected(upsert.error());
  return upsert->bind(1, alert.id)
      .bind(2, alert.type)
      .bind(3, to_string(alert.severity))
      .bind(4, alert.correlation_id.to_string())
      .run();
}

std::expected<void, sqlite::error> remove_open_alert(sqlite::database& db, const std::string& id) {
  auto remove = db.prepare("DELETE FROM open_alerts WHERE alert_id = ?1");
  if (!remove) return std::unexpected(remove.error());
  return remove->bind(1, id).run();
}

}  // namespace horizons::health_monitor
