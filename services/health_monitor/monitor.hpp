// The health monitor service: every `interval` it evaluates the brokers, the
// partitions and the lag of each watched consumer group, publishes what it
// found, raises and resolves alerts, and serves /healthz, /metrics and the
// live dashboard (http_endpoint.hpp).
//
//   horizons::health_monitor::options options{.config = config, .data_dir = "horizons-data"};
//   std::jthread monitor([&](std::stop_token stop) {
//     if (auto ran = horizons::health_monitor::run(options, stop); !ran) spdlog::error("{}", ran.error());
//   });
//   // curl -s http://127.0.0.1:9464/healthz ; monitor.request_stop() on SIGTERM
//
// Between evaluations a reader of its own (a thread, no group, from the
// beginning) reads every topic of the catalogue and its .dlq twin: job-lifecycle
// into the job tally and the job timelines, every topic's records written since
// the monitor started into the traffic (events per second and latency from the
// produced-at header to the moment it read them), the .dlq topics into the
// dead-letter counts. If the other topics cannot be read it reads job-lifecycle
// alone.
// One evaluation:
//   1. takes what the reader found since the last one; runs check_cluster(); then, in parallel,
//      consumer_lag() of every watched (group, topics), each bounded by
//      `measure_timeout`. A topic with a partition whose leader is missing or
//      unreachable is not measured but judged `error`: librdkafka's watermark
//      query waits for a dead leader beyond any timeout. A measurement caught
//      by a leader dying after the cluster check is given up on after
//      `measure_timeout` + 1 s (`error`; its thread is left to finish on its
//      own, and the group is not measured again until it has; run() waits up
//      to 2 × `measure_timeout` for such threads before it returns);
//   2. in one SQLite transaction on <data_dir>/health-monitor/state.db: stores
//      the job events read (pruned to `job_retention` and `max_jobs_kept`), adds
//      the lag observations to the stored sliding windows and judges them
//      (lag_rule.hpp),
//      reconciles the open alerts, and puts into the transactional outbox one
//      `system.health.check` (message broker and database components, jobs
//      active / pending / failed in 24 h, queue depth = the job-processor
//      group's lag, response time), one `consumer.lag.evaluated` per (group,
//      topic), and the alerts: `alert.raised` when a (group, topic) or the
//      message broker leaves ok (severity warning for warning and stalled,
//      critical for stopped, error and any broker, leader or whole cluster
//      missing; raised again with the same id when it gets worse) and
//      `alert.resolved` when it is ok again. Alert ids are stable:
//      "consumer-lag:<group>:<topic>" and "message-broker";
//   3. publishes the snapshot to HTTP (with the last alerts raised or resolved)
//      and calls `on_evaluated`.
// The outbox relay (services/common) publishes the events after the commit,
// so an alert's state and its event are kept or lost together: a restarted
// monitor neither raises an open alert twice nor forgets to resolve it, and
// it goes on judging with the stored windows. Monitors sharing a data dir
// serialise their evaluations on the database and share windows and alerts.
//
// Stopping: run() finishes the evaluation in hand, stops the HTTP server (one it
// started; an endpoint given in `http` goes on serving the last evaluation),
// publishes what is left in the outbox (up to `drain_timeout`; the rest stays
// for the next start) and returns.
// Threads: run() blocks the calling thread; the observer runs on it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

#include <horizons/config.hpp>

#include "services/common/relay_producer.hpp"
#include "services/common/service_descriptor.hpp"
#include "services/common/sql/sql.hpp"
#include "services/health_monitor/http_endpoint.hpp"
#include "services/health_monitor/lag_rule.hpp"
#include "services/health_monitor/snapshot.hpp"

namespace horizons::health_monitor {

namespace detail {
inline constexpr std::array topics{topic_id::job_lifecycle, topic_id::job_metrics, topic_id::notifications,
                                   topic_id::audit_trail, topic_id::system_health};
inline constexpr std::array routes{
    services::http_route{.method = "GET", .path = "/healthz", .what = "the latest evaluation as JSON; 503 unless ok"},
    services::http_route{.method = "GET",
                         .path = "/metrics",
                         .what = "the latest evaluation and the process's metrics in Prometheus text format"},
    services::http_route{.method = "GET", .path = "/", .what = "the live dashboard (page, script, style embedded)"},
    services::http_route{.method = "GET", .path = "/api/overview", .what = "the latest evaluation for the dashboard"},
    services::http_route{.method = "GET", .path = "/api/history", .what = "the last evaluations, oldest first"},
    services::http_route{.method = "GET", .path = "/api/jobs/{job_id}", .what = "one job's lifecycle events"},
    services::http_route{.method = "GET", .path = "/api/stream", .what = "Server-Sent Events: one per evaluation"},
};
}  // namespace detail

/// Reads every topic without a consumer group (a reader of its own, from the beginning at start, for the
/// job tally, the job timelines and the traffic); no handlers. It writes system-health, whose catalogue
/// group names it.
inline constexpr services::service_descriptor descriptor{
    .name = "health-monitor", .group = "", .topics = detail::topics, .handles = {}, .routes = detail::routes};

/// A consumer group and the topics whose lag is judged.
struct watched_group {
  std::string group{};
  std::vector<std::string> topics{};
};

/// The group and topics of every service in `services` that reads in a group, in that order.
[[nodiscard]] std::vector<watched_group> groups_of(std::span<const services::service_descriptor* const> services);
/// groups_of() every service of the platform (services/descriptors.hpp): job-processor on
/// job-lifecycle, metrics-aggregator on job-metrics, notification-dispatcher on job-lifecycle and
/// notifications, compliance-auditor on audit-trail.
[[nodiscard]] std::vector<watched_group> platform_groups();

struct options {
  client_config config{};
  /// State lives in <data_dir>/health-monitor/state.db, or under `state` (service_options).
  std::filesystem::path data_dir{"horizons-data"};
  std::optional<sql::location> state{};
  /// The process's shared producer for outbox relays; null: the service's relay makes its own.
  std::shared_ptr<services::relay_producer> relay_producer{};
  std::chrono::milliseconds interval{2'000};
  /// "host:port" for /healthz, /metrics and the dashboard; port 0 picks a free one; empty: no HTTP.
  std::string http_listen{"127.0.0.1:9464"};
  /// An endpoint the caller started (and keeps after run() returns: `horizons run --dashboard`); when set,
  /// `http_listen` is not used.
  std::shared_ptr<http_endpoint> http{};
  /// Empty: platform_groups().
  std::vector<watched_group> groups{};
  /// Brokers the cluster should have; 0: inferred from metadata and replica lists.
  int expected_brokers = 0;
  lag_rule_options lag_rule{};
  /// Bound on each lag measurement and on reaching the cluster.
  std::chrono::milliseconds measure_timeout{10'000};
  /// On stop: how long to keep publishing what the outbox holds.
  std::chrono::milliseconds drain_timeout{30'000};
  /// Job timelines (GET /api/jobs/{id}) are kept this long after they were read, for at most this many jobs.
  std::chrono::hours job_retention{24};
  std::int64_t max_jobs_kept = 100'000;
};

/// Called after every evaluation with what it found.
using observer = std::function<void(const snapshot&)>;

/// Runs the monitor until `stop` is requested. Errors: bad options, an HTTP address that cannot be
/// bound, a state database that cannot be opened. A cluster that cannot be reached is not an error:
/// it is reported (status down) and evaluated again at the next interval.
[[nodiscard]] std::expected<void, std::string> run(const options& opts, std::stop_token stop,
                                                   const observer& on_evaluated = {});

}  // namespace horizons::health_monitor
