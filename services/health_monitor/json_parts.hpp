// JSON that /healthz (http_endpoint.cpp) and the dashboard's /api/overview (dashboard.cpp) both
// show, written once so that the two documents cannot drift apart.
#pragma once

#include <nlohmann/json.hpp>

#include <span>

#include "services/health_monitor/snapshot.hpp"

namespace horizons::health_monitor {

/// {"status", "detail", "up", "expected", "leaderless_partitions", "leader_unreachable_partitions",
///  "under_replicated_partitions"}
[[nodiscard]] inline nlohmann::ordered_json brokers_json(const broker_state& b) {
  return {{"status", status_name(b.status)},
          {"detail", b.detail},
          {"up", b.brokers_up},
          {"expected", b.expected_brokers},
          {"leaderless_partitions", b.leaderless},
          {"leader_unreachable_partitions", b.leader_unreachable},
          {"under_replicated_partitions", b.under_replicated}};
}

/// [{"group", "topic", "status", "lag_messages", "lag_seconds", "reason"}, ...]
[[nodiscard]] inline nlohmann::ordered_json groups_json(std::span<const topic_verdict> groups) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& g : groups) {
    out.push_back({{"group", g.group},
                   {"topic", g.topic},
                   {"status", status_name(g.status)},
                   {"lag_messages", g.lag_messages},
                   {"lag_seconds", g.lag_seconds},
                   {"reason", g.reason}});
  }
  return out;
}

}  // namespace horizons::health_monitor
