// The five services as separate processes against the real 3-node cluster,
// each SIGKILLed once mid-run and restarted; `horizons run --services none`
// submits the workload and reports, and the test holds the report against
// its own reading of every topic.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "child_process.hpp"
#include "kafka_tool.hpp"
#include "platform_check.hpp"

namespace {

using namespace std::chrono_literals;
using testing_support::child_process;

TEST(platform_on_real_kafka, five_services_each_killed_and_restarted_change_nothing) {
  horizons::client_config config;
  config.brokers = testing_support::kafka_brokers();
  auto data_dir = std::filesystem::temp_directory_path() / fmt::format("horizons-platform-kafka-{}", ::getpid());
  std::filesystem::remove_all(data_dir);
  auto since = horizons::now();
  {
    std::vector<std::string> lines;
    child_process ensure({HORIZONS_CLI, "topics", "ensure", "--brokers", config.brokers});
    ASSERT_EQ(ensure.finish(lines), 0) << fmt::format("{}", fmt::join(lines, ""));
  }

  const std::vector<std::string> names{"notification-dispatcher", "metrics-aggregator", "compliance-auditor",
                                       "orchestrator", "health-monitor"};
  auto serve = [&](const std::string& name) {
    std::vector<std::string> args{
        HORIZONS_CLI,           "serve", name, "--brokers", config.brokers, "--data-dir", data_dir.string(),
        "--session-timeout-ms", "6000"};
    if (name == "health-monitor") args.insert(args.end(), {"--http", "127.0.0.1:0"});
    return std::make_unique<child_process>(args);
  };
  std::vector<std::unique_ptr<child_process>> services;
  for (const auto& name : names) services.push_back(serve(name));

  constexpr int jobs = 500;
  child_process run({HORIZONS_CLI, "run", "--brokers", config.brokers, "--services", "none", "--jobs",
                     std::to_string(jobs), "--rate", "100", "--data-dir", data_dir.string(), "--report-json",
                     (data_dir / "report.json").string(), "--timeout", "600"});

  // Kill one service after every 60 notifications, and start it again at once.
  // Freshly created topics may take a moment to reach every broker's metadata.
  auto notifications = horizons::topic_reader::open(config, "notifications", horizons::read_from::beginning);
  for (int attempt = 0; !notifications && attempt < 30; ++attempt) {
    std::this_thread::sleep_for(1s);
    notifications = horizons::topic_reader::open(config, "notifications", horizons::read_from::beginning);
  }
  ASSERT_TRUE(notifications) << notifications.error().message;
  std::size_t seen = 0, killed = 0;
  auto deadline = std::chrono::steady_clock::now() + 400s;
  while (killed < names.size() && std::chrono::steady_clock::now() < deadline) {
    auto next = (*notifications)->next(100ms);
    ASSERT_TRUE(next);
    if (*next && (**next).time >= since) ++seen;
    if (seen >= 60 * (killed + 1)) {
      services[killed]->kill_now();
      services[killed] = serve(names[killed]);
      ++killed;
    }
  }
  ASSERT_EQ(killed, names.size()) << "the run did not get far enough to kill every service";

  std::vector<std::string> output;
  ASSERT_EQ(run.finish(output), 0) << fmt::format("{}", fmt::join(output, ""));
  fmt::print("{}", fmt::join(output, ""));
  for (auto& service : services) EXPECT_EQ(service->terminate(), 0) << "a service did not stop gracefully on SIGTERM";
  auto report = testing_support::read_report(data_dir / "report.json");
  auto count = testing_support::read_platform(config, since, report.value("job_prefix", std::string("?")));
  testing_support::check_platform(report, count, data_dir, HORIZONS_CLI, jobs, testing_support::topic_counts::at_least);
  std::filesystem::remove_all(data_dir);
}

}  // namespace
