// The health monitor's HTTP endpoint (the dashboard's page and assets, /healthz, /api/overview,
// /api/history, /api/stream, /api/jobs?..., /api/jobs/<id>, /metrics): raw requests answered in
// memory through the real routes, with one evaluation published and an (empty) state database.
// Properties: expect_sound_answer (http_support.hpp), and a stream ends with its client (under
// libFuzzer, a stream that waits for its keep-alive is a timeout).
#include "fuzz/http_support.hpp"
#include "services/common/sql/sql.hpp"
#include "services/health_monitor/http_endpoint.hpp"
#include "services/health_monitor/monitor_state.hpp"

using namespace horizons;

namespace {

std::unique_ptr<health_monitor::http_endpoint> start() {
  const auto database = fuzz::scratch_folder() / "state.db";
  {
    auto db = sql::database::open(sql::location(database));
    fuzz::expect(db.has_value(), "the state database opens");
    fuzz::expect(health_monitor::create_monitor_tables(*db).has_value(), "the monitor's tables are made");
  }
  // A keep-alive past libFuzzer's 10 s timeout: a stream that outlives its client is a timeout.
  auto endpoint = health_monitor::http_endpoint::start("127.0.0.1:0", {.keepalive = std::chrono::seconds(60)});
  fuzz::expect(endpoint.has_value(), "the endpoint starts");
  (*endpoint)->serve_jobs_from(sql::location(database));
  (*endpoint)->publish(health_monitor::snapshot{.checked_at = now(), .reasons = {"fuzzing"}});
  return std::move(*endpoint);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto endpoint = [] {
    fuzz::alarm_blocked threads_without_alarm;
    return start();
  }();
  fuzz::expect_sound_answer(endpoint->listener().answer(fuzz::as_text(data, size)));
  return 0;
}
