// The orchestrator's engine on a temporary state store and a clock the test
// moves: every transition of the status machine, retries, cancellation in
// both places, idempotent admission, and an engine restarted mid-job that
// ends the job exactly as an engine that never stopped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <horizons/event_builder.hpp>

#include "../common/scratch.hpp"
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
    engine_.emplace(sim_, *store_, [this] { return now_; });
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

}  // namespace
}  // namespace horizons::orchestrator
