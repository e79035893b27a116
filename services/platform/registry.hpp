// The service registry: what `horizons serve <name>` runs, found by the
// descriptors of services/descriptors.hpp.
//
//   const auto* service = horizons::platform::find_service("metrics-aggregator");
//   if (!service) return fail(fmt::format("expected one of {}", horizons::platform::service_names()));
//   auto done = horizons::platform::serve(*service, {.config = config, .data_dir = "horizons-data"}, stop_token);
//
// serve() blocks the calling thread until `stop` (SIGTERM in `horizons
// serve`), then the service stops gracefully (services/common/service_host.hpp);
// an error names what could not start or go on. Several services may be
// served on threads of one process (`horizons run` does). find_service()
// knows the platform's services (what `horizons run` starts);
// find_served_service() also the standalone ones (the schema registry).
#pragma once

#include <chrono>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include <horizons/config.hpp>

#include "services/common/relay_producer.hpp"
#include "services/common/service_descriptor.hpp"
#include "services/common/sql/sql.hpp"
#include "services/orchestrator/orchestrator.hpp"

namespace horizons::platform {

/// How to run one service. Settings not in `config`/`data_dir` use the service's defaults except those given here.
struct serve_options {
  client_config config{};
  std::filesystem::path data_dir{"horizons-data"};
  /// Where the services keep their state (services::service_options::state); none: SQLite in data_dir.
  std::optional<sql::location> state{};
  orchestrator::simulation sim{};
  orchestrator::scheduler_options scheduling{};  // the orchestrator's: simulated, or real jobs on Slurm
  std::string http_listen{};  // the service's HTTP routes (its descriptor's); empty: the service's default
  /// Schema registry: how long its writer may go unheard before another instance takes over; 0: its default.
  std::chrono::milliseconds writer_lease{0};
  /// Schema registry: where other instances reach this one; empty: http://<listen address>.
  std::string advertised_url{};
  std::string webhook_url{};  // notification dispatcher
  /// Shared by the outbox relays of every service served in this process; null: each relay makes its own.
  std::shared_ptr<services::relay_producer> relay_producer{};
  /// Called once, on the service's thread, when its consumer first holds its partitions (services with
  /// a consumer group; the health monitor never calls it).
  std::function<void()> on_ready{};
  /// Called once with the service's URL when its HTTP API answers (the schema registry).
  std::function<void(const std::string& url)> on_listening{};
  /// host:port of a listener of its own for GET /metrics (port 0: any free port); empty: none. Services
  /// with an HTTP API serve /metrics there too.
  std::string metrics_listen{};
  /// Called once with the metrics listener's URL (".../metrics") when it answers.
  std::function<void(const std::string& url)> on_metrics_listening{};
};

/// The service of that name (a descriptor of services::platform_services); null if none.
[[nodiscard]] const services::service_descriptor* find_service(std::string_view name);
/// "orchestrator, metrics-aggregator, ...": the names find_service() knows, for help and errors.
[[nodiscard]] std::string service_names();

/// The service of that name among the platform's and the standalone ones; null if none.
[[nodiscard]] const services::service_descriptor* find_served_service(std::string_view name);
/// The names find_served_service() knows.
[[nodiscard]] std::string served_service_names();

/// Creates or migrates the tables of every service of the platform under the state root `root`, as each
/// does on start (`horizons state migrate`); `on_migrated` hears each service once it is done.
[[nodiscard]] std::expected<void, std::string> migrate_state(
    const sql::location& root, const std::function<void(std::string_view service)>& on_migrated = {});

/// Runs `service` (one of services::platform_services or services::standalone_services) until `stop`.
[[nodiscard]] std::expected<void, std::string> serve(const services::service_descriptor& service,
                                                     const serve_options& options, std::stop_token stop);

}  // namespace horizons::platform
