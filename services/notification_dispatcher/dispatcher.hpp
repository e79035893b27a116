// The notification dispatcher: turns terminal job events (`job.completed`,
// `job.failed` with no retry scheduled, `job.cancelled`) and alerts
// (`alert.raised`, `alert.resolved`) into one `notification.sent` each, and
// delivers it: the in-app inbox, the email outbox, and a webhook when one is
// configured.
//
//   horizons::notification_dispatcher::options options{
//       .service = {.config = config, .data_dir = "horizons-data"},
//       .webhook = {.url = "http://127.0.0.1:8081/hook"}};
//   auto done = horizons::notification_dispatcher::run(options, stop_token);
//
// Exactly one notification per source event, across restarts and
// redeliveries: the source's "handled" mark, the inbox row, the webhook
// queue row and the outgoing notification.sent commit in one SQLite
// transaction (<data_dir>/notification-dispatcher/state.db); the email file
// is named by the notification id and written before that commit, so a
// redelivery rewrites nothing. The webhook is at-least-once: each POST
// carries Idempotency-Key: <notification id>. Consumed in the group
// `notification-dispatcher` from job-lifecycle and notifications.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <stop_token>
#include <string>
#include <string_view>

#include "services/common/service_descriptor.hpp"
#include "services/common/service_host.hpp"
#include "services/notification_dispatcher/email_outbox.hpp"
#include "services/notification_dispatcher/webhook.hpp"

namespace horizons::notification_dispatcher {

namespace detail {
inline constexpr std::array topics{topic_id::job_lifecycle, topic_id::notifications};
inline constexpr std::array handles{payload_traits<job_completed>::event_type, payload_traits<job_failed>::event_type,
                                    payload_traits<job_cancelled>::event_type, payload_traits<alert_raised>::event_type,
                                    payload_traits<alert_resolved>::event_type};
}  // namespace detail

/// Reads job-lifecycle and notifications in its own group `notification-dispatcher` (the catalogue group of
/// notifications; job-lifecycle's catalogue group is the orchestrator's).
inline constexpr services::service_descriptor descriptor{.name = "notification-dispatcher",
                                                         .group = "notification-dispatcher",
                                                         .topics = detail::topics,
                                                         .handles = detail::handles};

struct options {
  services::service_options service{};
  email_options email{};
  /// Empty url: no webhook.
  webhook_sender::options webhook{};
};

[[nodiscard]] std::expected<void, std::string> run(const options& opts, std::stop_token stop);
/// Creates or migrates the dispatcher's tables (the inbox, the webhook queue); run() does it on start.
[[nodiscard]] std::expected<void, std::string> prepare(sql::database& db);

/// Notifications of the dispatcher under the state root `root` queued for the webhook and not yet delivered (nor given
/// up on). Reads without changing anything, from any thread or process; no database yet: 0.
[[nodiscard]] std::expected<std::int64_t, std::string> webhooks_pending(const sql::location& root);

}  // namespace horizons::notification_dispatcher
