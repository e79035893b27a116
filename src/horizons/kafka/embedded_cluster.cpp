#include <horizons/catalogue.hpp>
#include <horizons/embedded_cluster.hpp>

#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "rdkafka.hpp"  // before rdkafka_mock.h, which needs rdkafka.h first
#include <librdkafka/rdkafka_mock.h>

namespace horizons {

struct embedded_cluster::impl {
  options opts;
  detail::kafka_ptr host;  // the client instance the mock cluster lives in
  rd_kafka_mock_cluster_t* cluster = nullptr;
  std::string bootstraps;
  mutable std::mutex mutex;
  std::vector<std::string> topics;

  ~impl() {
    if (cluster) rd_kafka_mock_cluster_destroy(cluster);  // before its host client
  }
};

std::expected<std::unique_ptr<embedded_cluster>, kafka_error> embedded_cluster::start(options opts) {
  if (opts.brokers < 1 || opts.brokers > 16) {
    return std::unexpected(
        kafka_error{.code = RD_KAFKA_RESP_ERR__INVALID_ARG,
                    .name = "_INVALID_ARG",
                    .message = fmt::format("embedded cluster: brokers must be 1..16, got {}", opts.brokers)});
  }
  auto state = std::make_unique<impl>();
  state->opts = opts;
  detail::conf_ptr conf(rd_kafka_conf_new());
  if (auto ok = detail::set_property(conf.get(), "client.id", "horizons-embedded-cluster"); !ok) {
    return std::unexpected(ok.error());
  }
  // This handle only hosts the mock brokers and never connects: its "no bootstrap.servers" notice is noise.
  if (auto ok = detail::set_property(conf.get(), "log_level", "3"); !ok) return std::unexpected(ok.error());
  auto host = detail::make_client(RD_KAFKA_PRODUCER, conf);
  if (!host) return std::unexpected(host.error());
  state->host = std::move(*host);
  state->cluster = rd_kafka_mock_cluster_new(state->host.get(), opts.brokers);
  if (!state->cluster) {
    return std::unexpected(kafka_error{.code = RD_KAFKA_RESP_ERR__FAIL,
                                       .name = "_FAIL",
                                       .message = "embedded cluster: the mock cluster did not start"});
  }
  state->bootstraps = rd_kafka_mock_cluster_bootstraps(state->cluster);
  std::unique_ptr<embedded_cluster> cluster(new embedded_cluster(std::move(state)));
  if (opts.create_catalogue_topics) {
    for (const auto& t : catalogue) {
      for (const auto& name : {std::string(t.name()), t.dlq_name()}) {
        if (auto ok = cluster->create_topic(name, t.partitions); !ok) return std::unexpected(ok.error());
      }
    }
  }
  return cluster;
}

embedded_cluster::embedded_cluster(std::unique_ptr<impl> state) : impl_(std::move(state)) {}
embedded_cluster::~embedded_cluster() = default;

const std::string& embedded_cluster::bootstrap_servers() const { return impl_->bootstraps; }
int embedded_cluster::broker_count() const { return impl_->opts.brokers; }

std::vector<std::string> embedded_cluster::topics() const {
  std::scoped_lock lock(impl_->mutex);
  return impl_->topics;
}

std::expected<void, kafka_error> embedded_cluster::create_topic(const std::string& name, int partitions,
                                                                int replication_factor) {
  if (replication_factor <= 0) replication_factor = std::min(3, impl_->opts.brokers);
  auto err = rd_kafka_mock_topic_create(impl_->cluster, name.c_str(), partitions, replication_factor);
  if (err) return std::unexpected(detail::make_kafka_error(err, fmt::format("create topic {}", name)));
  std::scoped_lock lock(impl_->mutex);
  impl_->topics.push_back(name);
  return {};
}

namespace {

// Runs a mock-cluster call for one broker, refusing ids the cluster does not have.
template <class Call>
std::expected<void, kafka_error> on_broker(int broker_id, int brokers, std::string_view what, Call call) {
  if (broker_id < 1 || broker_id > brokers) {
    return std::unexpected(
        kafka_error{.code = RD_KAFKA_RESP_ERR__INVALID_ARG,
                    .name = "_INVALID_ARG",
                    .message = fmt::format("{}: no broker {} (brokers are 1..{})", what, broker_id, brokers)});
  }
  if (auto err = call(); err) return std::unexpected(detail::make_kafka_error(err, what));
  return {};
}

}  // namespace

std::expected<void, kafka_error> embedded_cluster::set_broker_down(int broker_id) {
  return on_broker(broker_id, broker_count(), "set broker down",
                   [&] { return rd_kafka_mock_broker_set_down(impl_->cluster, broker_id); });
}

std::expected<void, kafka_error> embedded_cluster::set_broker_up(int broker_id) {
  return on_broker(broker_id, broker_count(), "set broker up",
                   [&] { return rd_kafka_mock_broker_set_up(impl_->cluster, broker_id); });
}

std::expected<void, kafka_error> embedded_cluster::set_broker_rtt(int broker_id, std::chrono::milliseconds rtt) {
  return on_broker(broker_id, broker_count(), "set broker rtt", [&] {
    return rd_kafka_mock_broker_set_rtt(impl_->cluster, broker_id, static_cast<int>(rtt.count()));
  });
}

void embedded_cluster::inject_request_errors(int api_key, int error_code, int count) {
  std::vector<rd_kafka_resp_err_t> errors(static_cast<std::size_t>(count),
                                          static_cast<rd_kafka_resp_err_t>(error_code));
  rd_kafka_mock_push_request_errors_array(impl_->cluster, static_cast<int16_t>(api_key), errors.size(), errors.data());
}

void embedded_cluster::clear_request_errors(int api_key) {
  rd_kafka_mock_clear_request_errors(impl_->cluster, static_cast<int16_t>(api_key));
}

}  // namespace horizons
