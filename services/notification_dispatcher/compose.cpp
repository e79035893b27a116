#include "services/notification_dispatcher/compose.hpp"

#include <array>

#include <fmt/format.h>

namespace horizons::notification_dispatcher {

namespace {

// "850 ms", "42.5 s", "12 min 03 s", "2 h 05 min 09 s".
std::string human_duration(std::int64_t ms) {
  if (ms < 1000) return fmt::format("{} ms", ms);
  if (ms < 60'000) return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
  auto seconds = ms / 1000;
  auto hours = seconds / 3600, minutes = seconds / 60 % 60, rest = seconds % 60;
  if (hours == 0) return fmt::format("{} min {:02} s", minutes, rest);
  return fmt::format("{} h {:02} min {:02} s", hours, minutes, rest);
}

// Decimal units, as storage is sold: "512 B", "1.2 GB".
std::string human_bytes(std::int64_t bytes) {
  constexpr std::array<std::string_view, 5> units{"kB", "MB", "GB", "TB", "PB"};
  if (bytes < 1000) return fmt::format("{} B", bytes);
  auto value = static_cast<double>(bytes);
  std::size_t unit = 0;
  for (value /= 1000.0; value >= 1000.0 && unit + 1 < units.size(); value /= 1000.0) ++unit;
  return fmt::format("{:.1f} {}", value, units[unit]);
}

template <class Payload>
notification_sent make(const envelope& source, std::string recipient, webhook_channel webhook) {
  notification_sent sent;
  sent.notification_id = notification_id_for(source.event_id);
  sent.recipient_id = std::move(recipient);
  sent.channel = notification_channel::in_app;
  sent.data = {{"source_event_id", source.event_id.to_string()},
               {"source_event_type", std::string(payload_traits<Payload>::event_type)},
               {"channels", webhook == webhook_channel::on ? "in_app,email,webhook" : "in_app,email"}};
  return sent;
}

template <class Payload>
notification_sent for_job(const envelope& source, const Payload& job, webhook_channel webhook) {
  bool has_owner = source.user_id && !source.user_id->empty();
  auto sent = make<Payload>(source, has_owner ? *source.user_id : std::string(operators_recipient), webhook);
  sent.related_job_id = job.job_id;
  return sent;
}

template <class Payload>
notification_sent for_alert(const envelope& source, const Payload& alert, webhook_channel webhook) {
  auto sent = make<Payload>(source, std::string(operators_recipient), webhook);
  sent.data.emplace("alert_id", alert.alert_id);
  return sent;
}

}  // namespace

std::string notification_id_for(const uuid& source_event_id) { return "ntf-" + source_event_id.to_string(); }

std::optional<notification_sent> compose(const envelope& source, const job_completed& job, webhook_channel webhook) {
  auto sent = for_job(source, job, webhook);
  sent.subject = fmt::format("Job {} completed", job.job_id);
  sent.body = fmt::format(
      "Your job {} completed in {}.\n"
      "Output: {} ({})\n"
      "Utilisation: CPU {:.1f} %, GPU {:.1f} %, memory {:.1f} GB, I/O {:.1f} MB/s\n",
      job.job_id, human_duration(job.execution_time_ms), job.output_location, human_bytes(job.result_size_bytes),
      job.cpu_utilization_pct, job.gpu_utilization_pct, job.memory_used_gb, job.io_throughput_mb_per_s);
  return sent;
}

std::optional<notification_sent> compose(const envelope& source, const job_failed& job, webhook_channel webhook) {
  if (job.next_retry_at) return std::nullopt;
  auto sent = for_job(source, job, webhook);
  sent.subject = fmt::format("Job {} failed: {}", job.job_id, job.error_code);
  sent.body = fmt::format(
      "Your job {} failed with error {} (exit code {}):\n"
      "{}\n"
      "Retries used: {} of {}; no further retry is scheduled.\n",
      job.job_id, job.error_code, job.exit_code, job.error_message, job.retry_count, job.max_retries);
  return sent;
}

std::optional<notification_sent> compose(const envelope& source, const job_cancelled& job, webhook_channel webhook) {
  auto sent = for_job(source, job, webhook);
  sent.subject = fmt::format("Job {} cancelled", job.job_id);
  sent.body = fmt::format("Your job {} was cancelled by {}{}{}.\nRefund: ${:.2f}\n", job.job_id, job.cancelled_by,
                          job.reason.empty() ? "" : ": ", job.reason, job.refund_usd);
  return sent;
}

std::optional<notification_sent> compose(const envelope& source, const alert_raised& alert, webhook_channel webhook) {
  auto sent = for_alert(source, alert, webhook);
  auto severity = to_string(alert.severity);
  sent.data.emplace("severity", std::string(severity));
  sent.subject = fmt::format("[{}] {}: {}", severity, alert.alert_type, alert.affected_resource);
  sent.body = fmt::format("Alert {} raised ({}, {}) on {}:\n{}\n", alert.alert_id, severity, alert.alert_type,
                          alert.affected_resource, alert.message);
  if (!alert.metrics.empty()) {
    std::string metrics;
    for (const auto& [name, value] : alert.metrics) {
      metrics += fmt::format("{}{}={:g}", metrics.empty() ? "" : ", ", name, value);
    }
    sent.body += fmt::format("Metrics: {}\n", metrics);
  }
  return sent;
}

std::optional<notification_sent> compose(const envelope& source, const alert_resolved& alert, webhook_channel webhook) {
  auto sent = for_alert(source, alert, webhook);
  sent.subject = fmt::format("[RESOLVED] {}: alert {}", alert.alert_type, alert.alert_id);
  sent.body = fmt::format("Alert {} ({}) was resolved at {}:\n{}\n", alert.alert_id, alert.alert_type,
                          format_rfc3339(alert.resolved_at).value_or("an unrepresentable time"), alert.resolution);
  return sent;
}

}  // namespace horizons::notification_dispatcher
