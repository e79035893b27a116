// The health monitor's tables in its state database (<data_dir>/health-monitor/state.db),
// next to the shared outbox tables: the lag windows, so a restarted monitor goes on
// judging with the history it had, and the open alerts, so it neither raises an alert
// twice nor forgets to resolve one. Private to the service.
//
// Every function runs inside the caller's transaction (state_store::transact).
#pragma once

#include <expected>
#include <map>
#include <string>

#include <horizons/events.hpp>
#include <horizons/uuid.hpp>

#include "services/common/sqlite.hpp"
#include "services/health_monitor/lag_rule.hpp"

namespace horizons::health_monitor {

struct open_alert {
  std::string id{};
  std::string type{};
  alert_severity severity = alert_severity::unknown;
  uuid correlation_id{};  // of the alert.raised that opened it; alert.resolved joins that flow
};

/// Creates the monitor's tables. Idempotent.
[[nodiscard]] std::expected<void, sqlite::error> create_monitor_tables(sqlite::database& db);

/// An evaluator holding every stored window.
[[nodiscard]] std::expected<lag_evaluator, sqlite::error> load_windows(sqlite::database& db,
                                                                       const lag_rule_options& options);
/// Replaces the stored windows with the evaluator's.
[[nodiscard]] std::expected<void, sqlite::error> save_windows(sqlite::database& db, const lag_evaluator& evaluator);

[[nodiscard]] std::expected<std::map<std::string, open_alert>, sqlite::error> load_open_alerts(sqlite::database& db);
/// Inserts or replaces the alert `alert.id`.
[[nodiscard]] std::expected<void, sqlite::error> store_open_alert(sqlite::database& db, const open_alert& alert);
[[nodiscard]] std::expected<void, sqlite::error> remove_open_alert(sqlite::database& db, const std::string& id);

}  // namespace horizons::health_monitor
