// The orchestrator's engine on a real single-node Slurm (tools/slurm, started
// by the `slurm_cluster` fixture): states, exit codes and reasons in the
// events equal what `scontrol show job` says; retries resubmit; refusals,
// TIMEOUT and cancellations (pending and running); an orchestrator SIGKILLed
// again and again submits each attempt once and ends each job once; a
// controller that is down keeps jobs QUEUED until it is back. (Every SIGKILL
// of the orchestrator here kills a forked child of the test running the
// engine on the shared SQLite state.)
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <horizons/event_builder.hpp>

#include "../services/common/scratch.hpp"
#include "services/orchestrator/command.hpp"
#include "services/orchestrator/engine.hpp"
#include "services/orchestrator/orchestrator.hpp"
#include "services/orchestrator/slurm.hpp"

namespace horizons::orchestrator {
namespace {

using namespace std::chrono_literals;
using namespace services::testing_common;
using services::state_store;
using enum job_status;

// tools/slurm/slurm.sh <command> on the tests' cluster; its exit status.
int slurm_tool(const std::string& command) {
  auto line = fmt::format(
      "HORIZONS_SLURM_DIR='{}' HORIZONS_SLURM_PORT=16837 HORIZONS_SLURM_MESSAGE_TIMEOUT=3 '{}' {} >/dev/null",
      HORIZONS_TEST_SLURM_DIR, HORIZONS_SLURM_TOOL, command);
  return std::system(line.c_str());
}

std::string slurm_output(const std::vector<std::string>& args) {
  auto done = run_command(args, "", 60s);
  EXPECT_TRUE(done && done->exit_code == 0) << args[0] << ": " << (done ? done->err : done.error().message);
  return done ? done->out : std::string();
}

// What `scontrol show job` says about a batch job (read here with regexes, not the client under test).
struct slurm_says {
  std::string state;
  int exit_code = -1;
  std::string reason;
};
slurm_says scontrol(const std::string& id) {
  auto line = slurm_output({"scontrol", "--oneliner", "show", "job", id});
  std::smatch m;
  slurm_says says;
  if (std::regex_search(line, m, std::regex(R"(JobState=(\S+))"))) says.state = m[1];
  if (std::regex_search(line, m, std::regex(R"(ExitCode=(\d+):)"))) says.exit_code = std::stoi(m[1]);
  if (std::regex_search(line, m, std::regex(R"( Reason=(\S+))"))) says.reason = m[1];
  return says;
}

// Every Slurm job submitted for a Horizons job: comment → Slurm job id.
std::map<std::string, std::string> slurm_jobs_of(const std::string& job_id) {
  std::map<std::string, std::string> jobs;
  auto out = slurm_output({"squeue", "--noheader", "--states=all", "--name=" + job_id, "--format=%i %k"});
  std::istringstream lines(out);
  std::string id, comment;
  while (lines >> id >> comment) {
    EXPECT_FALSE(jobs.contains(comment)) << job_id << ": two Slurm jobs for " << comment;
    jobs[comment] = id;
  }
  return jobs;
}

event<job_submitted> job(const std::string& job_id, pipeline p, const std::string& dataset, int cores = 1,
                         int memory_gb = 1, int minutes = 10) {
  return *make_event(job_submitted{.job_id = job_id,
                                   .job_name = job_id,
                                   .pipeline = p,
                                   .dataset_id = dataset,
                                   .tacc_system = tacc_system::frontera,
                                   .resources = {.nodes = 1,
                                                 .cores_per_node = cores,
                                                 .gpus = 0,
                                                 .memory_gb = memory_gb,
                                                 .wall_time_minutes = minutes},
                                   .estimated_cost_usd = 1,
                                   .priority = job_priority::normal})
              .user_id("alice")
              .build();
}

// One orchestrator's state and engine.
struct orchestrator_state {
  orchestrator_state(const simulation& sim, const std::filesystem::path& database, const batch_settings& batch) {
    auto opened = state_store::open(database);
    EXPECT_TRUE(opened) << opened.error();
    store.emplace(std::move(*opened));
    engine.emplace(sim, *store, horizons::now, batch);
    EXPECT_TRUE(engine->prepare());
  }
  void admit(const event<job_submitted>& e) { EXPECT_TRUE(engine->admit(e, e.payload)); }
  job_row row(const std::string& job_id) { return engine->jobs().load(job_id).value_or(job_row{}); }
  bool finished(const std::string& job_id) { return row(job_id).finished; }

