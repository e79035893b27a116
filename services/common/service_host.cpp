#include "services/common/service_host.hpp"

#include <utility>

#include <spdlog/spdlog.h>

namespace horizons::services {

std::expected<std::unique_ptr<service_host>, std::string> service_host::start(const service_descriptor& descriptor,
                                                                              const service_options& options) {
  auto where = state_location(state_root(options), descriptor.name);
  auto relay = outbox_relay::start({.database = where,
                                    .config = options.config,
                                    .service = std::string(descriptor.name),
                                    .producer = options.relay_producer});
  if (!relay) return std::unexpected(fmt::format("{}: {}", descriptor.name, relay.error()));
  auto* wake = relay->get();
  auto store = state_store::open(where, [wake] { wake->wake(); });
  if (!store) return std::unexpected(fmt::format("{}: {}", descriptor.name, store.error()));
  return std::unique_ptr<service_host>(new service_host(descriptor, options, std::move(*relay), std::move(*store)));
}

std::expected<std::unique_ptr<consumer>, std::string> service_host::subscribe() const {
  if (descriptor_.group.empty()) return std::unexpected(fmt::format("{}: the service has no consumer group", name()));
  auto config = config_;
  config.client_id = std::string(descriptor_.name);
  auto made = consumer::create({.config = config,
                                .topics = {descriptor_.topics.begin(), descriptor_.topics.end()},
                                .group = std::string(descriptor_.group),
                                .retry = {},
                                .start = start_position::earliest,
                                .undecodable = undecodable_policy::dead_letter});
  if (!made) return std::unexpected(fmt::format("{}: {}", name(), made.error().message));
  return std::move(*made);
}

std::expected<void, std::string> service_host::run(consumer& source, std::stop_token stop,
                                                   const std::function<void()>& tick,
                                                   std::chrono::milliseconds tick_every,
                                                   std::chrono::milliseconds drain_timeout) {
  std::expected<void, std::string> result;
  auto next_tick = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    auto polled =
        source.poll(tick ? std::min(tick_every, std::chrono::milliseconds(100)) : std::chrono::milliseconds(100));
    if (!polled) {
      result = std::unexpected(fmt::format("{}: {}", name(), polled.error().message));
      break;
    }
    // The rebalance callback ran inside poll(): the partitions are assigned by now.
    if (on_ready_ && source.stats().rebalances > 0) std::exchange(on_ready_, nullptr)();
    if (tick && std::chrono::steady_clock::now() >= next_tick) {
      tick();
      next_tick = std::chrono::steady_clock::now() + tick_every;
    }
  }
  if (auto closed = source.close(); !closed)
    spdlog::warn("{}: closing the consumer: {}", name(), closed.error().message);
  if (auto left = finish(drain_timeout); left > 0) {
    spdlog::warn("{}: {} outgoing events not yet acknowledged; kept in the outbox for the next start", name(), left);
  }
  return result;
}

std::size_t service_host::finish(std::chrono::milliseconds timeout) { return relay_ ? relay_->stop(timeout) : 0; }

}  // namespace horizons::services
