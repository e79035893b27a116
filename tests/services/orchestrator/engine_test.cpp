// The orchestrator's engine on a temporary state store and a clock the test
// moves: every transition of the status machine, retries, cancellation in
// both places, idempotent admission, and an engine restarted mid-job that
// ends the job exactly as an engine that never stopped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <horizons/event_builder.hpp>

#include "../common/scratch.hpp"
#include "services/orchestrator/batch_system.hpp"
#include "services/orchestrator/engine.hpp"
#include "services/orchestrator/orchestrator.hpp"

namespace horizons::orchestrator {
namespace {

using services::state_store;
using namespace services::testing_common;

// A scheduler with no surprises unless a test asks for them.
simulation quiet() {
  simulation sim;
  sim.cancel_rate = 0;
  for (auto& p : sim.systems) p.failure_rate = 0;
  return sim;
}

event<job_submitted> submission(const std::string& job_id) {
  return *make_event(job_submitted{
                         .job_id = job_id,
                         .job_name = "m87-cal",
                         .pipeline = pipeline::alpha_cal,
                         .dataset_id = "vla-0001",
                         .tacc_system = tacc_system::frontera,
                         .resources =
                             {.nodes = 4, .cores_per_node = 56, .gpus = 0, .memory_gb = 192, .wall_time_minutes = 120},
                         .estimated_cost_usd = 12.5,
                         .priority = job_priority::normal})
              .user_id("alice")
              .build();
}

// The first job id (job-<prefix>-N) whose plan `wanted` accepts.
std::string job_where(const simulation& sim, std::string_view prefix,
                      const std::function<bool(const job_plan&)>& wanted) {
  for (int i = 0; i < 10'000; ++i) {
    auto id = fmt::format("job-{}-{}", prefix, i);
    auto e = submission(id);
    if (wanted(plan_job(sim, e.payload))) return id;
  }
  ADD_FAILURE() << "no job id with the wanted plan";
  return "none";
}

class engine_test : public testing::Test {
 protected:
  void SetUp() override { open(); }

  void open() {
    auto opened = state_store::open(database_);
    ASSERT_TRUE(opened) << opened.error();
    store_.emplace(std::move(*opened));
    engine_.emplace(
        sim_, *store_, [this] { return now_; }, batch_);
    ASSERT_TRUE(engine_->prepare());
  }
  // An engine that stops (its process dies) and a new one on the same database.
  void restart() {
    engine_.reset();
    store_.reset();
    open();
  }

  void admit(const event<job_submitted>& e) { ASSERT_TRUE(engine_->admit(e, e.payload)); }

  job_row row(const std::string& job_id) {
    auto loaded = engine_->jobs().load(job_id);
    EXPECT_TRUE(loaded) << loaded.error();
    return loaded ? *loaded : job_row{};
  }

  // Moves the clock to the job's next step and takes it; false once the job has finished.
  bool step(const std::string& job_id) {
    auto r = row(job_id);
    if (r.finished) return false;
    now_ = std::max(now_, r.next_at);
    EXPECT_EQ(engine_->advance_due(), 1u);
    return true;
  }
  void run_to_end(const std::string& job_id) {
    for (int i = 0; i < 1'000 && step(job_id); ++i) {
    }
    ASSERT_TRUE(row(job_id).finished);
  }

  std::vector<job_status> statuses() {
    std::vector<job_status> seen;
    for (const auto& e : payloads_of<job_status_changed>(emitted(*store_))) seen.push_back(e.payload.new_status);
    return seen;
  }
  std::vector<std::string> event_types() {
    std::vector<std::string> types;
    for (const auto& e : emitted(*store_)) types.emplace_back(event_type_of_any(e));
    return types;
  }

