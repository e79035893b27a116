// The job tally (services/health_monitor/job_tally.hpp): jobs counted by their latest status.
#include "services/health_monitor/job_tally.hpp"

#include <gtest/gtest.h>

namespace horizons::health_monitor {
namespace {

using namespace std::chrono_literals;

const timestamp t0{std::chrono::seconds(1'800'000'000)};

job_lifecycle_event lifecycle(job_lifecycle_payload payload, timestamp when) {
  job_lifecycle_event e;
  e.occurred_at = when;
  e.payload = std::move(payload);
  return e;
}

job_lifecycle_event changed(const std::string& job, job_status from, job_status to, timestamp when) {
  return lifecycle(
      job_status_changed{.job_id = job, .previous_status = from, .new_status = to, .transitioned_at = when}, when);
}

TEST(job_tally, counts_each_job_by_its_latest_status) {
  job_tally tally;
  for (auto id : {"a", "b", "c", "d", "e"}) tally.apply(lifecycle(job_submitted{.job_id = id}, t0));
  tally.apply(changed("b", job_status::submitted, job_status::queued, t0 + 1s));
  tally.apply(changed("c", job_status::submitted, job_status::queued, t0 + 1s));
  tally.apply(changed("c", job_status::queued, job_status::running, t0 + 2s));
  tally.apply(changed("d", job_status::submitted, job_status::queued, t0 + 1s));
  tally.apply(changed("d", job_status::queued, job_status::running, t0 + 2s));
  tally.apply(changed("d", job_status::running, job_status::completed, t0 + 3s));
  tally.apply(lifecycle(job_completed{.job_id = "d"}, t0 + 3s));
  tally.apply(lifecycle(job_cancelled{.job_id = "e"}, t0 + 3s));
  auto counts = tally.counts(t0 + 4s);
  EXPECT_EQ(counts.pending, 2);  // a submitted, b queued
  EXPECT_EQ(counts.active, 1);   // c
  EXPECT_EQ(counts.failed_24h, 0);
}

TEST(job_tally, failures_count_for_24_hours_and_a_retry_takes_the_job_back) {
  job_tally tally;
  tally.apply(lifecycle(job_submitted{.job_id = "f"}, t0));
  tally.apply(changed("f", job_status::running, job_status::failed, t0 + 1h));
  tally.apply(lifecycle(job_failed{.job_id = "f", .retry_count = 0, .max_retries = 2}, t0 + 1h + 1s));
  tally.apply(lifecycle(job_submitted{.job_id = "g"}, t0));
  tally.apply(lifecycle(job_failed{.job_id = "g"}, t0 + 2h));

  EXPECT_EQ(tally.counts(t0 + 3h).failed_24h, 2);
  // f failed at t0 + 1h (its status change dates it, not the job.failed a second later): counted for
  // 24 hours to the microsecond, then forgotten.
  EXPECT_EQ(tally.counts(t0 + 25h).failed_24h, 2);
  EXPECT_EQ(tally.counts(t0 + 25h + 1us).failed_24h, 1);
  EXPECT_EQ(tally.counts(t0 + 26h + 1s).failed_24h, 0);

  // A retry after the failure aged out: the status change brings the job back as pending.
  tally.apply(changed("g", job_status::failed, job_status::queued, t0 + 27h));
  auto counts = tally.counts(t0 + 27h);
  EXPECT_EQ(counts.pending, 1);
  EXPECT_EQ(counts.failed_24h, 0);
}

TEST(job_tally, counts_every_state_and_ended_jobs_for_24_hours) {
  job_tally tally;
  for (auto id : {"s", "q", "r", "c", "x", "f"}) tally.apply(lifecycle(job_submitted{.job_id = id}, t0));
  tally.apply(changed("q", job_status::submitted, job_status::queued, t0 + 1s));
  tally.apply(changed("r", job_status::queued, job_status::running, t0 + 1s));
  tally.apply(changed("c", job_status::running, job_status::completed, t0 + 2s));
  tally.apply(lifecycle(job_completed{.job_id = "c"}, t0 + 3s));  // the second end event changes nothing
  tally.apply(lifecycle(job_cancelled{.job_id = "x"}, t0 + 2s));
  tally.apply(lifecycle(job_failed{.job_id = "f"}, t0 + 2s));
  auto counts = tally.counts(t0 + 4s);
  EXPECT_EQ(counts.submitted, 1);
  EXPECT_EQ(counts.queued, 1);
  EXPECT_EQ(counts.pending, 2);
  EXPECT_EQ(counts.active, 1);
  EXPECT_EQ(counts.completed_24h, 1);
  EXPECT_EQ(counts.cancelled_24h, 1);
  EXPECT_EQ(counts.failed_24h, 1);
  // Dated by the status change at t0 + 2s, not by job.completed a second later.
  EXPECT_EQ(tally.counts(t0 + 24h + 2s).completed_24h, 1);
  auto later = tally.counts(t0 + 24h + 2s + 1us);
  EXPECT_EQ(later.completed_24h, 0);
  EXPECT_EQ(later.cancelled_24h, 0);
  EXPECT_EQ(later.active, 1);
}

}  // namespace
}  // namespace horizons::health_monitor
