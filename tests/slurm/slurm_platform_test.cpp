// The whole platform with real jobs: `horizons run --scheduler slurm` hosts
// four services on an embedded cluster this test owns, while the orchestrator
// runs as `horizons serve orchestrator --scheduler slurm`, SIGKILLed and
// restarted every 2-4 s as 50 jobs run. Every job ends, its events read back
// from Kafka agree with the services' report, and Slurm holds exactly one
// batch job per job (`squeue --name`): none was submitted twice.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <horizons/testkit/cluster_fixture.hpp>

#include "child_process.hpp"
#include "platform_check.hpp"
#include "services/orchestrator/command.hpp"

namespace {

using namespace std::chrono_literals;
using testing_support::child_process;

class slurm_platform : public horizons::testkit::cluster_fixture {
 protected:
  static void SetUpTestSuite() { ::setenv("SLURM_CONF", HORIZONS_TEST_SLURM_DIR "/slurm.conf", 1); }
  void SetUp() override {
    cluster_fixture::SetUp();
    data_dir_ = std::filesystem::temp_directory_path() / fmt::format("horizons-slurm-platform-{}", ::getpid());
    std::filesystem::remove_all(data_dir_);
  }
  void TearDown() override {
    std::filesystem::remove_all(data_dir_);
    cluster_fixture::TearDown();
  }
  std::vector<std::string> common() {
    return {"--brokers", config().brokers, "--data-dir", data_dir_.string(), "--session-timeout-ms",
            "6000",      "--scheduler",    "slurm"};
  }

  std::filesystem::path data_dir_;
};

TEST_F(slurm_platform, fifty_jobs_end_once_each_with_one_slurm_job_while_the_orchestrator_is_killed_again_and_again) {
  auto since = horizons::now();
  constexpr int jobs = 50;
  auto run_args = std::vector<std::string>{
      HORIZONS_CLI,    "run",
      "--jobs",        std::to_string(jobs),
      "--rate",        "10",
      "--services",    "metrics-aggregator,notification-dispatcher,compliance-auditor,health-monitor",
      "--report-json", (data_dir_ / "report.json").string(),
      "--timeout",     "400"};
  auto shared = common();
  run_args.insert(run_args.end(), shared.begin(), shared.end());
  auto serve_args = std::vector<std::string>{HORIZONS_CLI, "serve", "orchestrator", "--sample-interval", "1"};
  serve_args.insert(serve_args.end(), shared.begin(), shared.end());

  child_process run(run_args);
  auto orchestrator = std::make_unique<child_process>(serve_args);
  std::mt19937 rng(11);
  int kills = 0;
  for (; kills < 8; ++kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2'000 + rng() % 2'000));
    orchestrator->kill_now();
    orchestrator = std::make_unique<child_process>(serve_args);
  }
  std::vector<std::string> output;
  ASSERT_EQ(run.finish(output), 0) << fmt::format("{}", fmt::join(output, ""));
  orchestrator->terminate();

  auto report = testing_support::read_report(data_dir_ / "report.json");
  auto count = testing_support::read_platform(config(), since, report.value("job_prefix", std::string("?")));
  testing_support::check_platform(report, count, data_dir_, HORIZONS_CLI, jobs,
                                  testing_support::topic_counts::at_least);
  ASSERT_EQ(count.final_state.size(), static_cast<std::size_t>(jobs));
  for (const auto& [job_id, state] : count.final_state) {
    EXPECT_EQ(state, horizons::job_status::completed) << job_id;
    auto listed = horizons::orchestrator::run_command(
        {"squeue", "--noheader", "--states=all", "--name=" + job_id, "--format=%i"}, "", 60s);
    ASSERT_TRUE(listed && listed->exit_code == 0);
    EXPECT_EQ(std::count(listed->out.begin(), listed->out.end(), '\n'), 1) << job_id << ":\n" << listed->out;
  }
}

}  // namespace
