#include "services/common/relay_producer.hpp"

#include <fmt/format.h>

namespace horizons::services {

std::expected<std::shared_ptr<relay_producer>, std::string> relay_producer::create(client_config config,
                                                                                   std::string_view process) {
  config.client_id = fmt::format("{}-relay", process);
  std::shared_ptr<relay_producer> shared(new relay_producer(std::move(config)));
  if (auto made = shared->make_producer(); !made) return std::unexpected(made.error());
  return shared;
}

relay_producer::~relay_producer() {
  // Only ours once the last relay dropped its connection; what a relay that ran out of time left queued
  // is purged (its rows were released and stay in the outbox for the next start).
  if (current_ && current_.use_count() == 1) current_->close(std::chrono::milliseconds(0));
}

std::expected<void, std::string> relay_producer::make_producer() {
  // Several services' outboxes feed this queue: room for a few relays' claim batches in flight at once.
  auto made = producer::create({
      .config = config_,
      .on_delivery = {},
      .enqueue_timeout = std::chrono::milliseconds(5'000),
      .max_queued_messages = 100'000,
  });
  if (!made) return std::unexpected(made.error().message);
  current_ = std::shared_ptr<producer>(std::move(*made));
  ++generation_;
  return {};
}

std::expected<relay_producer::connection, std::string> relay_producer::connect(delivery_handler on_delivery) {
  std::scoped_lock lock(mutex_);
  if (!current_) {
    if (auto made = make_producer(); !made) return std::unexpected(made.error());
  }
  auto channel = current_->channel(std::move(on_delivery));
  if (!channel) return std::unexpected(channel.error().message);
  return connection{.source = current_, .channel = std::move(*channel), .generation = generation_};
}

std::expected<void, std::string> relay_producer::recover(std::uint64_t failed,
                                                         std::chrono::milliseconds close_timeout) {
  std::scoped_lock lock(mutex_);
  if (failed != generation_) return {};  // another relay recovered already
  if (current_) {
    // Publishing on it fails at once now; closing lets what is in flight report to its relays.
    current_->close(close_timeout);
    current_.reset();  // the relays' connections keep it alive until they drop them
  }
  return make_producer();
}

std::uint64_t relay_producer::generation() const {
  std::scoped_lock lock(mutex_);
  return generation_;
}

}  // namespace horizons::services