  simulation sim_ = quiet();
  timestamp now_ = timestamp(std::chrono::seconds(1'800'000'000));
  scratch_dir dir_, other_dir_;
  std::filesystem::path database_ = dir_ / "orchestrator.db";
  std::optional<state_store> store_;
  batch_settings batch_{};  // the simulation unless a test gives a batch system
  std::optional<engine> engine_;
};

using enum job_status;

TEST_F(engine_test, a_job_is_queued_runs_and_completes_with_samples_allocation_and_audit) {
  auto job = submission("job-ok");
  admit(job);
  EXPECT_EQ(row("job-ok").status, submitted);
  EXPECT_EQ(engine_->advance_due(), 0u) << "nothing is due before the admission delay";
  run_to_end("job-ok");

  EXPECT_EQ(statuses(), (std::vector{queued, running, completed}));
  auto events = emitted(*store_);
  auto samples = payloads_of<job_metrics_recorded>(events);
  auto plan = plan_job(sim_, job.payload);
  auto expected_samples = static_cast<std::size_t>(std::ceil(plan.attempts[0].run_time / sim_.sample_interval - 1e-9));
  EXPECT_EQ(samples.size(), expected_samples);
  std::int64_t sampled_ms = 0;
  for (const auto& s : samples) sampled_ms += s.payload.interval_ms;
  auto completed_events = payloads_of<job_completed>(events);
  ASSERT_EQ(completed_events.size(), 1u);
  // Each sample's interval is whole milliseconds.
  EXPECT_NEAR(static_cast<double>(completed_events[0].payload.execution_time_ms), static_cast<double>(sampled_ms),
              static_cast<double>(samples.size()));

  auto allocations = payloads_of<resource_allocation_changed>(events);
  ASSERT_EQ(allocations.size(), 2u);
  EXPECT_EQ(allocations[0].payload.change, allocation_change::allocated);
  EXPECT_EQ(allocations[1].payload.change, allocation_change::deallocated);

  // One audit record per status the job took, the first one the submission itself.
  auto audits = payloads_of<audit_job_lifecycle>(events);
  ASSERT_EQ(audits.size(), 4u);
  EXPECT_EQ(audits[0].payload.new_state, submitted);
  EXPECT_EQ(audits[0].payload.initiated_by, "alice");
  EXPECT_EQ(audits[3].payload.new_state, completed);
  EXPECT_EQ(audits[3].payload.initiated_by, descriptor.name);

  // Every event is of the job's flow, by its submitter; the job's own events chain one to the next.
  std::optional<uuid> previous = job.event_id;
  for (const auto& e : events) {
    std::visit(
        [&](const auto& topic_event) {
          EXPECT_EQ(topic_event.correlation_id, job.correlation_id);
          EXPECT_EQ(topic_event.user_id, std::optional<std::string>("alice"));
          if (topic_of(e) != topic_id::job_lifecycle) return;
          EXPECT_EQ(topic_event.causation_id, previous) << topic_event.event_type;
          previous = topic_event.event_id;
        },
        e);
  }
}

TEST_F(engine_test, a_failed_attempt_is_retried_after_the_retry_delay_and_the_last_failure_is_final) {
  for (auto& p : sim_.systems) p.failure_rate = 1;
  sim_.max_retries = 1;
  admit(submission("job-fails"));
  run_to_end("job-fails");

  EXPECT_EQ(statuses(), (std::vector{queued, running, failed, queued, running, failed}));
  auto events = emitted(*store_);
  auto failures = payloads_of<job_failed>(events);
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0].payload.retry_count, 0);
  ASSERT_TRUE(failures[0].payload.next_retry_at);
  EXPECT_EQ(failures[0].payload.max_retries, 1);
  EXPECT_EQ(failures[1].payload.retry_count, 1);
  EXPECT_FALSE(failures[1].payload.next_retry_at) << "no retry left";
  // One allocation for the job's whole life, released at its end.
  auto allocations = payloads_of<resource_allocation_changed>(events);
  ASSERT_EQ(allocations.size(), 2u);
  EXPECT_EQ(allocations[1].payload.change, allocation_change::deallocated);
}

TEST_F(engine_test, the_retry_waits_for_its_time_and_a_retry_that_succeeds_completes_the_job) {
  for (auto& p : sim_.systems) p.failure_rate = 0.5;
  auto id = job_where(sim_, "retry", [](const job_plan& p) {
    return p.cancel == cancel_point::never && p.attempts.size() == 2 && p.attempts[0].fails && !p.attempts[1].fails;
  });
  admit(submission(id));
  while (row(id).status != failed) ASSERT_TRUE(step(id));
  auto failures = payloads_of<job_failed>(emitted(*store_));
  ASSERT_EQ(failures.size(), 1u);
  ASSERT_TRUE(failures[0].payload.next_retry_at);
  EXPECT_EQ(row(id).next_at, *failures[0].payload.next_retry_at);
  EXPECT_EQ(*failures[0].payload.next_retry_at, now_ + sim_.real(sim_.retry_delay));
  now_ = *failures[0].payload.next_retry_at - std::chrono::microseconds(1);
  EXPECT_EQ(engine_->advance_due(), 0u) << "the retry is not due yet";
  EXPECT_EQ(row(id).attempt, 1);
  run_to_end(id);
  EXPECT_EQ(statuses(), (std::vector{queued, running, failed, queued, running, completed}));
}

TEST_F(engine_test, a_job_cancelled_before_it_is_queued_never_runs_nor_allocates) {
  sim_.cancel_rate = 1;
  auto id = job_where(sim_, "early", [](const job_plan& p) { return p.cancel == cancel_point::while_submitted; });
  admit(submission(id));
  run_to_end(id);
  EXPECT_EQ(statuses(), (std::vector{cancelled}));
  auto events = emitted(*store_);
  auto cancellations = payloads_of<job_cancelled>(events);
  ASSERT_EQ(cancellations.size(), 1u);
  EXPECT_EQ(cancellations[0].payload.cancelled_by, "alice");
  EXPECT_DOUBLE_EQ(cancellations[0].payload.refund_usd, 12.5);
  EXPECT_TRUE(payloads_of<resource_allocation_changed>(events).empty());
  EXPECT_TRUE(payloads_of<job_metrics_recorded>(events).empty());
  EXPECT_EQ(payloads_of<audit_job_lifecycle>(events).back().payload.initiated_by, "alice");
}

TEST_F(engine_test, a_job_cancelled_while_queued_never_runs) {
  sim_.cancel_rate = 1;
  auto id = job_where(sim_, "queued", [](const job_plan& p) { return p.cancel == cancel_point::while_queued; });
  admit(submission(id));
  run_to_end(id);
  EXPECT_EQ(statuses(), (std::vector{queued, cancelled}));
  EXPECT_EQ(payloads_of<job_cancelled>(emitted(*store_)).size(), 1u);
  EXPECT_TRUE(payloads_of<resource_allocation_changed>(emitted(*store_)).empty());
}

TEST_F(engine_test, a_redelivered_submission_and_a_second_submission_of_a_job_change_nothing) {
  auto job = submission("job-once");
  admit(job);
  admit(job);                     // the same record again
  admit(submission("job-once"));  // another event for a job id already known
  EXPECT_EQ(payloads_of<audit_job_lifecycle>(emitted(*store_)).size(), 1u);
  run_to_end("job-once");
  EXPECT_EQ(statuses(), (std::vector{queued, running, completed}));
}

TEST_F(engine_test, a_step_is_taken_once_however_often_the_engine_is_asked) {
  admit(submission("job-step"));
  now_ = row("job-step").next_at;
  EXPECT_EQ(engine_->advance_due(), 1u);
  EXPECT_EQ(engine_->advance_due(), 0u) << "the next step is not due at the same instant";
  EXPECT_EQ(statuses(), (std::vector{queued}));
}

TEST_F(engine_test, an_engine_restarted_mid_job_ends_it_exactly_as_one_that_never_stopped) {
  sim_.max_retries = 1;
  for (auto& p : sim_.systems) p.failure_rate = 0.5;
  auto id = job_where(sim_, "restart", [](const job_plan& p) {
    return p.cancel == cancel_point::never && p.attempts.size() == 2 && p.attempts[0].fails;
  });
  auto job = submission(id);

  // Uninterrupted, on a database of its own.
  admit(job);
  run_to_end(id);
  auto uninterrupted_types = event_types();
  auto uninterrupted_statuses = statuses();
  auto uninterrupted_now = now_;

  // Restarted after every step, on a fresh database, from the same start.
  database_ = other_dir_ / "orchestrator.db";
  now_ = timestamp(std::chrono::seconds(1'800'000'000));
  restart();
  admit(job);
  for (int i = 0; i < 1'000 && step(id); ++i) restart();
  EXPECT_TRUE(row(id).finished);
  EXPECT_EQ(event_types(), uninterrupted_types);
  EXPECT_EQ(statuses(), uninterrupted_statuses);
  EXPECT_EQ(now_, uninterrupted_now) << "the steps fell due at the same times";
}

// ------------------------------------------------------------------------- against a batch system

namespace batch {

// A batch system in memory: the test says what each batch job's status is.
class fake_batch final : public batch_system {
 public:
  struct job {
    batch_request request;
    batch_status status;
  };
  std::map<std::string, job> jobs;
  int next_id = 100;
  int submits = 0;
  std::vector<std::string> cancelled;
  std::optional<batch_error> down;     // every call fails with it
  std::optional<std::string> refusal;  // submit() refuses with it
  int calls = 0;                       // of any method but name()

  std::string name() override { return "FakeSlurm 1.0"; }
  std::expected<std::string, batch_error> submit(const batch_request& request) override {
    ++calls;
    if (down) return std::unexpected(*down);
    if (refusal) return std::unexpected(batch_error{.what = batch_error::kind::refused, .message = *refusal});
    auto id = std::to_string(next_id++);
    ++submits;
    jobs[id] = {request, {.id = id, .state = "PENDING", .phase = batch_phase::waiting}};
    return id;
  }
  std::expected<std::optional<std::string>, batch_error> find(std::string_view name,
                                                              std::string_view comment) override {
    ++calls;
    if (down) return std::unexpected(*down);
    for (const auto& [id, j] : jobs) {
      if (j.request.name == name && j.request.comment == comment) return id;
    }
    return std::nullopt;
  }
  std::expected<std::vector<batch_status>, batch_error> status(std::span<const std::string> ids) override {
    ++calls;
    if (down) return std::unexpected(*down);
    std::vector<batch_status> seen;
    for (const auto& id : ids) {
      if (auto it = jobs.find(id); it != jobs.end()) seen.push_back(it->second.status);
    }
    return seen;
  }
  std::expected<void, batch_error> cancel(std::string_view id) override {
    ++calls;
    if (down) return std::unexpected(*down);
    cancelled.emplace_back(id);
    return {};
  }
  void set(const std::string& id, std::string state, batch_phase phase, int exit_code = 0, std::string reason = "",
           std::chrono::seconds run_time = {}) {
    auto& s = jobs.at(id).status;
    s.state = std::move(state);
    s.phase = phase;
    s.exit_code = exit_code;
    s.reason = std::move(reason);
    s.run_time = run_time;
    s.never_runs = false;
  }
};

class batch_engine_test : public engine_test {
 protected:
  void SetUp() override {
    batch_ = {.system = &slurm_,
              .pipelines_dir = default_pipelines_dir(),
              .jobs_dir = dir_ / "jobs",
              .partitions = {{tacc_system::frontera, "normal"}},
              .poll_interval = std::chrono::seconds(1),
              .unavailable_retry = std::chrono::seconds(5),
              .sample_interval = std::chrono::milliseconds(0)};
    sim_.max_retries = 1;
    engine_test::SetUp();
  }
  // Admits the job and takes it to the step that submits it: QUEUED, its batch job "100" PENDING.
  void submitted(const std::string& job_id) {
    admit(submission(job_id));
    ASSERT_TRUE(step(job_id));  // → QUEUED
    ASSERT_TRUE(step(job_id));  // → sbatch
    ASSERT_EQ(row(job_id).batch_id, std::optional<std::string>(std::to_string(slurm_.next_id - 1)));
  }
  std::vector<std::string> reasons() {
    std::vector<std::string> seen;
    for (const auto& e : payloads_of<job_status_changed>(emitted(*store_))) seen.push_back(e.payload.reason);
    return seen;
  }

  fake_batch slurm_;
};

TEST_F(batch_engine_test, a_job_that_ended_between_two_polls_still_runs_then_completes) {
  submitted("job-fast");
  EXPECT_EQ(slurm_.submits, 1);
  const auto& request = slurm_.jobs.at("100").request;
  EXPECT_EQ(request.name, "job-fast");
  EXPECT_EQ(request.comment, batch_comment("job-fast", 0));
  EXPECT_EQ(request.partition, "normal");
  EXPECT_EQ(request.nodes, 4);
  EXPECT_EQ(request.cpus_per_task, 56);
  EXPECT_EQ(request.memory_mb, 192 * 1024);
  EXPECT_EQ(request.time_minutes, 120);
  EXPECT_TRUE(request.script.starts_with("#!/bin/bash\n")) << request.script.substr(0, 40);
  EXPECT_NE(request.script.find("horizons-metrics"), std::string::npos) << "the prelude measures the job";

  EXPECT_TRUE(step("job-fast"));  // still PENDING
  EXPECT_EQ(row("job-fast").status, queued);
  slurm_.set("100", "COMPLETED", batch_phase::succeeded, 0, "", std::chrono::seconds(7));
  run_to_end("job-fast");
  EXPECT_EQ(statuses(), (std::vector{queued, running, completed}));
  EXPECT_NE(reasons()[1].find("FakeSlurm 1.0 job 100"), std::string::npos) << reasons()[1];
  auto completed_events = payloads_of<job_completed>(emitted(*store_));
  ASSERT_EQ(completed_events.size(), 1u);
  EXPECT_EQ(completed_events[0].payload.execution_time_ms, 7'000);
  EXPECT_EQ(slurm_.submits, 1);
}

TEST_F(batch_engine_test, a_failed_attempt_carries_the_state_exit_code_and_reason_and_is_resubmitted) {
  submitted("job-exit3");
  slurm_.set("100", "RUNNING", batch_phase::running);
  EXPECT_TRUE(step("job-exit3"));
  EXPECT_EQ(row("job-exit3").status, running);
  slurm_.set("100", "FAILED", batch_phase::failed, 3, "NonZeroExitCode", std::chrono::seconds(2));
  EXPECT_TRUE(step("job-exit3"));
  auto failed_events = payloads_of<job_failed>(emitted(*store_));
  ASSERT_EQ(failed_events.size(), 1u);
  EXPECT_EQ(failed_events[0].payload.error_code, "FAILED");
  EXPECT_EQ(failed_events[0].payload.exit_code, 3);
  EXPECT_NE(failed_events[0].payload.error_message.find("job 100"), std::string::npos);
  EXPECT_NE(failed_events[0].payload.error_message.find("NonZeroExitCode"), std::string::npos);
  EXPECT_TRUE(failed_events[0].payload.next_retry_at.has_value());
  EXPECT_FALSE(row("job-exit3").batch_id);

  EXPECT_TRUE(step("job-exit3"));  // → QUEUED, retry 1 of 1
  EXPECT_TRUE(step("job-exit3"));  // → sbatch again
  EXPECT_EQ(slurm_.submits, 2);
  EXPECT_EQ(row("job-exit3").batch_id, std::optional<std::string>("101"));
  EXPECT_EQ(slurm_.jobs.at("101").request.comment, batch_comment("job-exit3", 1));
  slurm_.set("101", "COMPLETED", batch_phase::succeeded);
  run_to_end("job-exit3");
  EXPECT_EQ(statuses(), (std::vector{queued, running, failed, queued, running, completed}));
  EXPECT_NE(reasons()[4].find("job 101"), std::string::npos) << reasons()[4];
}

TEST_F(batch_engine_test, a_request_the_scheduler_refuses_fails_at_once_with_its_reason) {
  slurm_.refusal = "Slurm 22.05.8: sbatch refused job job-huge: Requested node configuration is not available";
  admit(submission("job-huge"));
  run_to_end("job-huge");
  EXPECT_EQ(statuses(), (std::vector{queued, failed}));
  auto failed_events = payloads_of<job_failed>(emitted(*store_));
  ASSERT_EQ(failed_events.size(), 1u);
  EXPECT_EQ(failed_events[0].payload.error_code, "REFUSED");
  EXPECT_EQ(failed_events[0].payload.error_message, *slurm_.refusal);
  EXPECT_FALSE(failed_events[0].payload.next_retry_at) << "a refusal is not retried";
}

TEST_F(batch_engine_test, a_job_pending_for_a_reason_that_cannot_change_is_cancelled_and_failed) {
  submitted("job-stuck");
  slurm_.set("100", "PENDING", batch_phase::waiting, 0, "PartitionConfig");
  slurm_.jobs.at("100").status.never_runs = true;
  run_to_end("job-stuck");
  EXPECT_EQ(statuses(), (std::vector{queued, failed}));
  EXPECT_EQ(slurm_.cancelled, (std::vector<std::string>{"100"}));
  auto failed_events = payloads_of<job_failed>(emitted(*store_));
  ASSERT_EQ(failed_events.size(), 1u);
  EXPECT_EQ(failed_events[0].payload.error_code, "REFUSED");
  EXPECT_NE(failed_events[0].payload.error_message.find("PartitionConfig"), std::string::npos);
}

TEST_F(batch_engine_test, an_unreachable_scheduler_leaves_the_job_queued_until_it_answers) {
  admit(submission("job-wait"));
  ASSERT_TRUE(step("job-wait"));  // → QUEUED
  slurm_.down = batch_error{.message = "sbatch not found on PATH"};
  auto before = now_;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(step("job-wait"));
  EXPECT_EQ(row("job-wait").status, queued);
  EXPECT_FALSE(row("job-wait").batch_id);
  EXPECT_EQ(row("job-wait").next_at, now_ + std::chrono::seconds(5));
  EXPECT_GE(now_ - before, std::chrono::seconds(10)) << "tried again every 5 s";
  slurm_.down.reset();
  ASSERT_TRUE(step("job-wait"));
  EXPECT_EQ(row("job-wait").batch_id, std::optional<std::string>("100"));
  EXPECT_EQ(statuses(), (std::vector{queued}));
}

TEST_F(batch_engine_test, an_unreachable_scheduler_is_asked_once_per_round_not_once_per_job) {
  for (const auto* job_id : {"job-a", "job-b", "job-c"}) admit(submission(job_id));
  now_ += std::chrono::hours(1);
  EXPECT_EQ(engine_->advance_due(), 3u);  // each → QUEUED
  slurm_.down = batch_error{.message = "Unable to contact slurm controller (connect failure)"};
  slurm_.calls = 0;
  now_ += std::chrono::hours(1);
  engine_->advance_due();
  EXPECT_EQ(slurm_.calls, 1) << "each call to a controller that is down can take the tools' whole timeout";
  for (const auto* job_id : {"job-a", "job-b", "job-c"}) {
    EXPECT_EQ(row(job_id).status, queued);
    EXPECT_FALSE(row(job_id).batch_id);
  }
}

TEST_F(batch_engine_test, an_attempt_submitted_before_a_crash_is_found_by_its_comment_not_submitted_again) {
  admit(submission("job-crash"));
  ASSERT_TRUE(step("job-crash"));  // → QUEUED
  // The previous engine ran sbatch, then died before its transaction committed the id.
  slurm_.jobs["77"] = {{.name = "job-crash", .comment = batch_comment("job-crash", 0)},
                       {.id = "77", .state = "RUNNING", .phase = batch_phase::running}};
  restart();
  ASSERT_TRUE(step("job-crash"));
  EXPECT_EQ(row("job-crash").batch_id, std::optional<std::string>("77"));
  EXPECT_EQ(slurm_.submits, 0);
  slurm_.set("77", "COMPLETED", batch_phase::succeeded);
  run_to_end("job-crash");
  EXPECT_EQ(statuses(), (std::vector{queued, running, completed}));
}

TEST_F(batch_engine_test, a_user_cancels_a_pending_and_a_running_job_and_only_the_submitter_may) {
  submitted("job-pending");
  EXPECT_EQ(engine_->jobs().request_cancel("job-pending", "mallory", now_), cancel_request::not_the_submitter);
  EXPECT_EQ(engine_->jobs().request_cancel("job-none", "alice", now_), cancel_request::no_such_job);
  EXPECT_EQ(engine_->jobs().request_cancel("job-pending", "alice", now_), cancel_request::recorded);
  EXPECT_EQ(row("job-pending").next_at, now_) << "a cancellation makes the job's step due now";
  ASSERT_TRUE(step("job-pending"));
  EXPECT_EQ(slurm_.cancelled, (std::vector<std::string>{"100"}));
  slurm_.set("100", "CANCELLED", batch_phase::cancelled);
  run_to_end("job-pending");

  submitted("job-running");
  slurm_.set("101", "RUNNING", batch_phase::running);
  ASSERT_TRUE(step("job-running"));
  ASSERT_EQ(row("job-running").status, running);
  EXPECT_EQ(engine_->jobs().request_cancel("job-running", "alice", now_), cancel_request::recorded);
  ASSERT_TRUE(step("job-running"));
  EXPECT_EQ(slurm_.cancelled, (std::vector<std::string>{"100", "101"}));
  slurm_.set("101", "CANCELLED", batch_phase::cancelled, 0, "", std::chrono::seconds(3));
  run_to_end("job-running");

  auto cancelled = payloads_of<job_cancelled>(emitted(*store_));
  ASSERT_EQ(cancelled.size(), 2u);
  for (const auto& c : cancelled) EXPECT_EQ(c.payload.cancelled_by, "alice");
  std::map<std::string, std::vector<job_status>> by_job;
  for (const auto& e : payloads_of<job_status_changed>(emitted(*store_))) {
    by_job[e.payload.job_id].push_back(e.payload.new_status);
  }
  EXPECT_EQ(by_job["job-pending"], (std::vector{queued, job_status::cancelled}));
  EXPECT_EQ(by_job["job-running"], (std::vector{queued, running, job_status::cancelled}));
  EXPECT_EQ(engine_->jobs().request_cancel("job-running", "alice", now_), cancel_request::already_finished);
}

TEST_F(batch_engine_test, samples_are_the_measurements_the_job_wrote) {
  submitted("job-measured");
  slurm_.set("100", "RUNNING", batch_phase::running);
  {
    std::ofstream out(batch_output(batch_, "job-measured", 0));
    out << "horizons: started\n"
        << "horizons-metrics interval_s=1.0 cpu_pct=99.5 memory_gb=0.25 disk_write_mb_per_s=1.5\n"
        << "horizons-metrics cpu_pct=bad unknown_key=3\n";
  }
  ASSERT_TRUE(step("job-measured"));  // → RUNNING, and a sample
  auto samples = payloads_of<job_metrics_recorded>(emitted(*store_));
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_DOUBLE_EQ(samples[0].payload.cpu_pct, 99.5);
  EXPECT_DOUBLE_EQ(samples[0].payload.memory_gb, 0.25);
  EXPECT_DOUBLE_EQ(samples[0].payload.disk_write_mb_per_s, 1.5);
  EXPECT_DOUBLE_EQ(samples[0].payload.gpu_pct, 0);
}

TEST_F(batch_engine_test, a_job_the_scheduler_forgot_fails_as_lost_and_is_retried) {
  submitted("job-lost");
  slurm_.jobs.erase("100");
  ASSERT_TRUE(step("job-lost"));
  auto failed_events = payloads_of<job_failed>(emitted(*store_));
  ASSERT_EQ(failed_events.size(), 1u);
  EXPECT_EQ(failed_events[0].payload.error_code, "LOST");
  EXPECT_TRUE(failed_events[0].payload.next_retry_at);
}

}  // namespace batch

TEST_F(engine_test, a_user_cancels_a_simulated_job) {
  admit(submission("job-sim-cancel"));
  ASSERT_TRUE(step("job-sim-cancel"));  // → QUEUED
  EXPECT_EQ(engine_->jobs().request_cancel("job-sim-cancel", "alice", now_), cancel_request::recorded);
  run_to_end("job-sim-cancel");
  EXPECT_EQ(statuses(), (std::vector{queued, job_status::cancelled}));
  auto cancelled = payloads_of<job_cancelled>(emitted(*store_));
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].payload.cancelled_by, "alice");
}
}  // namespace
}  // namespace horizons::orchestrator
