#include "services/notification_dispatcher/inbox_store.hpp"

namespace horizons::notification_dispatcher {

namespace {

constexpr std::array<sql::migration, 1> schema{{{1, R"sql(
CREATE TABLE IF NOT EXISTS inbox (
  notification_id TEXT PRIMARY KEY,
  source_event_id TEXT NOT NULL UNIQUE,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  related_job_id TEXT,
  created_at INTEGER NOT NULL,
  read_at INTEGER
);
CREATE INDEX IF NOT EXISTS inbox_by_recipient ON inbox (recipient, created_at DESC);
)sql"}}};

using sql::from_micros;
using sql::micros;

}  // namespace

std::expected<inbox_store, sql::error> inbox_store::create(sql::database& db) {
  if (auto ok = db.migrate("notification_inbox", schema); !ok) return std::unexpected(ok.error());
  // DO NOTHING on either unique column: a redelivered source (same source id, same derived
  // notification id) leaves the first row as it was.
  auto insert = db.prepare(
      "INSERT INTO inbox (notification_id, source_event_id, recipient, subject, body, related_job_id, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING");
  if (!insert) return std::unexpected(insert.error());
  return inbox_store(db, std::move(*insert));
}

std::expected<bool, sql::error> inbox_store::insert(const notification_sent& sent, const uuid& source_event_id,
                                                    timestamp created_at) {
  insert_.bind(1, sent.notification_id)
      .bind(2, source_event_id.to_string())
      .bind(3, sent.recipient_id)
      .bind(4, sent.subject)
      .bind(5, sent.body)
      .bind(7, micros(created_at));
  if (sent.related_job_id) {
    insert_.bind(6, *sent.related_job_id);
  } else {
    insert_.bind_null(6);
  }
  if (auto ok = insert_.run(); !ok) return std::unexpected(ok.error());
  return db_->changes() == 1;
}

std::expected<std::vector<inbox_entry>, sql::error> inbox_store::list(std::string_view recipient, std::int64_t limit) {
  auto rows = db_->prepare(
      "SELECT notification_id, source_event_id, recipient, subject, body, related_job_id, created_at, read_at "
      "FROM inbox WHERE recipient = ?1 ORDER BY created_at DESC, notification_id LIMIT ?2");
  if (!rows) return std::unexpected(rows.error());
  rows->bind(1, recipient).bind(2, limit);
  std::vector<inbox_entry> entries;
  while (rows->next()) {
    entries.push_back({.notification_id = rows->text(0),
                       .source_event_id = rows->text(1),
                       .recipient = rows->text(2),
                       .subject = rows->text(3),
                       .body = rows->text(4),
                       .related_job_id = rows->is_null(5) ? std::nullopt : std::optional(rows->text(5)),
                       .created_at = from_micros(rows->integer(6)),
                       .read_at = rows->is_null(7) ? std::nullopt : std::optional(from_micros(rows->integer(7)))});
  }
  if (rows->last_error()) return std::unexpected(*rows->last_error());
  return entries;
}

std::expected<std::int64_t, sql::error> inbox_store::count() {
  auto query = db_->prepare("SELECT count(*) FROM inbox");
  if (!query) return std::unexpected(query.error());
  auto n = query->single_int();
  if (!n) return std::unexpected(n.error());
  return n->value_or(0);
}

std::expected<std::int64_t, sql::error> inbox_store::count_for_source(const uuid& source_event_id) {
  auto query = db_->prepare("SELECT count(*) FROM inbox WHERE source_event_id = ?1");
  if (!query) return std::unexpected(query.error());
  query->bind(1, source_event_id.to_string());
  auto n = query->single_int();
  if (!n) return std::unexpected(n.error());
  return n->value_or(0);
}

}  // namespace horizons::notification_dispatcher
