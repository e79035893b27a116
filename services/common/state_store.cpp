#include "services/common/state_store.hpp"

#include <horizons/uuid.hpp>

namespace horizons::services {
namespace {

// handled: records whose effects are committed. outbox: events waiting for Kafka's
// acknowledgement, in emit order. delivered: ids of acknowledged events, for the run report's
// lost/duplicated count.
constexpr std::array<sql::migration, 1> shared_tables{{
    {1, R"sql(
    CREATE TABLE IF NOT EXISTS handled (event_id TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, value BLOB NOT NULL,
                                       claimed_by TEXT, claimed_until INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE IF NOT EXISTS delivered (event_id TEXT PRIMARY KEY, topic TEXT NOT NULL, event_type TEXT NOT NULL,
                                          delivered_at INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
  )sql"},
}};

}  // namespace

std::expected<void, sql::error> create_shared_tables(sql::database& db) {
  return db.migrate("state_store", shared_tables);
}

sql::location state_location(const sql::location& root, std::string_view service) { return root.of(service); }

std::expected<std::vector<uuid>, std::string> delivered_between(const sql::location& where, timestamp from,
                                                                timestamp until) {
  std::vector<uuid> ids;
  auto db = sql::database::open_existing(where);
  if (!db) {
    if (db.error().what == sql::error::kind::no_database) return ids;
    return std::unexpected(db.error().message);
  }
  if (!db->has_table("delivered")) return ids;
  auto select = db->prepare("SELECT event_id FROM delivered WHERE delivered_at >= ?1 AND delivered_at < ?2");
  if (!select) return std::unexpected(select.error().message);
  select->bind(1, sql::micros(from)).bind(2, sql::micros(until));
  while (select->next()) {
    if (auto id = uuid::parse(select->text(0))) ids.push_back(*id);
  }
  if (select->last_error()) return std::unexpected(select->last_error()->message);
  return ids;
}

step_result outbox::append(std::optional<std::string_view> key, std::span<const std::byte> framed) {
  if (lock_key_ && key) {
    // Held until the transaction ends: see "Transactions and isolation" in the header. Events
    // without a key have no order to keep.
    if (auto locked = lock_key_->bind(1, *key).run(); !locked) return std::unexpected(locked.error().message);
  }
  if (auto ok = insert_.bind(1, framed).run(); !ok) return std::unexpected(ok.error().message);
  ++emitted_;
  return {};
}

std::expected<state_store, std::string> state_store::open(const sql::location& where, std::function<void()> on_emit) {
  auto db = sql::database::open(where);
  if (!db) return std::unexpected(db.error().message);
  if (auto ok = create_shared_tables(*db); !ok) return std::unexpected(ok.error().message);
  auto mark = db->prepare("INSERT INTO handled(event_id) VALUES (?1) ON CONFLICT DO NOTHING");
  if (!mark) return std::unexpected(mark.error().message);
  auto insert = db->prepare("INSERT INTO outbox(value) VALUES (?1)");
  if (!insert) return std::unexpected(insert.error().message);
  std::optional<sql::statement> lock_key;
  if (db->kind() == sql::engine::postgresql) {
    auto made = db->prepare("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ' outbox key ' || ?1))");
    if (!made) return std::unexpected(made.error().message);
    lock_key.emplace(std::move(*made));
  }
  return state_store(std::move(*db), std::move(*mark), std::move(*insert), std::move(lock_key), std::move(on_emit));
}

std::expected<bool, std::string> state_store::handle_once(const uuid& source,
                                                          const std::function<step_result(outbox&)>& step) {
  auto tx = sql::transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error().message);
  if (auto marked = mark_.bind(1, source.to_string()).run(); !marked) return std::unexpected(marked.error().message);
  if (db_.changes() == 0) return false;  // handled before: the rollback keeps nothing
  auto out = make_outbox();
  if (auto done = step(out); !done) return std::unexpected(done.error());
  if (auto committed = tx->commit(); !committed) return std::unexpected(committed.error().message);
  if (out.emitted() > 0 && on_emit_) on_emit_();
  return true;
}

std::expected<std::vector<std::vector<std::byte>>, std::string> state_store::pending() {
  auto select = db_.prepare("SELECT value FROM outbox ORDER BY seq");
  if (!select) return std::unexpected(select.error().message);
  std::vector<std::vector<std::byte>> events;
  while (select->next()) {
    auto value = select->blob(0);
    events.emplace_back(value.begin(), value.end());
  }
  if (select->last_error()) return std::unexpected(select->last_error()->message);
  return events;
}

step_result state_store::transact(const std::function<step_result(outbox&)>& step) {
  auto tx = sql::transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error().message);
  auto out = make_outbox();
  if (auto done = step(out); !done) return std::unexpected(done.error());
  if (auto committed = tx->commit(); !committed) return std::unexpected(committed.error().message);
  if (out.emitted() > 0 && on_emit_) on_emit_();
  return {};
}

}  // namespace horizons::services
