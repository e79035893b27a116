// The schema registry's HTTP routes (Confluent's REST paths, /horizons/status, /metrics): raw
// requests answered in memory through the real routes, the registry's `_schemas` topic on an
// embedded Kafka cluster. Properties: expect_sound_answer (http_support.hpp).
#include <horizons/embedded_cluster.hpp>

#include "fuzz/http_support.hpp"
#include "services/schema_registry/service.hpp"

using namespace horizons;

namespace {

struct registry {
  std::unique_ptr<embedded_cluster> cluster;
  std::unique_ptr<schema_registry_service::server> server;
};

registry start() {
  registry started;
  auto cluster = embedded_cluster::start({.brokers = 1});
  fuzz::expect(cluster.has_value(), "the embedded cluster starts");
  started.cluster = std::move(*cluster);
  client_config config;
  config.brokers = started.cluster->bootstrap_servers();
  // The mock cluster answers an empty fetch only after the fetch wait; the registry caps its own.
  config.fetch_wait = std::chrono::milliseconds(10);
  const schema_registry_service::options options{.config = config, .listen = "127.0.0.1:0"};
  auto topic = started.cluster->create_topic(options.topic, 1);
  fuzz::expect(topic.has_value(), "the registry's topic is made", topic ? "" : topic.error().message);
  auto server = schema_registry_service::server::start(options);
  fuzz::expect(server.has_value(), "the registry starts", server ? "" : server.error());
  started.server = std::move(*server);
  return started;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static registry service = [] {
    fuzz::alarm_blocked threads_without_alarm;
    return start();
  }();
  fuzz::expect_sound_answer(service.server->listener().answer(fuzz::as_text(data, size)));
  return 0;
}
