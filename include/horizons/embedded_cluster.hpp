// An in-process Kafka cluster: librdkafka's mock cluster, N brokers on
// loopback, with the catalogue's topics (and their .dlq twins) created.
// Any Kafka client on the machine can use it through bootstrap_servers().
//
//   auto cluster = horizons::embedded_cluster::start({.brokers = 3});
//   config.brokers = (*cluster)->bootstrap_servers();      // "127.0.0.1:41235,..."
//   (*cluster)->set_broker_down(2);                         // fault injection
//
// Known limits of the mock (librdkafka 2.8.0): no CreateTopics, DeleteTopics,
// DescribeConfigs, ListGroups or DescribeGroups; topics come from
// create_topic(); the first consumer-group join takes about 3 s.
// Thread-safe: fault injection may be called from any thread.
#pragma once

#include <chrono>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include <horizons/kafka_error.hpp>

namespace horizons {

class embedded_cluster {
 public:
  struct options {
    int brokers = 3;
    bool create_catalogue_topics = true;
  };

  [[nodiscard]] static std::expected<std::unique_ptr<embedded_cluster>, kafka_error> start(options opts);
  ~embedded_cluster();
  embedded_cluster(const embedded_cluster&) = delete;
  embedded_cluster& operator=(const embedded_cluster&) = delete;

  [[nodiscard]] const std::string& bootstrap_servers() const;
  [[nodiscard]] int broker_count() const;
  /// Topics created so far, in creation order.
  [[nodiscard]] std::vector<std::string> topics() const;

  /// replication_factor 0 means min(3, brokers).
  [[nodiscard]] std::expected<void, kafka_error> create_topic(const std::string& name, int partitions,
                                                              int replication_factor = 0);

  // Fault injection. Broker ids are 1..broker_count().
  [[nodiscard]] std::expected<void, kafka_error> set_broker_down(int broker_id);
  [[nodiscard]] std::expected<void, kafka_error> set_broker_up(int broker_id);
  /// Adds a round-trip delay to every request the broker answers.
  [[nodiscard]] std::expected<void, kafka_error> set_broker_rtt(int broker_id, std::chrono::milliseconds rtt);
  /// The next `count` requests of Kafka API `api_key` (e.g. 0 = Produce, 1 = Fetch) fail with `error_code`.
  void inject_request_errors(int api_key, int error_code, int count);
  void clear_request_errors(int api_key);

  struct impl;

 private:
  explicit embedded_cluster(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

}  // namespace horizons
