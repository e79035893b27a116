// What the dispatcher tells people: pure functions from a source event (a
// terminal job event or an alert) to the notification.sent payload that
// reports it. No I/O, no clock, no randomness: the same source always
// composes the same notification, so a redelivered source can never yield a
// second notification id.
//
//   auto sent = horizons::notification_dispatcher::compose(meta, failed, webhook_channel::on);
//   if (!sent) return;                 // a retry is scheduled: the job is not over yet
//   sent->notification_id;             // "ntf-<source event id>"
//
// The rules:
// - notification_id is "ntf-" + the source event id.
// - recipient_id: for job events the source envelope's user_id (the
//   orchestrator sets it to the submitting user), or "operators" when a job
//   event has none, so a terminal event is never dropped for want of an
//   owner; for alerts always "operators".
// - channel is IN_APP: the in-app inbox is the notification of record; the
//   email outbox (and the webhook, when configured) carry copies of it, and
//   data["channels"] lists all of them ("in_app,email[,webhook]").
// - related_job_id is the job id for job events, empty for alerts.
// - data: source_event_id, source_event_type, channels; alerts add alert_id
//   (and severity when raised).
// - job.failed is terminal only when no retry is scheduled: next_retry_at
//   empty. While next_retry_at is set the orchestrator will queue the job
//   again, so compose returns nullopt and the user hears about the job once,
//   when it is over. The retry budget (retry_count of max_retries) is reported
//   in the body, but it does not decide: a failure the orchestrator chose not
//   to retry is final even with budget left, and it must be notified.
// - subject and body are short plain text (body lines end in '\n').
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <horizons/events.hpp>

namespace horizons::notification_dispatcher {

/// Whether the dispatcher also delivers to a webhook; only named in data["channels"].
enum class webhook_channel : std::uint8_t { off, on };

/// Recipient of alerts, and of job events whose envelope names no user.
inline constexpr std::string_view operators_recipient = "operators";

[[nodiscard]] std::optional<notification_sent> compose(const envelope& source, const job_completed& job,
                                                       webhook_channel webhook = webhook_channel::off);
/// nullopt while a retry is scheduled (next_retry_at set).
[[nodiscard]] std::optional<notification_sent> compose(const envelope& source, const job_failed& job,
                                                       webhook_channel webhook = webhook_channel::off);
[[nodiscard]] std::optional<notification_sent> compose(const envelope& source, const job_cancelled& job,
                                                       webhook_channel webhook = webhook_channel::off);
[[nodiscard]] std::optional<notification_sent> compose(const envelope& source, const alert_raised& alert,
                                                       webhook_channel webhook = webhook_channel::off);
[[nodiscard]] std::optional<notification_sent> compose(const envelope& source, const alert_resolved& alert,
                                                       webhook_channel webhook = webhook_channel::off);

/// "ntf-" + the source event id: the one notification id a source event can have.
[[nodiscard]] std::string notification_id_for(const uuid& source_event_id);

}  // namespace horizons::notification_dispatcher