  // The job's events from the outbox.
  std::vector<job_status> statuses(const std::string& job_id) {
    std::vector<job_status> seen;
    for (const auto& e : payloads_of<job_status_changed>(emitted(*store))) {
      if (e.payload.job_id == job_id) seen.push_back(e.payload.new_status);
    }
    return seen;
  }
  std::vector<std::string> reasons(const std::string& job_id) {
    std::vector<std::string> seen;
    for (const auto& e : payloads_of<job_status_changed>(emitted(*store))) {
      if (e.payload.job_id == job_id) seen.push_back(e.payload.reason);
    }
    return seen;
  }
  template <class P>
  std::vector<P> events(const std::string& job_id) {
    std::vector<P> found;
    for (const auto& e : payloads_of<P>(emitted(*store))) {
      if (e.payload.job_id == job_id) found.push_back(e.payload);
    }
    return found;
  }

  std::optional<state_store> store;
  std::optional<orchestrator::engine> engine;
};

// Slurm, in an orchestrator that SIGKILLs itself right after every second successful sbatch, before
// the step's transaction commits the id: the window in which a careless orchestrator submits twice.
class dies_after_submitting final : public batch_system {
 public:
  dies_after_submitting(batch_system& slurm, std::filesystem::path log) : slurm_(slurm), log_(std::move(log)) {}
  std::string name() override { return slurm_.name(); }
  std::expected<std::string, batch_error> submit(const batch_request& request) override {
    auto id = slurm_.submit(request);
    if (id && ++submitted_ % 2 == 0) {
      std::ofstream(log_, std::ios::app) << request.name << "\n";
      ::raise(SIGKILL);
    }
    return id;
  }
  std::expected<std::optional<std::string>, batch_error> find(std::string_view name,
                                                              std::string_view comment) override {
    return slurm_.find(name, comment);
  }
  std::expected<std::vector<batch_status>, batch_error> status(std::span<const std::string> ids) override {
    return slurm_.status(ids);
  }
  std::expected<void, batch_error> cancel(std::string_view id) override { return slurm_.cancel(id); }

 private:
  batch_system& slurm_;
  std::filesystem::path log_;
  int submitted_ = 0;
};

class slurm_jobs : public testing::Test {
 protected:
  static void SetUpTestSuite() { ::setenv("SLURM_CONF", HORIZONS_TEST_SLURM_DIR "/slurm.conf", 1); }

  void SetUp() override {
    // The shipped pipelines, and the tests' "other" pipeline that does what its dataset id says.
    std::filesystem::create_directories(pipelines_);
    for (const auto& file : std::filesystem::directory_iterator(default_pipelines_dir())) {
      std::filesystem::copy_file(file.path(), pipelines_ / file.path().filename());
    }
    std::filesystem::copy_file(HORIZONS_TEST_PIPELINES "/other.sh", pipelines_ / "other.sh",
                               std::filesystem::copy_options::overwrite_existing);
  }

  batch_settings settings() {
    return {.system = &slurm_,
            .pipelines_dir = pipelines_,
            .jobs_dir = dir_ / "jobs",
            .partitions = {},
            .poll_interval = 300ms,
            .unavailable_retry = 1s,
            .sample_interval = 1s};
  }
  std::string id(const std::string& name) const { return fmt::format("job-{}-{}", tag_, name); }

