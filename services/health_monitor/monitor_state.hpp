// The health monitor's tables in its state database (<data_dir>/health-monitor/state.db),
// next to the shared outbox tables: the lag windows, so a restarted monitor goes on
// judging with the history it had, the open alerts, so it neither raises an alert
// twice nor forgets to resolve one, and each job's lifecycle events as the monitor
// read them from job-lifecycle (the dashboard's job timeline; kept for
// `job_retention` after the monitor read them and for at most `max_jobs` jobs,
// pruned by prune_job_events). Private to the service.
//
//   store_job_events(db, {{.job_id = "job-42", .event_id = "...", .event_type = "job.submitted", ...}});
//   auto timeline = load_job_events(db, "job-42");   // in topic order (the job's partition offsets)
//
// The writing functions run inside the caller's transaction (state_store::transact);
// load_job_events and find_jobs also on a connection of their own (the HTTP
// threads read that way while the monitor writes: SQLite's WAL lets them).
#pragma once

#include <expected>
#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <horizons/events.hpp>
#include <horizons/uuid.hpp>

#include "services/common/sql/sql.hpp"
#include "services/health_monitor/lag_rule.hpp"

namespace horizons::health_monitor {

struct open_alert {
  std::string id{};
  std::string type{};
  alert_severity severity = alert_severity::unknown;
  uuid correlation_id{};  // of the alert.raised that opened it; alert.resolved joins that flow
};

/// One job-lifecycle event of a job, as the monitor read it.
struct job_event_row {
  std::string job_id{};
  std::string event_id{};
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string event_type{};  // "job.submitted", "job.status.changed", ...
  std::string status{};      // the job's status after it ("SUBMITTED", "QUEUED", ...)
  timestamp occurred_at{};
  timestamp read_at{};   // when the monitor read it
  std::string detail{};  // e.g. "QUEUED -> RUNNING", the failure's message
};

/// Creates the monitor's tables. Idempotent.
[[nodiscard]] std::expected<void, sql::error> create_monitor_tables(sql::database& db);

/// An evaluator holding every stored window.
[[nodiscard]] std::expected<lag_evaluator, sql::error> load_windows(sql::database& db, const lag_rule_options& options);
/// Replaces the stored windows with the evaluator's.
[[nodiscard]] std::expected<void, sql::error> save_windows(sql::database& db, const lag_evaluator& evaluator);

[[nodiscard]] std::expected<std::map<std::string, open_alert>, sql::error> load_open_alerts(sql::database& db);
/// Inserts or replaces the alert `alert.id`.
[[nodiscard]] std::expected<void, sql::error> store_open_alert(sql::database& db, const open_alert& alert);
[[nodiscard]] std::expected<void, sql::error> remove_open_alert(sql::database& db, const std::string& id);

/// Stores events; one already stored (the same job and event id, e.g. a republished record) is kept as it was.
[[nodiscard]] std::expected<void, sql::error> store_job_events(sql::database& db,
                                                               std::span<const job_event_row> events);
/// Forgets events read before `read_before`, then every job but the `max_jobs` read most recently.
/// Returns the events removed.
[[nodiscard]] std::expected<std::int64_t, sql::error> prune_job_events(sql::database& db, timestamp read_before,
                                                                       std::int64_t max_jobs);
/// A job's events in topic order (offset); empty when the monitor holds none of it.
[[nodiscard]] std::expected<std::vector<job_event_row>, sql::error> load_job_events(sql::database& db,
                                                                                    const std::string& job_id);
/// Up to `limit` job ids starting with `prefix`, the most recently read first.
[[nodiscard]] std::expected<std::vector<std::string>, sql::error> find_jobs(sql::database& db,
                                                                            const std::string& prefix, int limit);

}  // namespace horizons::health_monitor
