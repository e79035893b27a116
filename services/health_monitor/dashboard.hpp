// The dashboard's JSON API and its Server-Sent Events framing: what
// http_endpoint serves under /api for the page (dashboard/*.js) and for
// scripts. Pure functions of the monitor's snapshots and state, plus a
// bounded ring of the last evaluations.
//
//   evaluation_history history(300);
//   history.add(latest);                               // after every evaluation
//   std::string body = render_history(history);        // GET /api/history
//   std::string frame = sse_frame("evaluation", latest.evaluations, render_overview(&latest));
//   // "id: 7\nevent: evaluation\ndata: {...}\n\n"      // GET /api/stream, one per evaluation
//
// The documents (every time RFC 3339 UTC, every duration in ms unless named _s):
//   GET /api/overview   {"evaluation", "checked_at" (null before the first), "status", "reasons",
//                        "brokers", "jobs" (by state), "groups" (lag and the rule's verdict),
//                        "topics" (events/s and latency percentiles over the last interval),
//                        "dead_letters" {topic: records}, "open_alerts", "recent_alerts",
//                        "point" (this evaluation as one /api/history point)}
//   GET /api/history    {"capacity", "points": [point, ...]} oldest first, at most capacity; a point:
//                        {"evaluation", "t", "status", "jobs" {STATE: n}, "events_per_s" {topic: x},
//                         "p99_ms" {topic: x}, "lag" [{"group", "topic", "messages", "seconds",
//                         "status"}], "brokers_up", "under_replicated", "dead_letters" (total)}
//   GET /api/jobs/{id}  {"job_id", "events": [{"event_type", "status", "occurred_at", "read_at",
//                        "detail", "event_id", "partition", "offset"}]} in topic order; 404 when none
//   GET /api/jobs?prefix=P&limit=N  {"jobs": [id, ...]} most recently read first (limit 1-100, default 20)
// Threads: the functions are pure; evaluation_history is a plain value (the endpoint locks it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "services/health_monitor/monitor_state.hpp"
#include "services/health_monitor/snapshot.hpp"

namespace horizons::health_monitor {

/// The last `capacity` evaluations, each kept as its rendered /api/history point.
class evaluation_history {
 public:
  explicit evaluation_history(std::size_t capacity);
  void add(const snapshot& evaluated);
  [[nodiscard]] std::size_t capacity() const { return capacity_; }
  [[nodiscard]] const std::deque<std::string>& points() const { return points_; }

 private:
  std::size_t capacity_;
  std::deque<std::string> points_;
};

/// GET /api/overview; `latest` null before the first evaluation.
[[nodiscard]] std::string render_overview(const snapshot* latest);
/// One /api/history point (JSON object).
[[nodiscard]] std::string render_point(const snapshot& evaluated);
/// GET /api/history.
[[nodiscard]] std::string render_history(const evaluation_history& history);
/// GET /api/jobs/{id}.
[[nodiscard]] std::string render_job(std::string_view job_id, std::span<const job_event_row> events);
/// GET /api/jobs?prefix=...
[[nodiscard]] std::string render_job_list(std::span<const std::string> jobs);
/// One Server-Sent Events message: "id: <id>\nevent: <event>\n" then one "data: " line per line of
/// `data` (CR LF, CR and LF all end a line), then a blank line. `event` must be one line.
[[nodiscard]] std::string sse_frame(std::string_view event, std::uint64_t id, std::string_view data);

}  // namespace horizons::health_monitor
