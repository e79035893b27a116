// A service's durable state: one database (SQLite or PostgreSQL, sql/sql.hpp)
// holding the service's own tables, the ids of the records it has already
// handled, and a transactional outbox of the events it decided to publish.
//
//   auto store = horizons::services::state_store::open(root.of("metrics-aggregator"));
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
// Transactions and isolation. SQLite: BEGIN IMMEDIATE, so transactions of
// all processes sharing the file run one after another (serialisable).
// PostgreSQL: READ COMMITTED, which is enough because (1) the mark is an
// INSERT on the primary key of `handled`: a second transaction marking the
// same record waits for the first and then inserts nothing, so it becomes the
// duplicate; (2) a service's table changes are single-statement upserts or
// updates of rows keyed by the record's job (re-evaluated on the newest row
// version when they wait on a lock), or read rows only one instance changes
// (a partition's records go to one consumer at a time); (3) emit() takes a
// transaction-scoped advisory lock on the event's partition key before its
// outbox row gets its sequence number, so two transactions emitting events
// of one key commit in the order of their sequence numbers, and the relay,
// reading in sequence order, keeps per-key order across instances.
//
// Threads: one state_store per thread (it owns one connection). Several
// processes of a service, on any hosts, may share the database.
#pragma once

#include <expected>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <horizons/byte_buffer.hpp>
#include <horizons/codec.hpp>
#include <horizons/events.hpp>
#include <horizons/tracing.hpp>
#include <horizons/validate.hpp>

#include "services/common/sql/sql.hpp"

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
    return append(partition_key(e.payload), buffer_.bytes());
  }
  [[nodiscard]] std::size_t emitted() const { return emitted_; }

 private:
  friend class state_store;
  outbox(sql::statement& insert, sql::statement* lock_key) : insert_(insert), lock_key_(lock_key) {}
  step_result append(std::optional<std::string_view> key, std::span<const std::byte> framed);
  sql::statement& insert_;
  sql::statement* lock_key_;  // PostgreSQL: the advisory lock of a partition key
  byte_buffer buffer_;
  std::size_t emitted_ = 0;
};

class state_store {
 public:
  /// Opens (creating) the database and migrates the shared tables. `on_emit` runs after a transaction
  /// that emitted events commits (the relay's wake-up).
  [[nodiscard]] static std::expected<state_store, std::string> open(const sql::location& where,
                                                                    std::function<void()> on_emit = {});

  /// Runs `step` in one transaction unless `source` was handled before. Returns true when the step
  /// ran and committed, false for a duplicate; an error means nothing of the step was kept.
  [[nodiscard]] std::expected<bool, std::string> handle_once(const uuid& source,
                                                             const std::function<step_result(outbox&)>& step);
  /// Runs `step` in one transaction (work not caused by a record: timers, requests).
  [[nodiscard]] step_result transact(const std::function<step_result(outbox&)>& step);

  /// The outbox's events not yet acknowledged by Kafka, framed, in emit order: what the relay publishes next.
  [[nodiscard]] std::expected<std::vector<std::vector<std::byte>>, std::string> pending();

  [[nodiscard]] sql::database& db() { return db_; }
  [[nodiscard]] const sql::location& where() const { return db_.where(); }

 private:
  state_store(sql::database db, sql::statement mark, sql::statement insert, std::optional<sql::statement> lock_key,
              std::function<void()> on_emit)
      : db_(std::move(db)),
        mark_(std::move(mark)),
        insert_(std::move(insert)),
        lock_key_(std::move(lock_key)),
        on_emit_(std::move(on_emit)) {}
  outbox make_outbox() { return outbox(insert_, lock_key_ ? &*lock_key_ : nullptr); }
  sql::database db_;
  sql::statement mark_;    // INSERT INTO handled ... ON CONFLICT DO NOTHING
  sql::statement insert_;  // INSERT INTO outbox
  std::optional<sql::statement> lock_key_;
  std::function<void()> on_emit_;
};

/// Creates or migrates the tables every service database has (handled, outbox, delivered).
[[nodiscard]] std::expected<void, sql::error> create_shared_tables(sql::database& db);

/// Ids of the events the relay of the service database at `where` saw acknowledged by Kafka in
/// [from, until), kept for a day. Reads without creating or changing anything; a missing database has none.
[[nodiscard]] std::expected<std::vector<uuid>, std::string> delivered_between(const sql::location& where,
                                                                              timestamp from, timestamp until);

/// The database of `service` under the state root: <data_dir>/<service>/state.db for SQLite, the
/// schema <service> for PostgreSQL.
[[nodiscard]] sql::location state_location(const sql::location& root, std::string_view service);

}  // namespace horizons::services
