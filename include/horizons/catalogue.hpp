// The topic catalogue: every operational number of every topic, defined once.
//
// Topic names and payload types come from schemas/ (see events.hpp); this
// file adds what a schema cannot say: partitions, replication, retention,
// compression, the partition key of each event and the owning consumer group.
//
//   const auto& t = horizons::spec(horizons::topic_id::job_lifecycle);
//   t.partitions;                      // 10
//   horizons::dlq_topic_name(t.id);    // "job-lifecycle.dlq"
//   horizons::partition_key(event);    // the job_id of a job.submitted
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <horizons/events.hpp>

namespace horizons {

enum class compression : std::uint8_t { none, snappy, lz4, gzip, zstd };

[[nodiscard]] constexpr std::string_view to_string(compression c) {
  constexpr std::array<std::string_view, 5> names{"none", "snappy", "lz4", "gzip", "zstd"};
  return names[static_cast<std::size_t>(c)];
}

struct topic_spec {
  topic_id id;
  int partitions;
  int replication_factor;
  int min_insync_replicas;
  std::chrono::days retention;
  compression compression_type;
  std::string_view cleanup_policy;
  std::string_view key_field;       // what partition_key() returns, for people
  std::string_view consumer_group;  // the main consumer of the topic
  std::int32_t schema_id;           // Confluent framing id of the topic's schema
  std::int32_t schema_version;      // envelope.schema_version written by this build

  [[nodiscard]] std::string_view name() const;
  [[nodiscard]] std::string dlq_name() const { return std::string(name()) + ".dlq"; }
};

inline constexpr std::array<topic_spec, topic_count> catalogue{{
    {topic_id::job_lifecycle, 10, 3, 2, std::chrono::days{30}, compression::snappy, "delete", "job_id", "job-processor",
     1, 2},
    {topic_id::job_metrics, 10, 3, 2, std::chrono::days{30}, compression::snappy, "delete", "job_id",
     "metrics-aggregator", 2, 2},
    {topic_id::notifications, 5, 3, 2, std::chrono::days{7}, compression::lz4, "delete",
     "recipient_id (alerts: alert_id)", "notification-dispatcher", 3, 1},
    {topic_id::audit_trail, 3, 3, 2, std::chrono::days{90}, compression::snappy, "delete", "resource id",
     "compliance-auditor", 4, 1},
    {topic_id::system_health, 1, 3, 2, std::chrono::days{7}, compression::lz4, "delete", "none", "health-monitor", 5,
     1},
}};

namespace detail {
template <std::size_t... I>
constexpr bool catalogue_in_topic_order(std::index_sequence<I...>) {
  return ((catalogue[I].id == static_cast<topic_id>(I)) && ...);
}
}  // namespace detail
static_assert(detail::catalogue_in_topic_order(std::make_index_sequence<topic_count>{}),
              "catalogue must list every topic of schemas/ once, in topic_id order");

[[nodiscard]] constexpr const topic_spec& spec(topic_id id) { return catalogue[static_cast<std::size_t>(id)]; }

/// The topic's name as in schemas/<name>.avsc ("job-lifecycle").
[[nodiscard]] std::string_view topic_name(topic_id id);
[[nodiscard]] inline std::string_view topic_spec::name() const { return topic_name(id); }
/// The topic's Avro schema, the text of schemas/<name>.avsc.
[[nodiscard]] std::string_view schema_json(topic_id id);
[[nodiscard]] std::optional<topic_id> topic_from_name(std::string_view name);
[[nodiscard]] std::optional<topic_id> topic_from_schema_id(std::int32_t schema_id);
/// The topic carrying a dotted event type ("job.submitted" -> job_lifecycle).
[[nodiscard]] std::optional<topic_id> topic_of_event_type(std::string_view event_type);

/// The topic a payload type is published to.
template <payload_record Payload>
[[nodiscard]] constexpr const topic_spec& spec_of() {
  return spec(payload_traits<Payload>::topic);
}

// Partition keys: all records of one key land on one partition, so per-key
// order holds. One overload per payload: a new event type without a key rule
// does not compile.
[[nodiscard]] inline std::optional<std::string_view> partition_key(const job_submitted& p) { return p.job_id; }
[[nodiscard]] inline std::optional<std::string_view> partition_key(const job_status_changed& p) { return p.job_id; }
[[nodiscard]] inline std::optional<std::string_view> partition_key(const job_completed& p) { return p.job_id; }
[[nodiscard]] inline std::optional<std::string_view> partition_key(const job_failed& p) { return p.job_id; }
[[nodiscard]] inline std::optional<std::string_view> partition_key(const job_cancelled& p) { return p.job_id; }
[[nodiscard]] inline std::optional<std::string_view> partition_key(const job_metrics_recorded& p) { return p.job_id; }
[[nodiscard]] inline std::optional<std::string_view> partition_key(const job_performance_summary& p) {
  return p.job_id;
}
[[nodiscard]] inline std::optional<std::string_view> partition_key(const resource_allocation_changed& p) {
  return p.job_id;
}
[[nodiscard]] inline std::optional<std::string_view> partition_key(const notification_sent& p) {
  return p.recipient_id;
}
[[nodiscard]] inline std::optional<std::string_view> partition_key(const notification_read& p) {
  return p.recipient_id;
}
[[nodiscard]] inline std::optional<std::string_view> partition_key(const notification_dismissed& p) {
  return p.recipient_id;
}
[[nodiscard]] inline std::optional<std::string_view> partition_key(const alert_raised& p) { return p.alert_id; }
[[nodiscard]] inline std::optional<std::string_view> partition_key(const alert_resolved& p) { return p.alert_id; }
[[nodiscard]] inline std::optional<std::string_view> partition_key(const audit_action_recorded& p) {
  return p.resource_id;
}
[[nodiscard]] inline std::optional<std::string_view> partition_key(const audit_policy_changed& p) {
  return p.policy_id;
}
[[nodiscard]] inline std::optional<std::string_view> partition_key(const audit_data_access& p) { return p.resource_id; }
[[nodiscard]] inline std::optional<std::string_view> partition_key(const audit_job_lifecycle& p) { return p.job_id; }
[[nodiscard]] inline std::optional<std::string_view> partition_key(const audit_compliance_check& p) {
  return p.check_id;
}
[[nodiscard]] inline std::optional<std::string_view> partition_key(const system_health_check&) { return std::nullopt; }
[[nodiscard]] inline std::optional<std::string_view> partition_key(const consumer_lag_evaluated&) {
  return std::nullopt;
}

template <class... Payloads>
[[nodiscard]] std::optional<std::string_view> partition_key(const std::variant<Payloads...>& payload) {
  return std::visit([](const auto& p) { return partition_key(p); }, payload);
}
template <class Payload>
[[nodiscard]] std::optional<std::string_view> partition_key(const event<Payload>& e) {
  return partition_key(e.payload);
}

}  // namespace horizons
