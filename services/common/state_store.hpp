// A service's durable state: one SQLite database holding the service's own
// tables, the ids of the records it has already handled, and a
// transactional outbox of the events it decided to publish.
//
//   auto store = horizons::services::state_store::open(data_dir / "metrics-aggregator" / "state.db");
//   consumer.on<job_metrics_recorded>([&](const envelope& meta, const job_metrics_recorded& sample,
//                                         auto&) -> handler_result {
//     auto done = store->handle_once(meta.event_id, [&](horizons::services::outbox& out) -> step_result {
//       fold(store->db(), sample);             // the service's own tables
//       return out.emit(summary_event);        // published after the transaction commits
//     });
//     if (!done) return std::unexpected(done.error());  // nothing kept: retried, then dead-lettered
//     return {};                                         // *done is false for a duplicate
//   });
//
// Why: a consumer's offset is committed only after its handler returned, so
// a crash redelivers records. handle_once() makes the effects of one record
// happen once: the "already handled" mark, the service's table changes and
// the outgoing events commit in one transaction, and a redelivered record
// finds its mark and does nothing. The outbox_relay (outbox_relay.hpp)
// publishes committed outbox rows in order and deletes each once Kafka
// acknowledged it, so a crash between commit and publish loses nothing; a
// crash between acknowledgement and delete republishes the same event (same
// event_id), which readers deduplicate.
//
// Threads: one state_store per thread (it owns one SQLite connection).
// Several processes of a service may share the file.
#pragma once

#include <expected>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <horizons/byte_buffer.hpp>
#include <horizons/codec.hpp>
#include <horizons/events.hpp>
#include <horizons/tracing.hpp>
#include <horizons/validate.hpp>

#include "services/common/sqlite.hpp"

namespace horizons::services {

/// What a step of service logic returns: success, or why it failed (the transaction is rolled back).
using step_result = std::expected<void, std::string>;

/// Events queued inside the current transaction.
class outbox {
 public:
  /// Validates and encodes `e` and queues it; it is published once the transaction commits. With
  /// tracing on, the event carries the traceparent of a PRODUCER span made here (tracing.hpp).
  template <class Payload>
  [[nodiscard]] step_result emit(const event<Payload>& e) {
    if (auto ok = validate(e); !ok)
      return std::unexpected(fmt::format("refusing to publish {}: {}", e.event_type, ok.error().message));
    buffer_.clear();
    if (tracing::enabled()) [[unlikely]] {
      // A PRODUCER span for the hand-over: the event carries its context through the outbox.
      tracing::producer_span span(tracing::facts_of(e, partition_key(e.payload)), e.traceparent, /*via_outbox=*/true);
      encode_framed(tracing::with_context(e, span), buffer_);
    } else {
      encode_framed(e, buffer_);
    }
    return append(buffer_.bytes());
  }
  [[nodiscard]] std::size_t emitted() const { return emitted_; }

 private:
  friend class state_store;
  explicit outbox(sqlite::statement& insert) : insert_(insert) {}
  step_result append(std::span<const std::byte> framed);
  sqlite::statement& insert_;
  byte_buffer buffer_;
  std::size_t emitted_ = 0;
};

class state_store {
 public:
  /// Opens (creating) the database and the shared tables. `on_emit` runs after a transaction that
  /// emitted events commits (the relay's wake-up).
  [[nodiscard]] static std::expected<state_store, std::string> open(const std::filesystem::path& path,
                                                                    std::function<void()> on_emit = {});

  /// Runs `step` in one transaction unless `source` was handled before. Returns true when the step
  /// ran and committed, false for a duplicate; an error means nothing of the step was kept.
  [[nodiscard]] std::expected<bool, std::string> handle_once(const uuid& source,
                                                             const std::function<step_result(outbox&)>& step);
  /// Runs `step` in one transaction (work not caused by a record: timers, requests).
  [[nodiscard]] step_result transact(const std::function<step_result(outbox&)>& step);

  /// The outbox's events not yet acknowledged by Kafka, framed, in emit order: what the relay publishes next.
  [[nodiscard]] std::expected<std::vector<std::vector<std::byte>>, std::string> pending();

  [[nodiscard]] sqlite::database& db() { return db_; }
  [[nodiscard]] const std::filesystem::path& path() const { return db_.path(); }

 private:
  state_store(sqlite::database db, sqlite::statement mark, sqlite::statement insert, std::function<void()> on_emit)
      : db_(std::move(db)), mark_(std::move(mark)), insert_(std::move(insert)), on_emit_(std::move(on_emit)) {}
  sqlite::database db_;
  sqlite::statement mark_;    // INSERT OR IGNORE INTO handled
  sqlite::statement insert_;  // INSERT INTO outbox
  std::function<void()> on_emit_;
};

/// Creates the tables every service database has (handled, outbox, delivered). Idempotent.
[[nodiscard]] std::expected<void, sqlite::error> create_shared_tables(sqlite::database& db);

/// Ids of the events the relay of the service database at `path` saw acknowledged by Kafka in
/// [from, until), kept for a day. Reads without creating or changing anything; a missing file has none.
[[nodiscard]] std::expected<std::vector<uuid>, std::string> delivered_between(const std::filesystem::path& path,
                                                                              timestamp from, timestamp until);

/// The database file of `service` under `data_dir`: <data_dir>/<service>/state.db.
[[nodiscard]] std::filesystem::path state_path(const std::filesystem::path& data_dir, std::string_view service);

}  // namespace horizons::services
