// `horizons run` on an embedded cluster the test owns, so that after the run
// the test reads every topic itself and holds the report against that count.
#include <gtest/gtest.h>

#include <filesystem>

#include <httplib.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <horizons/testkit/cluster_fixture.hpp>

#include "child_process.hpp"
#include "platform_check.hpp"
#include "postgres_database.hpp"
#include "services/common/sql/sql.hpp"

namespace {

using namespace std::chrono_literals;
using testing_support::child_process;

class platform_test : public horizons::testkit::cluster_fixture {
 protected:
  void SetUp() override {
    cluster_fixture::SetUp();
    data_dir_ = std::filesystem::temp_directory_path() /
                fmt::format("horizons-platform-{}-{}", ::getpid(),
                            testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(data_dir_);
    // The `postgres.` runs (tests/embedded/CMakeLists.txt): the services' state in a database of its own.
    state_url_ = testing_support::postgres_database(testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    std::filesystem::remove_all(data_dir_);
    cluster_fixture::TearDown();
  }

  std::vector<std::string> run_args(int jobs, const std::string& services) {
    return {HORIZONS_CLI,
            "run",
            "--brokers",
            config().brokers,
            "--jobs",
            std::to_string(jobs),
            "--rate",
            "400",
            "--data-dir",
            data_dir_.string(),
            "--report-json",
            (data_dir_ / "report.json").string(),
            "--services",
            services,
            "--session-timeout-ms",
            "6000",
            "--timeout",
            "400",
            "--state",
            state_url_.value_or("sqlite://" + data_dir_.string())};
  }
  std::vector<std::string> serve_args(const std::string& service) {
    return {HORIZONS_CLI,
            "serve",
            service,
            "--brokers",
            config().brokers,
            "--data-dir",
            data_dir_.string(),
            "--session-timeout-ms",
            "6000",
            "--state",
            state_url_.value_or("sqlite://" + data_dir_.string())};
  }
  // SIGKILLs services[i] and starts names[i] again, one after another, each time `every` more
  // notifications were published: every service dies once mid-run.
  void kill_in_turn(const std::vector<std::string>& names, std::vector<std::unique_ptr<child_process>>& services,
                    std::size_t every) {
    auto notifications = horizons::topic_reader::open(config(), "notifications", horizons::read_from::beginning);
    ASSERT_TRUE(notifications);
    std::size_t seen = 0, killed = 0;
    auto deadline = std::chrono::steady_clock::now() + 300s;
    while (killed < names.size() && std::chrono::steady_clock::now() < deadline) {
      auto next = (*notifications)->next(100ms);
      ASSERT_TRUE(next);
      if (*next) ++seen;
      if (seen >= every * (killed + 1)) {
        services[killed]->kill_now();
        services[killed] = std::make_unique<child_process>(serve_args(names[killed]));
        ++killed;
      }
    }
    ASSERT_EQ(killed, names.size()) << "the run did not get far enough to kill every service";
  }

  // Waits for the run (exit 0), stops the services, then holds the run's report and the services'
  // state against the topics.
  void finish_and_check(child_process& run, std::vector<std::unique_ptr<child_process>>& services,
                        horizons::timestamp since, int jobs) {
    std::vector<std::string> output;
    ASSERT_EQ(run.finish(output), 0) << fmt::format("{}", fmt::join(output, ""));
    services.clear();
    auto report = testing_support::read_report(data_dir_ / "report.json");
    auto count = testing_support::read_platform(config(), since, report.value("job_prefix", std::string("?")));
    testing_support::check_platform(report, count, state(), HORIZONS_CLI, jobs,
                                    testing_support::topic_counts::at_least);
  }

  // Where the services kept their state, for check_platform.
  [[nodiscard]] testing_support::platform_state state() const {
    return {.root = state_url_ ? *horizons::sql::location::parse(*state_url_) : horizons::sql::location(data_dir_),
            .data_dirs = {data_dir_}};
  }

  std::filesystem::path data_dir_;
  std::optional<std::string> state_url_;
};

TEST_F(platform_test, a_thousand_jobs_match_an_independent_count_and_the_ledger_detects_tampering) {
  auto since = horizons::now();
  std::vector<std::string> output;
  child_process run(
      run_args(1000, "orchestrator,metrics-aggregator,notification-dispatcher,compliance-auditor,health-monitor"));
  ASSERT_EQ(run.finish(output), 0) << fmt::format("{}", fmt::join(output, ""));
  auto report = testing_support::read_report(data_dir_ / "report.json");
  auto count = testing_support::read_platform(config(), since, report.value("job_prefix", std::string("?")));
  testing_support::check_platform(report, count, data_dir_, HORIZONS_CLI, 1000);
  EXPECT_GT(count.ran.size(), 900u);
  EXPECT_EQ(report["lag"].value("job-processor", -1), 0);
  EXPECT_EQ(report["lag"].value("compliance-auditor", -1), 0);

  // Each kind of tampering with the run's ledger is caught and names the entry.
  auto ledger = data_dir_ / "compliance-auditor" / "ledger.db";
  struct tampering {
    std::string kind, sql;
  };
  std::vector<tampering> kinds{
      {"edited", "UPDATE ledger_entries SET user_id = 'mallory' WHERE seq = 100"},
      {"deleted", "DELETE FROM ledger_entries WHERE seq = 100"},
      // A forged entry slipped in at 100, the rest renumbered behind it.
      {"inserted",
       "UPDATE ledger_entries SET seq = -seq WHERE seq >= 100; UPDATE ledger_entries SET seq = 1 - seq WHERE seq < 0; "
       "INSERT INTO ledger_entries SELECT 100, 'forged-entry', event_type, occurred_at, job_id, user_id, appended_at, "
       "body, "
       "prev_hash, hash FROM ledger_entries WHERE seq = 99"},
      {"reordered",
       "UPDATE ledger_entries SET seq = -1 WHERE seq = 100; UPDATE ledger_entries SET seq = 100 WHERE seq = 101; "
       "UPDATE ledger_entries SET seq = 101 WHERE seq = -1"},
  };
  for (const auto& t : kinds) {
    auto copy = data_dir_ / ("tampered-" + t.kind + ".db");
    std::filesystem::copy_file(ledger, copy, std::filesystem::copy_options::overwrite_existing);
    {
      auto db = horizons::sql::database::open(copy);
      ASSERT_TRUE(db);
      auto done = db->exec(t.sql);
      ASSERT_TRUE(done) << t.kind << ": " << done.error().message;
    }
    std::vector<std::string> lines;
    child_process verify(
        {"/bin/sh", "-c", fmt::format("'{}' audit verify --ledger '{}' 2>&1", HORIZONS_CLI, copy.string())});
    EXPECT_EQ(verify.finish(lines), 1) << t.kind;
    auto said = fmt::format("{}", fmt::join(lines, ""));
    EXPECT_NE(said.find("100"), std::string::npos) << t.kind << " should name entry 100: " << said;
    EXPECT_NE(said.find(t.kind), std::string::npos) << "should say " << t.kind << ": " << said;
  }
}

TEST_F(platform_test, services_killed_and_restarted_mid_run_change_nothing) {
  auto since = horizons::now();
  constexpr int jobs = 600;
  // The run hosts two services; three run as processes of their own, each SIGKILLed once mid-run.
  child_process run(run_args(jobs, "orchestrator,health-monitor"));
  std::vector<std::string> external{"notification-dispatcher", "metrics-aggregator", "compliance-auditor"};
  std::vector<std::unique_ptr<child_process>> services;
  for (const auto& name : external) services.push_back(std::make_unique<child_process>(serve_args(name)));

  ASSERT_NO_FATAL_FAILURE(kill_in_turn(external, services, 100));
  finish_and_check(run, services, since, jobs);
}

TEST_F(platform_test, two_processes_of_each_service_on_one_data_dir_each_killed_once_change_nothing) {
  auto since = horizons::now();
  constexpr int jobs = 400;
  // Two processes of each of three services share the run's data dir (SQLite); each is SIGKILLed once.
  child_process run(run_args(jobs, "orchestrator,health-monitor"));
  std::vector<std::string> external;
  for (const auto* name : {"notification-dispatcher", "metrics-aggregator", "compliance-auditor"}) {
    external.insert(external.end(), 2, name);
  }
  std::vector<std::unique_ptr<child_process>> services;
  for (const auto& name : external) services.push_back(std::make_unique<child_process>(serve_args(name)));
  ASSERT_NO_FATAL_FAILURE(kill_in_turn(external, services, 50));

  finish_and_check(run, services, since, jobs);
}

TEST_F(platform_test, every_ended_job_reaches_the_webhook_once_despite_failing_requests) {
  // A receiver that answers 503 to the first request of every third notification.
  httplib::Server receiver;
  std::mutex mutex;
  std::map<std::string, int> requests;  // Idempotency-Key -> requests seen
  receiver.Post("/hook", [&](const httplib::Request& request, httplib::Response& response) {
    std::lock_guard lock(mutex);
    auto key = request.get_header_value("Idempotency-Key");
    int seen = ++requests[key];
    response.status = (std::hash<std::string>{}(key) % 3 == 0 && seen == 1) ? 503 : 200;
  });
  int port = receiver.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread serving([&] { receiver.listen_after_bind(); });

  auto since = horizons::now();
  auto args =
      run_args(150, "orchestrator,metrics-aggregator,notification-dispatcher,compliance-auditor,health-monitor");
  args.insert(args.end(), {"--webhook", fmt::format("http://127.0.0.1:{}/hook", port)});
  std::vector<std::string> output;
  child_process run(args);
  EXPECT_EQ(run.finish(output), 0) << fmt::format("{}", fmt::join(output, ""));
  receiver.stop();
  serving.join();

  auto report = testing_support::read_report(data_dir_ / "report.json");
  auto count = testing_support::read_platform(config(), since, report.value("job_prefix", std::string("?")));
  std::size_t retried = 0;
  for (const auto& [job, source] : count.ending_event) {
    auto key = "ntf-" + source.to_string();
    ASSERT_TRUE(requests.contains(key)) << "job " << job << " never reached the webhook";
    if (requests[key] > 1) ++retried;
  }
  EXPECT_EQ(count.ending_event.size(), 150u);
  EXPECT_GT(retried, 0u) << "the receiver's 503s were never retried";
}

}  // namespace

namespace {

// `horizons run` with no brokers starts the embedded cluster and, beside it, Horizons' schema
// registry: every record carries the registry's ids, and the report names the subjects.
TEST(platform_with_its_own_cluster, runs_with_the_embedded_schema_registry_and_reports_its_subjects) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("horizons-run-registry-{}", ::getpid());
  std::filesystem::remove_all(dir);
  std::vector<std::string> output;
  child_process run({HORIZONS_CLI, "run", "--jobs", "20", "--data-dir", dir.string(), "--report-json",
                     (dir / "report.json").string(), "--timeout", "300"});
  ASSERT_EQ(run.finish(output), 0) << fmt::format("{}", fmt::join(output, ""));
  auto report = testing_support::read_report(dir / "report.json");
  EXPECT_TRUE(report.value("ok", false));
  EXPECT_TRUE(report.value("registry", std::string()).starts_with("http://127.0.0.1:"));
  ASSERT_TRUE(report.contains("subjects"));
  for (const auto& t : horizons::catalogue) {
    const auto subject = std::string(t.name()) + "-value";
    ASSERT_TRUE(report["subjects"].contains(subject)) << subject;
    EXPECT_GT(report["subjects"][subject].value("id", 0), 0);
    EXPECT_GE(report["subjects"][subject].value("version", 0), 1);
  }
  const auto text = fmt::format("{}", fmt::join(output, ""));
  EXPECT_NE(text.find("Schema registry: http://127.0.0.1:"), std::string::npos) << text;
  EXPECT_NE(text.find("job-lifecycle-value id "), std::string::npos) << text;
  std::filesystem::remove_all(dir);
}

}  // namespace
