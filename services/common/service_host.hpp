// What every service shares: its state store, its outbox relay, the consumer
// its descriptor describes, and the poll loop that ends gracefully.
//
//   auto host = horizons::services::service_host::start(metrics_aggregator::descriptor, options);
//   auto consumer = (*host)->subscribe();      // the descriptor's group and topics
//   (*consumer)->on<job_metrics_recorded>(...uses (*host)->store()...);
//   return (*host)->run(**consumer, stop);     // until stop; then commit, leave, drain the outbox
//
// Stopping (SIGTERM in `horizons serve`) finishes the record in hand, commits
// the consumer's offsets, leaves the group, then publishes every event the
// service committed to its outbox: nothing is lost, and what was in flight is
// redelivered to a successor and deduplicated there.
//
// start() is the one place a service's outbox relay is created; it publishes
// through the process's shared relay producer when the options carry one
// (several services in one process: `horizons run`), else through its own. Threads: start(), subscribe() and run() from
// the thread that runs the service; store() belongs to that thread too.
#pragma once

#include <chrono>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include <horizons/config.hpp>
#include <horizons/consumer.hpp>

#include "services/common/outbox_relay.hpp"
#include "services/common/service_descriptor.hpp"
#include "services/common/state_store.hpp"

namespace horizons::services {

/// What every service takes.
struct service_options {
  client_config config{};
  /// Files the service writes (the dispatcher's e-mail outbox) and, unless `state` says otherwise, its
  /// SQLite database (<data_dir>/<name>/state.db).
  std::filesystem::path data_dir{"horizons-data"};
  /// Where the services keep their state (`--state`, HORIZONS_STATE_URL): a PostgreSQL database shared
  /// by every instance, or a SQLite directory; none: SQLite in `data_dir`.
  std::optional<sql::location> state{};
  /// The producer every outbox relay of the process shares; null: the service's relay makes its own.
  std::shared_ptr<services::relay_producer> relay_producer{};
  /// Called once by run(), on the service's thread, when its consumer first holds its partitions: from
  /// then on the service reads what is published (`horizons run` starts its workload after that).
  std::function<void()> on_ready{};
};

/// The state root the options name: `state`, else SQLite files under `data_dir`.
[[nodiscard]] inline sql::location state_root(const service_options& options) {
  return options.state.value_or(sql::location(options.data_dir));
}

class service_host {
 public:
  /// Opens the service's state (state_location(state_root(options), name)) and starts its outbox relay.
  /// Errors name the service.
  [[nodiscard]] static std::expected<std::unique_ptr<service_host>, std::string> start(
      const service_descriptor& descriptor, const service_options& options);

  /// A consumer in the descriptor's group on its topics (client id: the service's name), reading a new
  /// group from the earliest offset and dead-lettering records that do not decode. The descriptor must
  /// have a group.
  [[nodiscard]] std::expected<std::unique_ptr<consumer>, std::string> subscribe() const;

  [[nodiscard]] state_store& store() { return store_; }
  [[nodiscard]] const service_descriptor& descriptor() const { return descriptor_; }
  [[nodiscard]] std::string_view name() const { return descriptor_.name; }

  /// Polls `source` until `stop`, calling `tick` (if any) about every `tick_every` on the same thread.
  /// Then closes the consumer and drains the outbox (up to `drain_timeout`).
  [[nodiscard]] std::expected<void, std::string> run(
      consumer& source, std::stop_token stop, const std::function<void()>& tick = {},
      std::chrono::milliseconds tick_every = std::chrono::milliseconds(20),
      std::chrono::milliseconds drain_timeout = std::chrono::seconds(30));
  /// Drains and stops the relay (run() does this); returns rows left for the next start.
  std::size_t finish(std::chrono::milliseconds timeout);

 private:
  service_host(const service_descriptor& descriptor, const service_options& options,
               std::unique_ptr<outbox_relay> relay, state_store store)
      : descriptor_(descriptor),
        config_(options.config),
        on_ready_(options.on_ready),
        relay_(std::move(relay)),
        store_(std::move(store)) {}
  service_descriptor descriptor_;
  client_config config_;
  std::function<void()> on_ready_;
  std::unique_ptr<outbox_relay> relay_;
  state_store store_;
};

}  // namespace horizons::services
