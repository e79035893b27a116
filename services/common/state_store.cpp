#include "services/common/state_store.hpp"

#include <horizons/uuid.hpp>

namespace horizons::services {

std::expected<void, sqlite::error> create_shared_tables(sqlite::database& db) {
  // handled: records whose effects are committed. outbox: events waiting for Kafka's
  // acknowledgement, in emit order. delivered: ids of acknowledged events, for the run report's
  // lost/duplicated count.
  return db.exec(R"sql(
    CREATE TABLE IF NOT EXISTS handled (event_id TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, value BLOB NOT NULL,
                                       claimed_by TEXT, claimed_until INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE IF NOT EXISTS delivered (event_id TEXT PRIMARY KEY, topic TEXT NOT NULL, event_type TEXT NOT NULL,
                                          delivered_at INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
  )sql");
}

std::filesystem::path state_path(const std::filesystem::path& data_dir, std::string_view service) {
  return data_dir / service / "state.db";
}

std::expected<std::vector<uuid>, std::string> delivered_between(const std::filesystem::path& path, timestamp from,
                                                                timestamp until) {
  std::vector<uuid> ids;
  if (!std::filesystem::exists(path)) return ids;
  auto db = sqlite::database::open_existing(path);
  if (!db) return std::unexpected(db.error().message);
  auto select = db->prepare("SELECT event_id FROM delivered WHERE delivered_at >= ?1 AND delivered_at < ?2");
  if (!select) return std::unexpected(select.error().message);
  select->bind(1, sqlite::micros(from)).bind(2, sqlite::micros(until));
  while (select->next()) {
    if (auto id = uuid::parse(select->text(0))) ids.push_back(*id);
  }
  if (select->last_error()) return std::unexpected(select->last_error()->message);
  return ids;
}

step_result outbox::append(std::span<const std::byte> framed) {
  if (auto ok = insert_.bind(1, framed).run(); !ok) return std::unexpected(ok.error().message);
  ++emitted_;
  return {};
}

std::expected<state_store, std::string> state_store::open(const std::filesystem::path& path,
                                                          std::function<void()> on_emit) {
  auto db = sqlite::database::open(path);
  if (!db) return std::unexpected(db.error().message);
  if (auto ok = create_shared_tables(*db); !ok) return std::unexpected(ok.error().message);
  auto mark = db->prepare("INSERT OR IGNORE INTO handled(event_id) VALUES (?1)");
  if (!mark) return std::unexpected(mark.error().message);
  auto insert = db->prepare("INSERT INTO outbox(value) VALUES (?1)");
  if (!insert) return std::unexpected(insert.error().message);
  return state_store(std::move(*db), std::move(*mark), std::move(*insert), std::move(on_emit));
}

std::expected<bool, std::string> state_store::handle_once(const uuid& source,
                                                          const std::function<step_result(outbox&)>& step) {
  auto tx = sqlite::transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error().message);
  if (auto marked = mark_.bind(1, source.to_string()).run(); !marked) return std::unexpected(marked.error().message);
  if (db_.changes() == 0) return false;  // handled before: the rollback keeps nothing
  outbox out(insert_);
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
  auto tx = sqlite::transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error().message);
  outbox out(insert_);
  if (auto done = step(out); !done) return std::unexpected(done.error());
  if (auto committed = tx->commit(); !committed) return std::unexpected(committed.error().message);
  if (out.emitted() > 0 && on_emit_) on_emit_();
  return {};
}

}  // namespace horizons::services
