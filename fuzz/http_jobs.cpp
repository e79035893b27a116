// The orchestrator's job API (POST /jobs, GET /jobs/<id>, POST /jobs/<id>/cancel, /metrics): raw
// requests, request line, headers and body, answered in memory through the real routes, with an
// embedded Kafka cluster behind them. The key is HS256 with the secret below; the seed corpus
// carries tokens it signed (valid until 2100), so that mutations reach past the token check.
// Properties: expect_sound_answer (http_support.hpp).
#include <horizons/embedded_cluster.hpp>

#include "fuzz/http_support.hpp"
#include "services/common/state_store.hpp"
#include "services/orchestrator/engine.hpp"
#include "services/orchestrator/http_api.hpp"
#include "services/orchestrator/scheduler.hpp"

using namespace horizons;

namespace {

constexpr std::string_view fuzz_secret = "horizons-fuzz-secret-32-bytes-long!";

struct job_api {
  std::unique_ptr<embedded_cluster> cluster;
  std::unique_ptr<orchestrator::http_api> api;
};

job_api start() {
  job_api started;
  auto cluster = embedded_cluster::start({.brokers = 1});
  fuzz::expect(cluster.has_value(), "the embedded cluster starts");
  started.cluster = std::move(*cluster);
  const auto database = fuzz::scratch_folder() / "orchestrator.db";
  {
    auto opened = services::state_store::open(database);
    fuzz::expect(opened.has_value(), "the state store opens");
    orchestrator::engine tables(orchestrator::simulation{}, *opened);
    fuzz::expect(tables.prepare().has_value(), "the orchestrator's tables are made");
  }
  client_config config;
  config.brokers = started.cluster->bootstrap_servers();
  auto api = orchestrator::http_api::start({.listen = "127.0.0.1:0",
                                            .config = config,
                                            .database = sql::location(database),
                                            .auth = {.key = std::string(fuzz_secret)},
                                            .per_caller = {.per_second = 1e9, .burst = 1e9}});
  fuzz::expect(api.has_value(), "the job API starts");
  started.api = std::move(*api);
  return started;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static job_api service = [] {
    fuzz::alarm_blocked threads_without_alarm;
    return start();
  }();
  fuzz::expect_sound_answer(service.api->listener().answer(fuzz::as_text(data, size)));
  return 0;
}
