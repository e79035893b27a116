// Scale-out on PostgreSQL: two instances of every service, each a process
// with a data folder of its own (as if on separate hosts) and all sharing one
// PostgreSQL database, against the real 3-node cluster. A chaos loop SIGKILLs
// a random instance every few seconds and starts it again while 2,000 jobs
// run; then the second instance of every service stops and the survivors
// alone take a second batch. `horizons run --services none` submits each
// batch and reports; the test holds each report against its own reading of
// every topic and of the services' state.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "child_process.hpp"
#include "kafka_tool.hpp"
#include "platform_check.hpp"
#include "postgres_database.hpp"
#include "services/common/sql/sql.hpp"

namespace {

using namespace std::chrono_literals;
using testing_support::child_process;

struct batch {
  nlohmann::json report;
  std::vector<std::string> output;
};

TEST(platform_scale_out, two_instances_of_every_service_on_postgres_survive_a_chaos_loop_then_one_takes_over) {
  horizons::client_config config;
  config.brokers = testing_support::kafka_brokers();
  auto base = std::filesystem::temp_directory_path() / fmt::format("horizons-scale-out-{}", ::getpid());
  std::filesystem::remove_all(base);
  const auto database = testing_support::postgres_database("scale-out");
  ASSERT_TRUE(database) << "HORIZONS_TEST_POSTGRES_URL is not set: run through ctest (the postgres_server fixture)";
  const auto& state = *database;
  {
    std::vector<std::string> lines;
    child_process ensure({HORIZONS_CLI, "topics", "ensure", "--brokers", config.brokers});
    ASSERT_EQ(ensure.finish(lines), 0) << fmt::format("{}", fmt::join(lines, ""));
  }

  const std::vector<std::string> names{"orchestrator", "metrics-aggregator", "notification-dispatcher",
                                       "compliance-auditor", "health-monitor"};
  constexpr std::size_t per_service = 2;
  auto folder = [&](std::size_t slot) {
    return base / fmt::format("host-{}-{}", names[slot / per_service], slot % per_service);
  };
  auto serve = [&](std::size_t slot) {
    const auto& name = names[slot / per_service];
    std::vector<std::string> args{HORIZONS_CLI, "serve", name,         "--brokers",           config.brokers,
                                  "--state",    state,   "--data-dir", folder(slot).string(), "--session-timeout-ms",
                                  "6000"};
    if (name == "health-monitor") args.insert(args.end(), {"--http", "127.0.0.1:0"});
    return std::make_unique<child_process>(args);
  };
  std::vector<std::unique_ptr<child_process>> instances;
  for (std::size_t slot = 0; slot < names.size() * per_service; ++slot) instances.push_back(serve(slot));
  std::vector<std::filesystem::path> dispatcher_dirs;
  for (std::size_t slot = 0; slot < instances.size(); ++slot) {
    if (names[slot / per_service] == "notification-dispatcher") dispatcher_dirs.push_back(folder(slot));
  }

  auto run_batch = [&](int jobs, const std::string& label, const std::function<void(std::atomic<bool>&)>& meanwhile) {
    batch b;
    auto report_file = base / (label + ".json");
    child_process run({HORIZONS_CLI,    "run",
                       "--brokers",     config.brokers,
                       "--services",    "none",
                       "--jobs",        std::to_string(jobs),
                       "--rate",        "100",
                       "--state",       state,
                       "--data-dir",    (base / label).string(),
                       "--report-json", report_file.string(),
                       "--timeout",     "900",
                       "--seed",        std::to_string(jobs)});
    std::atomic<bool> done{false};
    int exit_code = -1;
    {
      std::jthread waiter([&] {
        exit_code = run.finish(b.output);
        done = true;
      });
      meanwhile(done);
    }
    EXPECT_EQ(exit_code, 0) << label;
    b.report = testing_support::read_report(report_file);
    // The run prints its report only at the end, which may come after child_process stops reading: the JSON.
    fmt::print("{}: {}\n", label, b.report.dump());
    return b;
  };

  // Batch 1: a random instance SIGKILLed and started again every 2-5 s for as long as the run lasts.
  auto since = horizons::now();
  std::mt19937 random(20261207);
  int kills = 0;
  auto first = run_batch(2'000, "batch-1", [&](std::atomic<bool>& done) {
    while (!done) {
      auto pause = std::chrono::milliseconds(std::uniform_int_distribution<int>(2'000, 5'000)(random));
      for (auto until = std::chrono::steady_clock::now() + pause; !done && std::chrono::steady_clock::now() < until;)
        std::this_thread::sleep_for(50ms);
      if (done) break;
      auto slot = std::uniform_int_distribution<std::size_t>(0, instances.size() - 1)(random);
      instances[slot]->kill_now();
      instances[slot] = serve(slot);
      ++kills;
    }
  });
  fmt::print("chaos: {} instances SIGKILLed and restarted during the first batch\n", kills);
  EXPECT_GE(kills, 10) << "the chaos loop should have killed instances throughout the run";
  const testing_support::platform_state platform{.root = *horizons::sql::location::parse(state),
                                                 .data_dirs = dispatcher_dirs};
  {
    auto count = testing_support::read_platform(config, since, first.report.value("job_prefix", std::string("?")));
    testing_support::check_platform(first.report, count, platform, HORIZONS_CLI, 2'000,
                                    testing_support::topic_counts::at_least);
  }

  // Batch 2: the second instance of every service stops; the first alone takes all partitions.
  for (std::size_t slot = 1; slot < instances.size(); slot += per_service) {
    EXPECT_EQ(instances[slot]->terminate(), 0) << "instance " << slot << " did not stop gracefully";
  }
  since = horizons::now();
  auto second = run_batch(300, "batch-2", [](std::atomic<bool>&) {});
  {
    auto count = testing_support::read_platform(config, since, second.report.value("job_prefix", std::string("?")));
    testing_support::check_platform(second.report, count, platform, HORIZONS_CLI, 300,
                                    testing_support::topic_counts::at_least);
  }
  for (std::size_t slot = 0; slot < instances.size(); slot += per_service) {
    EXPECT_EQ(instances[slot]->terminate(), 0) << "instance " << slot << " did not stop gracefully";
  }
  std::filesystem::remove_all(base);
}

}  // namespace
