// What one evaluation of the health monitor found: what /healthz and
// /metrics serve and what run()'s observer receives.
//
//   void on_evaluated(const horizons::health_monitor::snapshot& s) {
//     if (s.status != horizons::health_monitor::overall_status::ok)
//       for (const auto& reason : s.reasons) spdlog::warn("{}", reason);
//   }
//
// Overall status: `down` when the message broker component is down (no
// broker answers); `degraded` when it is degraded, the monitor's own
// database failed, or any watched group is not ok; `ok` otherwise.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <horizons/events.hpp>
#include <horizons/timestamp.hpp>

#include "services/health_monitor/job_tally.hpp"
#include "services/health_monitor/lag_rule.hpp"
#include "services/health_monitor/traffic.hpp"

namespace horizons::health_monitor {

enum class overall_status : std::uint8_t { ok, degraded, down };

/// The message broker component: the cluster's brokers and partitions.
struct broker_state {
  health_status status = health_status::unknown;
  std::string detail{};
  int brokers_up = 0;
  int expected_brokers = 0;
  int leaderless = 0;
  int leader_unreachable = 0;
  int under_replicated = 0;
  double response_time_ms = 0;  // how long the cluster check took
};

/// An alert the monitor raised or resolved (what the dashboard lists as the last alerts).
struct alert_note {
  timestamp at{};
  std::string alert_id{};
  std::string action{};    // "raised" or "resolved"
  std::string severity{};  // the schema's symbol ("WARNING", "CRITICAL"); "" for resolved
  std::string message{};   // the alert's message, or the resolution
};

struct snapshot {
  timestamp checked_at{};
  overall_status status = overall_status::down;
  std::vector<std::string> reasons{};  // one line per problem; empty when ok
  broker_state brokers{};
  health_status database = health_status::unknown;  // the monitor's own SQLite state
  std::string database_detail{};
  std::vector<topic_verdict> groups{};  // per watched (group, topic)
  job_counts jobs{};
  std::int64_t queue_depth = 0;                         // the job-processor group's lag on job-lifecycle
  double response_time_ms = 0;                          // how long the whole evaluation took
  std::vector<std::string> open_alerts{};               // alert ids open after this evaluation
  std::uint64_t evaluations = 0;                        // evaluations since this process started
  std::uint64_t alerts_raised = 0;                      // alert.raised emitted since this process started
  std::string http_address{};                           // where /healthz and /metrics are served ("" without HTTP)
  std::vector<topic_traffic> topics{};                  // the monitor's reader, since the previous evaluation
  std::map<std::string, std::uint64_t> dead_letters{};  // per .dlq topic: records in it
  std::vector<alert_note> recent_alerts{};              // the last ones raised or resolved, oldest first
};

/// "ok", "degraded", "down".
[[nodiscard]] std::string_view status_name(overall_status status);
/// "healthy", "degraded", "down", "unknown".
[[nodiscard]] std::string_view status_name(health_status status);

}  // namespace horizons::health_monitor
