#include "services/health_monitor/dashboard.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "services/health_monitor/json_parts.hpp"

namespace horizons::health_monitor {
namespace {

using ordered_json = nlohmann::ordered_json;

ordered_json time_or_null(timestamp t) {
  if (t == timestamp{}) return nullptr;
  if (auto text = format_rfc3339(t)) return *text;
  return nullptr;
}

ordered_json jobs_by_state(const job_counts& jobs) {
  return {{"SUBMITTED", jobs.submitted},     {"QUEUED", jobs.queued},     {"RUNNING", jobs.active},
          {"COMPLETED", jobs.completed_24h}, {"FAILED", jobs.failed_24h}, {"CANCELLED", jobs.cancelled_24h}};
}

ordered_json point(const snapshot& s) {
  ordered_json events_per_s = ordered_json::object();
  ordered_json p99 = ordered_json::object();
  for (const auto& t : s.topics) {
    events_per_s[t.topic] = t.events_per_s;
    // No record in the interval: no latency to show (null, not a misleading 0).
    p99[t.topic] = t.latency_samples > 0 ? ordered_json(t.p99_ms) : ordered_json(nullptr);
  }
  ordered_json lag = ordered_json::array();
  for (const auto& g : s.groups) {
    lag.push_back({{"group", g.group},
                   {"topic", g.topic},
                   {"messages", g.lag_messages},
                   {"seconds", g.lag_seconds},
                   {"status", status_name(g.status)}});
  }
  std::uint64_t dead = 0;
  for (const auto& [topic, n] : s.dead_letters) dead += n;
  return {{"evaluation", s.evaluations},
          {"t", time_or_null(s.checked_at)},
          {"status", status_name(s.status)},
          {"jobs", jobs_by_state(s.jobs)},
          {"events_per_s", std::move(events_per_s)},
          {"p99_ms", std::move(p99)},
          {"lag", std::move(lag)},
          {"brokers_up", s.brokers.brokers_up},
          {"under_replicated", s.brokers.under_replicated},
          {"dead_letters", dead}};
}

}  // namespace

evaluation_history::evaluation_history(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

void evaluation_history::add(const snapshot& evaluated) {
  points_.push_back(render_point(evaluated));
  while (points_.size() > capacity_) points_.pop_front();
}

std::string render_point(const snapshot& evaluated) { return point(evaluated).dump(); }

std::string render_overview(const snapshot* latest) {
  if (!latest) {
    return ordered_json{
        {"evaluation", 0}, {"checked_at", nullptr}, {"status", "down"}, {"reasons", {"no evaluation yet"}}}
        .dump();
  }
  const auto& s = *latest;
  const auto& b = s.brokers;
  ordered_json groups = groups_json(s.groups);
  ordered_json topics = ordered_json::array();
  for (const auto& t : s.topics) {
    topics.push_back({{"topic", t.topic},
                      {"events_total", t.events_total},
                      {"events_per_s", t.events_per_s},
                      {"latency_samples", t.latency_samples},
                      {"p50_ms", t.p50_ms},
                      {"p95_ms", t.p95_ms},
                      {"p99_ms", t.p99_ms},
                      {"max_ms", t.max_ms}});
  }
  ordered_json alerts = ordered_json::array();
  for (const auto& a : s.recent_alerts) {
    alerts.push_back({{"at", time_or_null(a.at)},
                      {"alert_id", a.alert_id},
                      {"action", a.action},
                      {"severity", a.severity},
                      {"message", a.message}});
  }
  ordered_json dead_letters = ordered_json::object();
  for (const auto& [topic, n] : s.dead_letters) dead_letters[topic] = n;
  return ordered_json{{"evaluation", s.evaluations},
                      {"checked_at", time_or_null(s.checked_at)},
                      {"status", status_name(s.status)},
                      {"reasons", s.reasons},
                      {"brokers", brokers_json(b)},
                      {"jobs", jobs_by_state(s.jobs)},
                      {"groups", std::move(groups)},
                      {"topics", std::move(topics)},
                      {"dead_letters", std::move(dead_letters)},
                      {"open_alerts", s.open_alerts},
                      {"recent_alerts", std::move(alerts)},
                      {"response_time_ms", s.response_time_ms},
                      {"point", point(s)}}
      .dump();
}

std::string render_history(const evaluation_history& history) {
  std::string out = fmt::format(R"({{"capacity":{},"points":[)", history.capacity());
  bool first = true;
  for (const auto& p : history.points()) {
    if (!first) out += ',';
    out += p;
    first = false;
  }
  out += "]}";
  return out;
}

std::string render_job(std::string_view job_id, std::span<const job_event_row> events) {
  ordered_json list = ordered_json::array();
  for (const auto& e : events) {
    list.push_back({{"event_type", e.event_type},
                    {"status", e.status},
                    {"occurred_at", time_or_null(e.occurred_at)},
                    {"read_at", time_or_null(e.read_at)},
                    {"detail", e.detail},
                    {"event_id", e.event_id},
                    {"partition", e.partition},
                    {"offset", e.offset}});
  }
  return ordered_json{{"job_id", job_id}, {"events", std::move(list)}}.dump();
}

std::string render_job_list(std::span<const std::string> jobs) {
  ordered_json list = ordered_json::array();
  for (const auto& j : jobs) list.push_back(j);
  return ordered_json{{"jobs", std::move(list)}}.dump();
}

std::string sse_frame(std::string_view event, std::uint64_t id, std::string_view data) {
  std::string out = fmt::format("id: {}\nevent: {}\n", id, event);
  std::size_t start = 0;
  while (true) {
    auto end = data.find_first_of("\r\n", start);
    out += "data: ";
    out += data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    out += '\n';
    if (end == std::string_view::npos) break;
    start = end + (data.compare(end, 2, "\r\n") == 0 ? 2 : 1);
  }
  out += '\n';
  return out;
}

}  // namespace horizons::health_monitor
