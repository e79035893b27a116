// Topic administration: make the cluster hold the catalogue's topics, and
// say where it differs from the catalogue instead of accepting it silently.
//
//   auto made = horizons::admin::create(config);
//   if (!made) return fail(made.error());
//   auto ensured = (*made)->ensure_topics();
//   if (!ensured) return fail(ensured.error().error);       // a topic is missing and could not be created
//   for (const auto& w : ensured->warnings) fmt::print("warning: {}\n", w);
//   for (const auto& d : ensured->drifts)
//     fmt::print("{}: {} is {}, the catalogue says {}\n", d.topic, d.setting, d.actual, d.expected);
//
// ensure_topics() covers every catalogue topic and its `<topic>.dlq` twin
// (same settings). Replication is lowered to the broker count and
// min.insync.replicas to at most the replication, each lowering reported in
// `warnings` and logged. Missing topics are created with the
// catalogue's partitions, replication, retention.ms, min.insync.replicas,
// compression.type and cleanup.policy. Existing topics are compared on all
// six; a difference is a `drift`, never changed behind the operator's back.
// Settings that cannot be read on this cluster (librdkafka's mock cluster
// has no DescribeConfigs) are listed in `unverified` with the reason;
// partitions and replication come from metadata and are always checked.
// CreateTopics and DescribeConfigs go to the controller; when the metadata
// names none among its brokers (the mock says controller 0, its brokers are
// 1..n) they go to the broker that answered the metadata, which serves or
// refuses them at once rather than after the timeout.
//
// Every call is bounded by `request_timeout` (and the connect timeout of the
// client configuration while the brokers are first reached).
// Threads: one admin may be used from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <horizons/config.hpp>
#include <horizons/kafka_error.hpp>

namespace horizons {

struct broker_info {
  std::int32_t id = -1;
  std::string host{};
  int port = 0;
};

struct partition_info {
  std::int32_t id = -1;
  std::int32_t leader = -1;              // -1: no leader
  std::vector<std::int32_t> replicas{};  // broker ids
  std::vector<std::int32_t> in_sync{};   // broker ids of the in-sync replicas
  int error_code = 0;                    // the broker's per-partition error (rd_kafka_resp_err_t), 0 if none
};

struct topic_info {
  std::string name{};
  std::vector<partition_info> partitions{};
  int error_code = 0;  // the broker's per-topic error, e.g. UNKNOWN_TOPIC_OR_PART
};

/// One metadata answer: the brokers the cluster advertises and every topic's partitions.
struct cluster_metadata {
  std::int32_t answered_by = -1;  // id of the broker that answered
  std::vector<broker_info> brokers{};
  std::vector<topic_info> topics{};
};

struct topic_summary {
  std::string name{};
  int partitions = 0;
};

/// A setting of an existing topic that differs from the catalogue.
struct topic_drift {
  std::string topic{};
  std::string setting{};  // "partitions", "replication", "retention.ms", "min.insync.replicas", ...
  std::string expected{};
  std::string actual{};
};

/// A setting that could not be read, and why.
struct unverified_setting {
  std::string topic{};
  std::string setting{};
  std::string reason{};  // "not verifiable on this cluster: <librdkafka's reason>"
};

/// A topic that is missing and was not created.
struct missing_topic {
  std::string topic{};
  kafka_error error{};
};

struct ensure_report {
  int brokers = 0;  // brokers in the cluster's metadata
  std::vector<std::string> created{};
  std::vector<std::string> existing{};
  std::vector<std::string> warnings{};  // every lowering of replication or min ISR, also logged
  std::vector<topic_drift> drifts{};
  std::vector<unverified_setting> unverified{};
  std::vector<missing_topic> missing{};  // only in ensure_failure::report
};

/// ensure_topics() could not make every topic exist; `report` holds what was checked anyway.
struct ensure_failure {
  kafka_error error{};
  ensure_report report{};
};

/// A catalogue topic (or its dead-letter twin) as the cluster has it.
struct topic_description {
  std::string name{};
  bool exists = false;
  int partitions = 0;
  int replication = 0;                           // replicas of the first partition (see drift for uneven topics)
  std::vector<std::int32_t> leaders{};           // per partition, -1 where there is none
  std::map<std::string, std::string> configs{};  // every config DescribeConfigs returned
  std::string configs_unavailable{};             // why `configs` is empty, when it is
};

/// A topic outside the catalogue (a service's own, e.g. the schema registry's `_schemas`).
struct topic_request {
  std::string name{};
  int partitions = 1;
  /// Lowered to the broker count, as ensure_topics() does (and logged).
  int replication = 3;
  /// Topic-level settings given at creation: {"cleanup.policy", "compact"}, ...
  std::map<std::string, std::string> configs{};
};

/// What create_topic() found.
enum class topic_creation : std::uint8_t { created, existed };

class admin {
 public:
  struct options {
    client_config config{};
    /// Bound on each metadata or admin request (CreateTopics also waits this long for the controller).
    std::chrono::milliseconds request_timeout{30'000};
  };

  /// Connects (waits up to config.connect_timeout for a broker) and returns a ready admin client.
  [[nodiscard]] static std::expected<std::unique_ptr<admin>, kafka_error> create(options opts);
  [[nodiscard]] static std::expected<std::unique_ptr<admin>, kafka_error> create(const client_config& config);
  ~admin();
  admin(const admin&) = delete;
  admin& operator=(const admin&) = delete;

  /// Creates missing catalogue topics (+ .dlq) and reports drift of existing ones. Blocks.
  [[nodiscard]] std::expected<ensure_report, ensure_failure> ensure_topics();
  /// Creates `topic` unless a topic of that name exists (which is then left as it is: compare it
  /// with metadata()), and waits (up to request_timeout) until its partitions have leaders.
  /// Blocks. Fails when the cluster refuses the creation (librdkafka's mock cluster always does).
  [[nodiscard]] std::expected<topic_creation, kafka_error> create_topic(const topic_request& topic);
  /// Every catalogue topic and its .dlq twin, in catalogue order; configs where the cluster can describe them.
  [[nodiscard]] std::expected<std::vector<topic_description>, kafka_error> describe_topics();
  /// Every topic of the cluster with its partition count, sorted by name.
  [[nodiscard]] std::expected<std::vector<topic_summary>, kafka_error> list_topics();
  /// The raw metadata of brokers and all topics (what health checks read).
  [[nodiscard]] std::expected<cluster_metadata, kafka_error> metadata();

  [[nodiscard]] const client_config& config() const;

  struct impl;

 private:
  explicit admin(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

}  // namespace horizons
