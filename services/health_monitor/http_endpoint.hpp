// The health monitor's HTTP face: GET /healthz, GET /metrics and the live
// dashboard (the page at /, its JSON API under /api and its Server-Sent
// Events stream), served from the latest snapshot on threads of its own.
//
//   auto http = horizons::health_monitor::http_endpoint::start("127.0.0.1:9464");   // port 0: any free port
//   if (!http) return std::unexpected(http.error());   // "cannot listen on 127.0.0.1:9464: ..."
//   (*http)->serve_jobs_from(store.where());            // GET /api/jobs/... reads the monitor's state
//   (*http)->publish(latest);                           // after every evaluation
//   // curl -s http://127.0.0.1:9464/healthz ; curl -N http://127.0.0.1:9464/api/stream
//
// /healthz: JSON {"status": "ok"|"degraded"|"down", "checked_at", "reasons",
// "brokers", "database", "jobs", "groups": [{group, topic, status,
// lag_messages, lag_seconds, reason}], "open_alerts", ...}; HTTP 200 when ok
// or degraded, 503 when down or before the first evaluation.
// /metrics: the process's Prometheus metrics (horizons/metrics.hpp) and the
// latest evaluation's families (render_metrics), text format 0.0.4; one
// endpoint per process, or the evaluation's families appear twice.
// / (also /index.html), /dashboard.js, /dashboard.css: the dashboard page,
// embedded in the binary at build time (services/health_monitor/dashboard/).
// /api/overview, /api/history, /api/jobs/{id}, /api/jobs?prefix=: JSON
// (dashboard.hpp); /api/jobs/... is 503 until serve_jobs_from() names the
// state database. /api/stream: text/event-stream, the latest evaluation at
// once, then one `evaluation` event per publish() (the /api/overview
// document, `id` = its evaluation number) and a comment every `keepalive`;
// at most `max_streams` at a time (then 503).
// The history (/api/history) keeps the last `history_size` evaluations.
// Anything else is 404. Destruction ends the streams, stops the server and joins its thread;
// an endpoint may outlive the monitor that published to it (the page then shows the last evaluation).
// Threads: publish() and serve_jobs_from() from any thread; requests are answered on httplib's threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>

#include "services/common/http_listener.hpp"
#include "services/common/sql/sql.hpp"
#include "services/health_monitor/snapshot.hpp"

namespace horizons::health_monitor {

struct endpoint_options {
  std::size_t history_size = 300;  // evaluations kept for /api/history (10 minutes at the 2 s interval)
  std::size_t max_streams = 8;     // concurrent /api/stream clients
  std::chrono::milliseconds keepalive{10'000};
};

class http_endpoint {
 public:
  /// Binds `listen` ("host:port", "[v6-address]:port"; port 0 picks a free port) and starts serving.
  /// Fails with a message naming the address when it is malformed or cannot be bound.
  [[nodiscard]] static std::expected<std::unique_ptr<http_endpoint>, std::string> start(
      const std::string& listen, const endpoint_options& options = {});
  ~http_endpoint();
  http_endpoint(const http_endpoint&) = delete;
  http_endpoint& operator=(const http_endpoint&) = delete;

  /// Serves `latest` from now on, adds it to the history and sends it to every stream.
  void publish(snapshot latest);
  /// GET /api/jobs/... reads the job timelines from this state database (monitor_state.hpp), opened
  /// per request; a database that cannot be opened or read is a 503 naming it.
  void serve_jobs_from(sql::location state_db);
  /// The bound address, "host:port" with the actual port.
  [[nodiscard]] const std::string& address() const;
  /// "http://<address>/": the dashboard.
  [[nodiscard]] std::string url() const;
  /// The listener its routes answer on (http_listener::answer serves a request in memory).
  [[nodiscard]] services::http_listener& listener();

  struct impl;

 private:
  explicit http_endpoint(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

/// The /healthz body (JSON, one line).
[[nodiscard]] std::string render_healthz(const snapshot& latest);
/// The /healthz status code: 503 when down, else 200.
[[nodiscard]] int healthz_code(const snapshot& latest);
/// The evaluation's part of /metrics, in the text format (prometheus-cpp's serializer).
[[nodiscard]] std::string render_metrics(const snapshot& latest);

}  // namespace horizons::health_monitor
