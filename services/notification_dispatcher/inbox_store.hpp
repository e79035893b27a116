// The in-app channel: notifications a user sees in the application, one row
// per notification in the dispatcher's SQLite database (paths.hpp:
// state_path). It lives in the same database as the dispatcher's
// handled-source marks and its outgoing notification.sent events, so the
// inbox row, the mark and the event commit in one transaction or not at all.
//
//   auto db = horizons::sql::database::open(state_path(data_dir));
//   auto inbox = inbox_store::create(*db);
//   auto tx = horizons::sql::transaction::begin(*db);
//   auto inserted = inbox->insert(*sent, meta.event_id, horizons::now());   // false: source seen before
//   tx->commit();
//   for (const auto& n : *inbox->list("alice", 20)) show(n.subject);
//
// Table `inbox`: notification_id PRIMARY KEY, source_event_id UNIQUE,
// recipient, subject, body, related_job_id (NULL for alerts), created_at and
// read_at (microseconds since the Unix epoch, UTC; read_at NULL until read).
//
// insert() never opens a transaction of its own: it joins the caller's (or
// autocommits without one), so a rollback of the caller's transaction takes
// the row back. Threads: like the database it uses, one thread at a time;
// the inbox_store keeps a pointer to the database, which must stay where it
// is (not moved) and outlive it.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <horizons/events.hpp>

#include "services/common/sql/sql.hpp"

namespace horizons::notification_dispatcher {

struct inbox_entry {
  std::string notification_id{};
  std::string source_event_id{};
  std::string recipient{};
  std::string subject{};
  std::string body{};
  std::optional<std::string> related_job_id{};
  timestamp created_at{};
  std::optional<timestamp> read_at{};
};

class inbox_store {
 public:
  /// Creates the `inbox` table and its indexes if missing, and prepares the statements.
  [[nodiscard]] static std::expected<inbox_store, sql::error> create(sql::database& db);

  /// Stores `sent` for its recipient. True when a row was added; false, changing nothing, when
  /// a row for `source_event_id` (or for the same notification id) is already there.
  [[nodiscard]] std::expected<bool, sql::error> insert(const notification_sent& sent, const uuid& source_event_id,
                                                       timestamp created_at);
  /// The newest `limit` notifications of `recipient`, newest first.
  [[nodiscard]] std::expected<std::vector<inbox_entry>, sql::error> list(std::string_view recipient,
                                                                         std::int64_t limit);
  /// All stored notifications.
  [[nodiscard]] std::expected<std::int64_t, sql::error> count();
  /// How many notifications `source_event_id` produced: 0 or 1.
  [[nodiscard]] std::expected<std::int64_t, sql::error> count_for_source(const uuid& source_event_id);

 private:
  inbox_store(sql::database& db, sql::statement insert) : db_(&db), insert_(std::move(insert)) {}
  sql::database* db_;
  sql::statement insert_;  // prepared once: insert() runs for every notification
};

}  // namespace horizons::notification_dispatcher
