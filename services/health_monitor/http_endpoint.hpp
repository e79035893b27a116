// The health monitor's HTTP face: GET /healthz and GET /metrics, served from
// the latest snapshot on a thread of its own.
//
//   auto http = horizons::health_monitor::http_endpoint::start("127.0.0.1:9464");   // port 0: any free port
//   if (!http) return std::unexpected(http.error());   // "cannot listen on 127.0.0.1:9464: ..."
//   (*http)->publish(latest);                           // after every evaluation
//   // curl -s http://127.0.0.1:9464/healthz ; curl -s http://127.0.0.1:9464/metrics
//
// /healthz: JSON {"status": "ok"|"degraded"|"down", "checked_at", "reasons",
// "brokers", "database", "jobs", "groups": [{group, topic, status,
// lag_messages, lag_seconds, reason}], "open_alerts", ...}; HTTP 200 when ok
// or degraded, 503 when down or before the first evaluation.
// /metrics: Prometheus text exposition format 0.0.4 (render_metrics).
// Anything else is 404. Destruction stops the server and joins its thread.
// Threads: publish() from any thread; requests are answered on httplib's threads.
#pragma once

#include <expected>
#include <memory>
#include <string>

#include "services/health_monitor/snapshot.hpp"

namespace horizons::health_monitor {

class http_endpoint {
 public:
  /// Binds `listen` ("host:port", "[v6-address]:port"; port 0 picks a free port) and starts serving.
  /// Fails with a message naming the address when it is malformed or cannot be bound.
  [[nodiscard]] static std::expected<std::unique_ptr<http_endpoint>, std::string> start(const std::string& listen);
  ~http_endpoint();
  http_endpoint(const http_endpoint&) = delete;
  http_endpoint& operator=(const http_endpoint&) = delete;

  /// Serves `latest` from now on.
  void publish(snapshot latest);
  /// The bound address, "host:port" with the actual port.
  [[nodiscard]] const std::string& address() const;

  struct impl;

 private:
  explicit http_endpoint(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

/// The /healthz body (JSON, one line).
[[nodiscard]] std::string render_healthz(const snapshot& latest);
/// The /healthz status code: 503 when down, else 200.
[[nodiscard]] int healthz_code(const snapshot& latest);
/// The /metrics body: # HELP and # TYPE before each family, label values escaped (\\, \", \n).
[[nodiscard]] std::string render_metrics(const snapshot& latest);

}  // namespace horizons::health_monitor
