#include "services/notification_dispatcher/dispatcher.hpp"

#include <algorithm>
#include <span>
#include <thread>

#include <spdlog/spdlog.h>

#include <horizons/consumer.hpp>
#include <horizons/event_builder.hpp>

#include "services/notification_dispatcher/compose.hpp"
#include "services/notification_dispatcher/inbox_store.hpp"
#include "services/notification_dispatcher/paths.hpp"

namespace horizons::notification_dispatcher {
namespace {

using services::outbox;
using services::step_result;

std::int64_t wall_us() { return sql::micros(now()); }

constexpr std::array<sql::migration, 1> webhook_schema{{{1, R"sql(
  CREATE TABLE IF NOT EXISTS webhook_queue (
    notification_id TEXT PRIMARY KEY,
    event BLOB NOT NULL,               -- the notification.sent event, framed Avro
    rounds INTEGER NOT NULL DEFAULT 0, -- deliver() calls that gave up
    next_at INTEGER NOT NULL,
    failed INTEGER NOT NULL DEFAULT 0  -- gave up for good; kept for people to see
  ) WITHOUT ROWID;
)sql"}}};

constexpr int max_rounds = 8;

// How long a claimed notification stays with the instance delivering it; long enough for
// webhook_sender's retries, so only an instance that died gives it up to another.
constexpr std::chrono::seconds webhook_claim{120};

struct queued_webhook {
  std::string id;
  std::vector<std::byte> framed;
  std::int64_t rounds = 0;
};

// Posts queued notifications to the webhook on its own thread, so a slow receiver never holds up consuming.
// Several instances share the queue: each claims what is due by moving its next_at past the claim (the
// claim passes over rows another instance is claiming), so a notification goes out from one instance,
// and from another only if the first died holding it.
void deliver_webhooks(const webhook_sender& sender, const sql::location& where, std::stop_token stop) {
  auto db = sql::database::open(where);
  if (!db) {
    spdlog::error("{}: webhook queue: {}", descriptor.name, db.error().message);
    return;
  }
  auto claim = db->prepare(fmt::format(
      "UPDATE webhook_queue SET next_at = ?2 WHERE notification_id IN (SELECT notification_id FROM webhook_queue "
      "WHERE failed = 0 AND next_at <= ?1 ORDER BY next_at LIMIT 20{}) RETURNING notification_id, event, rounds",
      db->skip_locked()));
  if (!claim) {
    spdlog::error("{}: webhook queue: {}", descriptor.name, claim.error().message);
    return;
  }
  while (!stop.stop_requested()) {
    std::vector<queued_webhook> due;
    claim->bind(1, wall_us()).bind(2, wall_us() + std::chrono::microseconds(webhook_claim).count());
    while (claim->next()) {
      auto bytes = claim->blob(1);
      due.push_back({claim->text(0), std::vector<std::byte>(bytes.begin(), bytes.end()), claim->integer(2)});
    }
    if (claim->last_error()) spdlog::warn("{}: webhook queue: {}", descriptor.name, claim->last_error()->message);
    for (std::size_t i = 0; i < due.size(); ++i) {
      const auto& [id, framed, rounds] = due[i];
      auto decoded = decode_framed(framed);
      const notification_sent* sent = nullptr;
      if (decoded) {
        if (auto* n = std::get_if<notification_event>(&*decoded)) sent = std::get_if<notification_sent>(&n->payload);
      }
      if (!sent) {
        spdlog::error("{}: queued webhook {} does not decode; dropped", descriptor.name, id);
        if (auto drop = db->prepare("DELETE FROM webhook_queue WHERE notification_id = ?1"))
          (void)drop->bind(1, id).run();
        continue;
      }
      auto delivered = sender.deliver(*sent, stop);
      if (delivered) {
        if (auto done = db->prepare("DELETE FROM webhook_queue WHERE notification_id = ?1"))
          (void)done->bind(1, id).run();
        continue;
      }
      if (stop.stop_requested()) {
        // Stopping: this one and the rest of the claim go back to the queue for the next instance now.
        if (auto release = db->prepare("UPDATE webhook_queue SET next_at = ?2 WHERE notification_id = ?1")) {
          for (const auto& left : std::span(due).subspan(i)) (void)release->bind(1, left.id).bind(2, wall_us()).run();
        }
        break;
      }
      spdlog::warn("{}: webhook {} for {}: {}", descriptor.name, sender.url(), id, delivered.error());
      // Backoff: 1 s, 2 s, 4 s, ... 64 s after each round that gave up.
      if (auto later = db->prepare("UPDATE webhook_queue SET rounds = ?2, failed = ?3, next_at = ?4 "
                                   "WHERE notification_id = ?1")) {
        (void)later->bind(1, id)
            .bind(2, rounds + 1)
            .bind(3, std::int64_t{rounds + 1 >= max_rounds})
            .bind(4, wall_us() + (std::int64_t{1'000'000} << std::min<std::int64_t>(rounds, 6)))
            .run();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(due.empty() ? 100 : 0));
  }
}

class dispatcher {
 public:
  dispatcher(services::state_store& store, inbox_store inbox, email_outbox email, bool webhook)
      : store_(store), inbox_(std::move(inbox)), email_(std::move(email)), webhook_(webhook) {}

  template <class Source>
  handler_result notify(const envelope& source, const Source& payload) {
    auto sent = compose(source, payload, webhook_ ? webhook_channel::on : webhook_channel::off);
    if (!sent) return {};  // not the end of a job: nothing to tell
    auto handled = store_.handle_once(source.event_id, [&](outbox& out) -> step_result {
      auto stored = inbox_.insert(*sent, source.event_id, now());
      if (!stored) return std::unexpected(stored.error().message);
      if (!*stored) return {};  // this source already has its notification
      if (auto written = email_.write(*sent, source.occurred_at); !written) return std::unexpected(written.error());
      auto built = make_event(*sent).caused_by(source).user_id(sent->recipient_id).build();
      if (!built) return std::unexpected(built.error().message);
      if (webhook_) {
        byte_buffer framed;
        encode_framed(*built, framed);
        auto queue = store_.db().prepare(
            "INSERT INTO webhook_queue(notification_id, event, next_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING");
        if (!queue) return std::unexpected(queue.error().message);
        if (auto ok = queue->bind(1, sent->notification_id).bind(2, framed.bytes()).bind(3, wall_us()).run(); !ok) {
          return std::unexpected(ok.error().message);
        }
      }
      return out.emit(*built);
    });
    if (!handled) return std::unexpected(handled.error());
    return {};
  }

 private:
  services::state_store& store_;
  inbox_store inbox_;
  email_outbox email_;
  bool webhook_;
};

}  // namespace

std::expected<std::int64_t, std::string> webhooks_pending(const sql::location& root) {
  auto db = sql::database::open_existing(state_location(root));
  if (!db) {
    if (db.error().what == sql::error::kind::no_database) return 0;
    return std::unexpected(db.error().message);
  }
  if (!db->has_table("webhook_queue")) return 0;
  auto count = db->prepare("SELECT count(*) FROM webhook_queue WHERE failed = 0");
  if (!count) return std::unexpected(count.error().message);
  auto n = count->single_int();
  if (!n) return std::unexpected(n.error().message);
  return n->value_or(0);
}

std::expected<void, std::string> prepare(sql::database& db) {
  if (auto ok = db.migrate("notification_webhooks", webhook_schema); !ok) return std::unexpected(ok.error().message);
  if (auto inbox = inbox_store::create(db); !inbox) return std::unexpected(inbox.error().message);
  return {};
}

std::expected<void, std::string> run(const options& opts, std::stop_token stop) {
  std::optional<webhook_sender> webhook;
  if (!opts.webhook.url.empty()) {
    auto made = webhook_sender::create(opts.webhook);
    if (!made) return std::unexpected(fmt::format("{}: {}", descriptor.name, made.error()));
    webhook.emplace(std::move(*made));
  }
  auto host = services::service_host::start(descriptor, opts.service);
  if (!host) return std::unexpected(host.error());
  auto& store = (*host)->store();
  if (auto ok = prepare(store.db()); !ok) return std::unexpected(ok.error());
  auto inbox = inbox_store::create(store.db());
  if (!inbox) return std::unexpected(inbox.error().message);
  dispatcher notifications(store, std::move(*inbox), email_outbox(outbox_path(opts.service.data_dir), opts.email),
                           webhook.has_value());

  auto made = (*host)->subscribe();
  if (!made) return std::unexpected(made.error());
  auto& sources = **made;
  auto route = [&](const envelope& meta, const auto& payload, const message_context&) {
    return notifications.notify(meta, payload);
  };
  sources.on<job_completed>(route).on<job_failed>(route).on<job_cancelled>(route);
  sources.on<alert_raised>(route).on<alert_resolved>(route);

  std::jthread webhook_thread;
  if (webhook) {
    webhook_thread =
        std::jthread([&](std::stop_token webhook_stop) { deliver_webhooks(*webhook, store.where(), webhook_stop); });
  }
  return (*host)->run(sources, stop);
}

}  // namespace horizons::notification_dispatcher
