#include "services/platform/registry.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "services/common/http_listener.hpp"
#include "services/common/state_store.hpp"
#include "services/compliance_auditor/ledger.hpp"
#include "services/descriptors.hpp"
#include "services/health_monitor/monitor_state.hpp"
#include "services/metrics_aggregator/fold.hpp"
#include "services/orchestrator/job_store.hpp"

namespace horizons::platform {
namespace {

using serve_function = std::expected<void, std::string> (*)(const serve_options&, std::stop_token);
/// Creates or migrates the service's own tables (each service's run() does the same on start), given
/// its opened state store (whose shared tables are migrated by then) and the state root.
using migrate_function = std::expected<void, std::string> (*)(services::state_store&, const sql::location& root);

struct entry {
  const services::service_descriptor* descriptor;
  serve_function serve;
  migrate_function migrate = nullptr;  // null: the service keeps no state in the state root
};

services::service_options service_options_of(const serve_options& o) {
  return {.config = o.config,
          .data_dir = o.data_dir,
          .state = o.state,
          .relay_producer = o.relay_producer,
          .on_ready = o.on_ready};
}

// How each service of services::platform_services is started from serve_options. The health monitor's
// options have no relay producer to pass: its relay makes its own.
constexpr std::array<entry, services::platform_services.size()> entries{{
    {&orchestrator::descriptor,
     [](const serve_options& o, std::stop_token stop) {
       return orchestrator::run(
           {.service = service_options_of(o), .sim = o.sim, .scheduling = o.scheduling, .http_listen = o.http_listen},
           stop);
     },
     [](services::state_store& store, const sql::location&) { return orchestrator::job_store(store.db()).prepare(); }},
    {&metrics_aggregator::descriptor,
     [](const serve_options& o, std::stop_token stop) {
       return metrics_aggregator::run({.service = service_options_of(o)}, stop);
     },
     [](services::state_store& store, const sql::location&) { return metrics_aggregator::job_folds(store).prepare(); }},
    {&notification_dispatcher::descriptor,
     [](const serve_options& o, std::stop_token stop) {
       return notification_dispatcher::run(
           {.service = service_options_of(o), .email = {}, .webhook = {.url = o.webhook_url}}, stop);
     },
     [](services::state_store& store, const sql::location&) { return notification_dispatcher::prepare(store.db()); }},
    {&compliance::descriptor,
     [](const serve_options& o, std::stop_token stop) {
       return compliance::run({.service = service_options_of(o)}, stop);
     },
     [](services::state_store&, const sql::location& root) -> std::expected<void, std::string> {
       auto opened = compliance::ledger::open(compliance::ledger::location_in(root));
       if (!opened) return std::unexpected(opened.error().message);
       return {};
     }},
    {&health_monitor::descriptor,
     [](const serve_options& o, std::stop_token stop) {
       health_monitor::options monitor{
           .config = o.config, .data_dir = o.data_dir, .state = o.state, .relay_producer = o.relay_producer};
       if (!o.http_listen.empty()) monitor.http_listen = o.http_listen;
       return health_monitor::run(monitor, stop);
     },
     [](services::state_store& store, const sql::location&) -> std::expected<void, std::string> {
       if (auto made = health_monitor::create_monitor_tables(store.db()); !made)
         return std::unexpected(made.error().message);
       return {};
     }},
}};

// The same for services::standalone_services.
constexpr std::array<entry, services::standalone_services.size()> standalone_entries{{
    {&schema_registry_service::descriptor,
     [](const serve_options& o, std::stop_token stop) {
       schema_registry_service::options registry{.config = o.config};
       if (!o.http_listen.empty()) registry.listen = o.http_listen;
       if (o.writer_lease.count() > 0) registry.writer_lease = o.writer_lease;
       registry.advertised_url = o.advertised_url;
       return schema_registry_service::run(registry, std::move(stop), o.on_listening);
     }},
}};

constexpr bool entries_follow_the_platform_list() {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].descriptor != services::platform_services[i]) return false;
  }
  return true;
}
static_assert(entries_follow_the_platform_list(), "one entry per service of services::platform_services, in its order");

constexpr bool standalone_entries_follow_their_list() {
  for (std::size_t i = 0; i < standalone_entries.size(); ++i) {
    if (standalone_entries[i].descriptor != services::standalone_services[i]) return false;
  }
  return true;
}
static_assert(standalone_entries_follow_their_list(), "one entry per service of services::standalone_services");

}  // namespace

const services::service_descriptor* find_service(std::string_view name) {
  auto found = std::ranges::find(services::platform_services, name, &services::service_descriptor::name);
  return found == services::platform_services.end() ? nullptr : *found;
}

std::string service_names() {
  std::string list;
  for (const auto* service : services::platform_services)
    list += fmt::format("{}{}", list.empty() ? "" : ", ", service->name);
  return list;
}

const services::service_descriptor* find_served_service(std::string_view name) {
  if (const auto* platform_service = find_service(name)) return platform_service;
  auto found = std::ranges::find(services::standalone_services, name, &services::service_descriptor::name);
  return found == services::standalone_services.end() ? nullptr : *found;
}

std::string served_service_names() {
  auto list = service_names();
  for (const auto* service : services::standalone_services) list += fmt::format(", {}", service->name);
  return list;
}

std::expected<void, std::string> serve(const services::service_descriptor& service, const serve_options& options,
                                       std::stop_token stop) {
  std::unique_ptr<services::http_listener> metrics;
  if (!options.metrics_listen.empty()) {
    auto bound = services::http_listener::bind(options.metrics_listen);
    if (!bound) return std::unexpected(fmt::format("{}: --metrics: {}", service.name, bound.error()));
    metrics = std::move(*bound);
    metrics->serve();
    if (options.on_metrics_listening) options.on_metrics_listening(metrics->url() + "/metrics");
  }
  auto found = std::ranges::find(entries, &service, &entry::descriptor);
  if (found != entries.end()) return found->serve(options, std::move(stop));
  auto standalone = std::ranges::find(standalone_entries, &service, &entry::descriptor);
  if (standalone != standalone_entries.end()) return standalone->serve(options, std::move(stop));
  return std::unexpected(fmt::format("{} is not a service of the platform", service.name));
}

std::expected<void, std::string> migrate_state(const sql::location& root,
                                               const std::function<void(std::string_view service)>& on_migrated) {
  for (const auto& e : entries) {
    auto store = services::state_store::open(services::state_location(root, e.descriptor->name));
    if (!store) return std::unexpected(fmt::format("{}: {}", e.descriptor->name, store.error()));
    if (e.migrate) {
      if (auto done = e.migrate(*store, root); !done)
        return std::unexpected(fmt::format("{}: {}", e.descriptor->name, done.error()));
    }
    if (on_migrated) on_migrated(e.descriptor->name);
  }
  return {};
}

}  // namespace horizons::platform
