// The one producer the outbox relays of a process publish through: records
// of several services bound for the same broker travel in the same requests
// (librdkafka's advice: one producer per process).
//
//   auto shared = horizons::services::relay_producer::create(config, "horizons-run");   // client id
//   "horizons-run-relay" service_options options{.config = config, .data_dir = dir, .relay_producer = *shared};
//   // every service_host::start(..., options) of the process: its relay publishes through *shared
//
// Each relay connects with its own delivery handler (a producer channel,
// producer.hpp) and hears only its own reports. A fatal producer error stops
// the producer for every relay at once: the first relay to notice calls
// recover(), which closes the failed producer (its records get their reports,
// failed or not) and creates the next generation once; every relay then
// releases the rows it had not heard about and connects again.
//
// Threads: every member may be called from any thread. A connection keeps
// its producer alive by itself, so the relay_producer may go first.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <horizons/config.hpp>
#include <horizons/producer.hpp>

namespace horizons::services {

class relay_producer {
 public:
  /// One relay's way to the producer. Its destructor drops the channel first, then the producer reference;
  /// never assign over a live one (assignment would go the other way): reset an optional instead.
  struct connection {
    std::shared_ptr<producer> source;    // the generation the channel belongs to (fatal_error() lives here)
    std::unique_ptr<publisher> channel;  // publishes; reports go to the handler given to connect()
    std::uint64_t generation = 0;
  };

  /// Creates the producer (client id "<process>-relay"); fails as producer::create() does.
  [[nodiscard]] static std::expected<std::shared_ptr<relay_producer>, std::string> create(client_config config,
                                                                                          std::string_view process);
  /// Closes the producer with no wait: each relay waited for its own records when it stopped.
  ~relay_producer();
  relay_producer(const relay_producer&) = delete;
  relay_producer& operator=(const relay_producer&) = delete;

  /// A channel on the current generation whose reports go to `on_delivery` only.
  [[nodiscard]] std::expected<connection, std::string> connect(delivery_handler on_delivery);
  /// After a fatal error on generation `failed`: the first call closes it (up to `close_timeout`, reports
  /// still reach their channels) and creates the next; later calls for that generation return at once.
  /// A failed creation is tried again by the next call.
  [[nodiscard]] std::expected<void, std::string> recover(std::uint64_t failed, std::chrono::milliseconds close_timeout);

  [[nodiscard]] const std::string& client_id() const { return config_.client_id; }
  [[nodiscard]] std::uint64_t generation() const;

 private:
  explicit relay_producer(client_config config) : config_(std::move(config)) {}
  [[nodiscard]] std::expected<void, std::string> make_producer();

  client_config config_;
  mutable std::mutex mutex_;
  std::shared_ptr<producer> current_;  // null while a recovery has not yet made the next one
  std::uint64_t generation_ = 0;
};

}  // namespace horizons::services
