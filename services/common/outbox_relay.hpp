// Publishes a service's outbox (state_store.hpp) to Kafka.
//
//   auto where = horizons::services::state_location(root, "orchestrator");
//   auto relay = horizons::services::outbox_relay::start({.database = where, .config = config,
//                                                         .service = "orchestrator"});
//   auto store = horizons::services::state_store::open(where, [&] { (*relay)->wake(); });
//   ...
//   (*relay)->stop(std::chrono::seconds(30));   // publishes what is left first
//
// The relay claims committed outbox rows in order, publishes them through
// an idempotent producer — its own, or the process's relay_producer shared
// with other relays (relay_producer.hpp), where it hears only its own
// acknowledgements — and when Kafka acknowledges a row records its
// event id in `delivered` and deletes the row, in one transaction. A failed
// delivery releases the row to be sent again. Several processes, on one host
// (SQLite) or many (PostgreSQL), may share one outbox: a row is claimed by one
// relay for a lease that the relay renews while it lives (claims take turns:
// SQLite's write lock, a PostgreSQL advisory lock held by the claiming
// transaction); the rows of a relay that died are taken over when the lease
// runs out. No relay claims past a row another live relay holds, so events
// reach Kafka in outbox order (per-key order kept) even across a crash; the
// price is a pause of one lease after a relay dies with rows in flight. A
// fatal producer error (librdkafka idempotence) recreates the producer (once
// for every relay sharing it); each relay sends its unacknowledged rows again
// with the same event ids. A relay that stops past its timeout releases its
// unacknowledged rows; records of them still queued in a shared producer may
// reach Kafka anyway and are sent again, same event ids, at the next start.
//
// Threads: the relay runs its own thread and database connection; wake() and
// stats() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>

#include <horizons/config.hpp>

#include "services/common/relay_producer.hpp"
#include "services/common/sql/sql.hpp"

namespace horizons::services {

struct relay_stats {
  std::uint64_t published = 0;  // handed to the producer
  std::uint64_t delivered = 0;  // acknowledged and deleted from the outbox
  std::uint64_t failed = 0;     // deliveries that failed and were released to be sent again
};

class outbox_relay {
 public:
  struct options {
    sql::location database{std::filesystem::path{}};
    client_config config{};
    std::string service{};  // for logs and, with no shared producer, the producer's client id
    /// The process's shared relay producer; null: the relay makes one of its own ("<service>-relay").
    std::shared_ptr<relay_producer> producer{};
    /// How long a claimed row stays with this relay without renewal.
    std::chrono::milliseconds lease{5'000};
  };

  [[nodiscard]] static std::expected<std::unique_ptr<outbox_relay>, std::string> start(options opts);
  /// stop() with a 10 s bound if it was not called.
  ~outbox_relay();
  outbox_relay(const outbox_relay&) = delete;
  outbox_relay& operator=(const outbox_relay&) = delete;

  /// New rows were committed: publish them now rather than at the next poll.
  void wake();
  /// Publishes every committed row and waits for acknowledgements, up to `timeout`; then stops.
  /// Returns the number of rows left in the outbox (kept for the next start).
  std::size_t stop(std::chrono::milliseconds timeout);

  [[nodiscard]] relay_stats stats() const;

  struct impl;

 private:
  explicit outbox_relay(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

}  // namespace horizons::services
