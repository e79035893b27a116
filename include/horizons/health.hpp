// Cluster health and consumer lag, measured on the cluster itself.
//
//   auto health = horizons::check_cluster(config, {.expected_brokers = 3});
//   if (!health) return fail(health.error());
//   fmt::print("{}/{} brokers up, {} partitions without leader, {} under-replicated\n",
//              health->brokers_up, health->expected_brokers, health->leaderless.size(),
//              health->under_replicated.size());
//
//   auto lag = horizons::consumer_lag(config, {.group = "job-processor", .topics = {"job-lifecycle"}});
//   if (!lag) return fail(lag.error());
//   for (const auto& t : lag->topics)
//     fmt::print("{}: {} messages, {:.1f} s behind\n", t.topic, t.lag_messages, t.lag_seconds.count());
//
// Brokers: a broker is *up* when the cluster's metadata lists it and, with
// the default `broker_probe::connect`, a client bootstrapped with that broker
// alone gets a metadata answer from it within `probe_timeout`. The probe
// matters: a real Kafka cluster drops a dead broker from its metadata, but
// librdkafka's mock cluster keeps listing a broker it has set down (and keeps
// it as leader: the mock elects no new leaders). `expected_brokers` is the
// largest of the option, the brokers in metadata and the broker ids named in
// any partition's replica list — a broker that left the metadata but still
// holds replicas is counted as expected and missing.
// Partitions: *leaderless* when the leader is -1 or not a listed broker;
// *leader unreachable* when the leader is listed but failed the probe;
// *under-replicated* when fewer replicas are in sync than assigned.
//
// Lag, per partition of each topic: the group's committed offset (the next
// record it will read), the low and high watermarks, lag_messages = high -
// committed (high - low when the group committed nothing), and lag_seconds =
// now - the timestamp of the record at the committed offset, the oldest
// record the group has not finished (0 when lag_messages is 0). Reading the
// committed offsets joins no group and commits nothing; the record's
// timestamp is read by a group-less consumer. Every call is bounded by its
// timeout; what could not be measured in time is an error of that partition.
// Threads: the functions are free-standing and may run on any thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include <horizons/admin.hpp>
#include <horizons/config.hpp>
#include <horizons/kafka_error.hpp>

namespace horizons {

enum class broker_probe : std::uint8_t {
  metadata_only,  // up = listed in metadata
  connect,        // up = listed and answers a metadata request of its own
};

struct health_options {
  /// Brokers the deployment should have; 0: infer from metadata and replica lists.
  int expected_brokers = 0;
  broker_probe probe = broker_probe::connect;
  /// Bound on each broker's probe (the probes run in parallel).
  std::chrono::milliseconds probe_timeout{2'000};
};

struct broker_health {
  std::int32_t id = -1;
  std::string host{};  // empty for a broker known only from replica lists
  int port = 0;
  bool in_metadata = false;
  bool reachable = false;  // answered the probe (equals in_metadata with broker_probe::metadata_only)
  std::string problem{};   // why it is not up, empty when up
  [[nodiscard]] bool up() const { return in_metadata && reachable; }
};

struct partition_health {
  std::string topic{};
  std::int32_t partition = -1;
  std::int32_t leader = -1;
  int replicas = 0;
  int in_sync = 0;
};

struct topic_health {
  std::string topic{};
  int partitions = 0;
  int leaderless = 0;
  int leader_unreachable = 0;
  int under_replicated = 0;
};

struct cluster_health {
  int expected_brokers = 0;
  int brokers_up = 0;
  std::vector<broker_health> brokers{};  // by id: every listed or referenced broker
  std::vector<partition_health> leaderless{};
  std::vector<partition_health> leader_unreachable{};
  std::vector<partition_health> under_replicated{};
  std::vector<topic_health> topics{};  // every topic of the cluster, by name
  [[nodiscard]] bool healthy() const {
    return brokers_up == expected_brokers && leaderless.empty() && leader_unreachable.empty() &&
           under_replicated.empty();
  }
};

/// Reads metadata through `client` and probes each broker. Blocks up to the admin's request
/// timeout plus one probe_timeout.
[[nodiscard]] std::expected<cluster_health, kafka_error> check_cluster(admin& client, health_options options = {});
/// The same through a short-lived admin client of `config`.
[[nodiscard]] std::expected<cluster_health, kafka_error> check_cluster(const client_config& config,
                                                                       health_options options = {});

struct lag_query {
  std::string group{};
  std::vector<std::string> topics{};  // topic names: catalogue topics, .dlq twins, any other
  /// Bound on the whole measurement.
  std::chrono::milliseconds timeout{15'000};
};

struct partition_lag {
  std::string topic{};
  std::int32_t partition = -1;
  std::optional<std::int64_t> committed{};  // nullopt: the group has committed nothing here
  std::int64_t low = 0;                     // first offset still held
  std::int64_t high = 0;                    // next offset to be written
  std::int64_t lag_messages = 0;
  std::chrono::duration<double> lag_seconds{};  // age of the oldest unfinished record; 0 when none
  std::string error{};                          // what could not be measured; empty when all was
};

struct topic_lag {
  std::string topic{};
  int partitions = 0;
  std::int64_t lag_messages = 0;                // sum over partitions
  std::chrono::duration<double> lag_seconds{};  // maximum over partitions
  int unmeasured_partitions = 0;                // partitions with an error
};

struct lag_report {
  std::string group{};
  std::vector<partition_lag> partitions{};      // by topic (in query order), then partition
  std::vector<topic_lag> topics{};              // in query order
  std::int64_t lag_messages = 0;                // the group's total
  std::chrono::duration<double> lag_seconds{};  // the group's maximum
  bool committed_anything = false;
  [[nodiscard]] bool complete() const {
    return std::ranges::all_of(partitions, [](const partition_lag& p) { return p.error.empty(); });
  }
};

/// Lag of `query.group` on `query.topics`. Errors: unreachable cluster, unknown topic, committed
/// offsets not readable; a partition whose watermarks or record could not be read carries its own error.
[[nodiscard]] std::expected<lag_report, kafka_error> consumer_lag(const client_config& config, const lag_query& query);

}  // namespace horizons
