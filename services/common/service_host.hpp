// What every consumer-driven service shares: its state store, its outbox
// relay, and the poll loop that ends gracefully.
//
//   auto host = horizons::services::service_host::start("metrics-aggregator", options);
//   auto consumer = horizons::consumer::create({.config = options.config, .topics = {topic_id::job_metrics}});
//   (*consumer)->on<job_metrics_recorded>(...uses (*host)->store()...);
//   return (*host)->run(**consumer, stop);     // until stop; then commit, leave, drain the outbox
//
// Stopping (SIGTERM in `horizons serve`) finishes the record in hand, commits
// the consumer's offsets, leaves the group, then publishes every event the
// service committed to its outbox: nothing is lost, and what was in flight is
// redelivered to a successor and deduplicated there.
#pragma once

#include <chrono>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include <horizons/config.hpp>
#include <horizons/consumer.hpp>

#include "services/common/outbox_relay.hpp"
#include "services/common/state_store.hpp"

namespace horizons::services {

/// What every service takes.
struct service_options {
  client_config config{};
  std::filesystem::path data_dir{"horizons-data"};
};

class service_host {
 public:
  /// Opens <data_dir>/<name>/state.db and starts its outbox relay.
  [[nodiscard]] static std::expected<std::unique_ptr<service_host>, std::string> start(std::string name,
                                                                                       const service_options& options);

  [[nodiscard]] state_store& store() { return store_; }
  [[nodiscard]] const std::string& name() const { return name_; }

  /// Polls `source` until `stop`, calling `tick` (if any) about every `tick_every` on the same thread.
  /// Then closes the consumer and drains the outbox (up to `drain_timeout`).
  [[nodiscard]] std::expected<void, std::string> run(consumer& source, std::stop_token stop,
                                                     const std::function<void()>& tick = {},
                                                     std::chrono::milliseconds tick_every = std::chrono::milliseconds(20),
                                                     std::chrono::milliseconds drain_timeout = std::chrono::seconds(30));
  /// Drains and stops the relay (run() does this); returns rows left for the next start.
  std::size_t finish(std::chrono::milliseconds timeout);

 private:
  service_host(std::string name, std::unique_ptr<outbox_relay> relay, state_store store)
      : name_(std::move(name)), relay_(std::move(relay)), store_(std::move(store)) {}
  std::string name_;
  std::unique_ptr<outbox_relay> relay_;
  state_store store_;
};

}  // namespace horizons::services