  scratch_dir dir_;
  std::filesystem::path pipelines_ = dir_ / "pipelines";
  slurm_cli slurm_{{}};
  std::string tag_ = uuid::random().to_string().substr(0, 8);
};

TEST_F(slurm_jobs, jobs_end_as_slurm_says_with_exit_codes_reasons_retries_refusals_and_cancellations) {
  simulation retrying;
  retrying.max_retries = 1;
  simulation once;
  once.max_retries = 0;
  orchestrator_state with_retries(retrying, dir_ / "retries.db", settings());
  orchestrator_state no_retries(once, dir_ / "once.db", settings());
  // Two jobs of this size do not fit the node together: the second pends (Reason=Resources).
  auto node_mb = std::stoi(slurm_output({"sinfo", "--noheader", "--format=%m"}));
  int big_gb = node_mb * 6 / 10 / 1024;
  ASSERT_GE(big_gb, 1) << "the node has " << node_mb << " MB";

  with_retries.admit(job(id("cal"), pipeline::alpha_cal, "vla-1"));
  with_retries.admit(job(id("image"), pipeline::image_reconstruction, "vla-2"));
  with_retries.admit(job(id("anomaly"), pipeline::anomaly_detection, "vla-3"));
  with_retries.admit(job(id("exit3"), pipeline::other, "exit:3"));
  with_retries.admit(job(id("flaky"), pipeline::other, "fail-first-attempt"));
  no_retries.admit(job(id("timeout"), pipeline::other, "sleep:300", 1, 1, 1));
  no_retries.admit(job(id("cores"), pipeline::other, "sleep:1", 64));
  no_retries.admit(job(id("memory"), pipeline::other, "sleep:1", 1, 100'000));
  no_retries.admit(job(id("running"), pipeline::other, "sleep:120"));
  no_retries.admit(job(id("hog"), pipeline::other, "sleep:120", 1, big_gb));
  const std::vector<std::string> all{"cal",   "image",  "anomaly", "exit3", "flaky",  "timeout",
                                     "cores", "memory", "running", "hog",   "blocked"};

  bool blocked_admitted = false, blocked_cancelled = false, hog_cancelled = false, running_cancelled = false;
  auto deadline = std::chrono::steady_clock::now() + 240s;
  auto finished = [&] {
    for (const auto& name : all) {
      auto& o = name == "cal" || name == "image" || name == "anomaly" || name == "exit3" || name == "flaky"
                    ? with_retries
                    : no_retries;
      if ((name != "blocked" || blocked_admitted) && !o.finished(id(name))) return false;
    }
    return blocked_admitted;
  };
  while (!finished() && std::chrono::steady_clock::now() < deadline) {
    with_retries.engine->advance_due();
    no_retries.engine->advance_due();
    auto hog = no_retries.row(id("hog"));
    if (!blocked_admitted && hog.status == running) {
      no_retries.admit(job(id("blocked"), pipeline::other, "sleep:1", 1, big_gb));
      blocked_admitted = true;
    }
    auto blocked = no_retries.row(id("blocked"));
    if (blocked_admitted && !blocked_cancelled && blocked.batch_id && blocked.status == queued &&
        scontrol(*blocked.batch_id).state == "PENDING") {
      EXPECT_EQ(no_retries.engine->jobs().request_cancel(id("blocked"), "alice", horizons::now()),
                cancel_request::recorded);
      blocked_cancelled = true;
    }
    if (blocked.finished && !hog_cancelled) {
      EXPECT_EQ(no_retries.engine->jobs().request_cancel(id("hog"), "alice", horizons::now()),
                cancel_request::recorded);
      hog_cancelled = true;
    }
    if (!running_cancelled && no_retries.row(id("running")).status == running) {
      EXPECT_EQ(no_retries.engine->jobs().request_cancel(id("running"), "alice", horizons::now()),
                cancel_request::recorded);
      running_cancelled = true;
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(finished()) << "not every job ended within 240 s";

  // Completed, with samples measured from the jobs' own processes.
  int measured = 0;
  for (const auto* name : {"cal", "image", "anomaly"}) {
    EXPECT_EQ(with_retries.statuses(id(name)), (std::vector{queued, running, completed})) << name;
    EXPECT_EQ(with_retries.events<job_completed>(id(name)).size(), 1u) << name;
    for (const auto& sample : with_retries.events<job_metrics_recorded>(id(name))) {
      EXPECT_GE(sample.cpu_pct, 0);
      EXPECT_GT(sample.memory_gb, 0) << "a running job's processes hold memory";
      measured += sample.cpu_pct > 0 ? 1 : 0;
    }
    auto slurm = slurm_jobs_of(id(name));
    ASSERT_EQ(slurm.size(), 1u) << name;
    EXPECT_EQ(scontrol(slurm.begin()->second).state, "COMPLETED");
  }
  EXPECT_GT(measured, 0) << "no sample measured any CPU";

  // exit 3, twice: each attempt FAILED with Slurm's state and exit code, the second a resubmission.
  auto exit3 = slurm_jobs_of(id("exit3"));
  ASSERT_EQ(exit3.size(), 2u);
  EXPECT_EQ(with_retries.statuses(id("exit3")), (std::vector{queued, running, failed, queued, running, failed}));
  auto exit3_failures = with_retries.events<job_failed>(id("exit3"));
  ASSERT_EQ(exit3_failures.size(), 2u);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto& failure = exit3_failures[static_cast<std::size_t>(attempt)];
    auto slurm_id = exit3.at(batch_comment(id("exit3"), attempt));
    auto says = scontrol(slurm_id);
    EXPECT_EQ(failure.error_code, says.state);
    EXPECT_EQ(failure.error_code, "FAILED");
    EXPECT_EQ(failure.exit_code, says.exit_code);
    EXPECT_EQ(failure.exit_code, 3);
    EXPECT_NE(failure.error_message.find("job " + slurm_id), std::string::npos) << failure.error_message;
    EXPECT_NE(failure.error_message.find(says.reason), std::string::npos) << failure.error_message;
    EXPECT_EQ(failure.next_retry_at.has_value(), attempt == 0);
  }

  // Fails once, then the retry (a second Slurm job, named in the events) completes.
  auto flaky = slurm_jobs_of(id("flaky"));
  ASSERT_EQ(flaky.size(), 2u);
  EXPECT_EQ(with_retries.statuses(id("flaky")), (std::vector{queued, running, failed, queued, running, completed}));
  auto second = flaky.at(batch_comment(id("flaky"), 1));
  auto flaky_reasons = with_retries.reasons(id("flaky"));
  EXPECT_NE(flaky_reasons[4].find("job " + second), std::string::npos) << flaky_reasons[4];
  EXPECT_EQ(scontrol(second).state, "COMPLETED");

  // Over its --time: FAILED with Slurm's TIMEOUT.
  EXPECT_EQ(no_retries.statuses(id("timeout")), (std::vector{queued, running, failed}));
  auto timeout = no_retries.events<job_failed>(id("timeout"));
  ASSERT_EQ(timeout.size(), 1u);
  auto timeout_says = scontrol(slurm_jobs_of(id("timeout")).at(batch_comment(id("timeout"), 0)));
  EXPECT_EQ(timeout[0].error_code, "TIMEOUT");
  EXPECT_EQ(timeout[0].error_code, timeout_says.state);
  EXPECT_EQ(timeout[0].exit_code, timeout_says.exit_code);
  EXPECT_NE(timeout[0].error_message.find(timeout_says.reason), std::string::npos) << timeout[0].error_message;

  // More than the partition has: refused with sbatch's own reason, never left pending.
  for (auto [name, words] : {std::pair{"cores", "More processors requested than permitted"},
                             std::pair{"memory", "Requested node configuration is not available"}}) {
    EXPECT_EQ(no_retries.statuses(id(name)), (std::vector{queued, failed})) << name;
    auto refused = no_retries.events<job_failed>(id(name));
    ASSERT_EQ(refused.size(), 1u) << name;
    EXPECT_EQ(refused[0].error_code, "REFUSED");
    EXPECT_NE(refused[0].error_message.find(words), std::string::npos) << refused[0].error_message;
    EXPECT_NE(refused[0].error_message.find("Slurm 22."), std::string::npos) << "names the version";
  }

  // Cancelled by its submitter while pending, and while running: CANCELLED in Slurm and in the events.
  EXPECT_EQ(no_retries.statuses(id("blocked")), (std::vector{queued, cancelled}));
  EXPECT_EQ(no_retries.statuses(id("running")), (std::vector{queued, running, cancelled}));
  EXPECT_EQ(no_retries.statuses(id("hog")), (std::vector{queued, running, cancelled}));
  for (const auto* name : {"blocked", "running", "hog"}) {
    auto cancellation = no_retries.events<job_cancelled>(id(name));
    ASSERT_EQ(cancellation.size(), 1u) << name;
    EXPECT_EQ(cancellation[0].cancelled_by, "alice");
    auto slurm = slurm_jobs_of(id(name));
    ASSERT_EQ(slurm.size(), 1u) << name;
    EXPECT_EQ(scontrol(slurm.begin()->second).state, "CANCELLED") << name;
  }
}

TEST_F(slurm_jobs, an_orchestrator_killed_again_and_again_submits_each_attempt_once_and_ends_each_job_once) {
  simulation sim;
  sim.max_retries = 0;
  auto database = dir_ / "killed.db";
  auto died_after_sbatch = dir_ / "died-after-sbatch.txt";
  constexpr int jobs = 20;
  {
    orchestrator_state setup(sim, database, settings());
    for (int i = 0; i < jobs; ++i) {
      setup.admit(job(id(std::to_string(i)), pipeline::other, fmt::format("sleep:{}", 2 + i % 5)));
    }
  }
  auto unfinished = [&] {
    orchestrator_state look(sim, database, settings());
    int n = 0;
    for (int i = 0; i < jobs; ++i) n += look.finished(id(std::to_string(i))) ? 0 : 1;
    return n;
  };
  std::mt19937 rng(7);
  int kills = 0;
  auto deadline = std::chrono::steady_clock::now() + 240s;
  while (unfinished() > 0 && std::chrono::steady_clock::now() < deadline) {
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {  // an orchestrator, until killed (by the test, or by itself after an sbatch)
      dies_after_submitting dying(slurm_, died_after_sbatch);
      auto batch = settings();
      batch.system = &dying;
      orchestrator_state mine(sim, database, batch);
      for (;;) {
        mine.engine->advance_due();
        std::this_thread::sleep_for(20ms);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 1'300));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ++kills;
  }
  ASSERT_EQ(unfinished(), 0) << "after " << kills << " kills";
  EXPECT_GE(kills, 5);
  std::ifstream log(died_after_sbatch);
  std::vector<std::string> died_between_sbatch_and_commit;
  for (std::string job_id; std::getline(log, job_id);) died_between_sbatch_and_commit.push_back(job_id);
  EXPECT_GE(died_between_sbatch_and_commit.size(), 5u) << "every second sbatch ends its orchestrator";

  orchestrator_state after(sim, database, settings());
  for (int i = 0; i < jobs; ++i) {
    auto job_id = id(std::to_string(i));
    auto slurm = slurm_jobs_of(job_id);
    EXPECT_EQ(slurm.size(), 1u) << job_id << ": one Slurm job for its one attempt";
    EXPECT_EQ(after.statuses(job_id), (std::vector{queued, running, completed})) << job_id;
    EXPECT_EQ(after.events<job_completed>(job_id).size(), 1u) << job_id;
    EXPECT_EQ(after.row(job_id).batch_id, slurm.begin()->second) << job_id;
  }
}

TEST_F(slurm_jobs, a_controller_that_is_down_keeps_the_job_queued_until_it_is_back) {
  simulation sim;
  orchestrator_state o(sim, dir_ / "down.db", settings());
  ASSERT_EQ(slurm_tool("stop-controller"), 0);
  o.admit(job(id("patient"), pipeline::other, "sleep:1"));
  auto until = std::chrono::steady_clock::now() + 8s;
  while (std::chrono::steady_clock::now() < until) {
    o.engine->advance_due();
    std::this_thread::sleep_for(100ms);
  }
  auto waiting = o.row(id("patient"));
  EXPECT_EQ(waiting.status, queued);
  EXPECT_FALSE(waiting.batch_id);
  ASSERT_EQ(slurm_tool("up"), 0);
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (!o.finished(id("patient")) && std::chrono::steady_clock::now() < deadline) {
    o.engine->advance_due();
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(o.statuses(id("patient")), (std::vector{queued, running, completed}));
  EXPECT_EQ(slurm_jobs_of(id("patient")).size(), 1u);
}

}  // namespace
}  // namespace horizons::orchestrator
