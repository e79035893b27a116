// The metrics aggregator's fold on a temporary state store: one sample,
// samples in any order, duplicates, late samples, a second release and a job
// released without samples, each checked against the summary it emits.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <horizons/event_builder.hpp>

#include "../common/scratch.hpp"
#include "services/metrics_aggregator/fold.hpp"

namespace horizons::metrics_aggregator {
namespace {

using services::state_store;
using services::testing_common::emitted;
using services::testing_common::payloads_of;
using services::testing_common::scratch_dir;

event<job_metrics_recorded> sample(const std::string& job_id, double cpu, double gpu, double memory, std::int64_t interval_ms) {
  return *make_event(job_metrics_recorded{.job_id = job_id,
                                          .sampled_at = now(),
                                          .interval_ms = interval_ms,
                                          .cpu_pct = cpu,
                                          .gpu_pct = gpu,
                                          .gpu_memory_gb = memory / 2,
                                          .memory_gb = memory,
                                          .network_in_mb_per_s = 10,
                                          .network_out_mb_per_s = 4,
                                          .disk_read_mb_per_s = 100,
                                          .disk_write_mb_per_s = 50})
              .user_id("alice")
              .build();
}

event<resource_allocation_changed> change(const std::string& job_id, allocation_change what) {
  return *make_event(resource_allocation_changed{.allocation_id = "alloc-" + job_id,
                                                 .job_id = job_id,
                                                 .change = what,
                                                 .previous_allocation = std::nullopt,
                                                 .new_allocation = std::nullopt,
                                                 .reason = "test"})
              .user_id("alice")
              .build();
}

class fold_test : public testing::Test {
 protected:
  // A fold on a database of its own (`name`), kept for the test's length.
  job_folds& folds(const std::string& name = "folds") {
    auto opened = state_store::open(dir_ / (name + ".db"));
    EXPECT_TRUE(opened) << opened.error();
    stores_.push_back(std::make_unique<state_store>(std::move(*opened)));
    folds_.push_back(std::make_unique<job_folds>(*stores_.back()));
    EXPECT_TRUE(folds_.back()->prepare());
    return *folds_.back();
  }
  std::vector<event<job_performance_summary>> summaries(std::size_t store = 0) {
    return payloads_of<job_performance_summary>(emitted(*stores_.at(store)));
  }

  scratch_dir dir_;
  std::vector<std::unique_ptr<state_store>> stores_;
  std::vector<std::unique_ptr<job_folds>> folds_;
};

TEST_F(fold_test, one_sample_is_its_own_average_maximum_and_peak) {
  auto& f = folds();
  auto s = sample("job-1", 80, 40, 12, 2'000);
  ASSERT_TRUE(f.fold(s, s.payload));
  auto release = change("job-1", allocation_change::deallocated);
  ASSERT_TRUE(f.released(release, release.payload));

  auto out = summaries();
  ASSERT_EQ(out.size(), 1u);
  const auto& summary = out[0].payload;
  EXPECT_EQ(summary.job_id, "job-1");
  EXPECT_EQ(summary.sample_count, 1);
  EXPECT_EQ(summary.execution_time_ms, 2'000);
  EXPECT_DOUBLE_EQ(summary.cpu_avg_pct, 80);
  EXPECT_DOUBLE_EQ(summary.cpu_max_pct, 80);
  EXPECT_DOUBLE_EQ(summary.gpu_avg_pct, 40);
  EXPECT_DOUBLE_EQ(summary.gpu_max_pct, 40);
  EXPECT_DOUBLE_EQ(summary.memory_peak_gb, 12);
  EXPECT_DOUBLE_EQ(summary.gpu_memory_peak_gb, 6);
  // Totals are each rate times the sample's 2 s.
  EXPECT_DOUBLE_EQ(summary.network_in_total_mb, 20);
  EXPECT_DOUBLE_EQ(summary.network_out_total_mb, 8);
  EXPECT_DOUBLE_EQ(summary.disk_read_total_mb, 200);
  EXPECT_DOUBLE_EQ(summary.disk_write_total_mb, 100);
  // The summary is caused by the release, in its flow.
  EXPECT_EQ(out[0].causation_id, std::optional(release.event_id));
  EXPECT_EQ(out[0].correlation_id, release.correlation_id);
}

TEST_F(fold_test, samples_in_any_order_fold_to_the_same_summary) {
  std::vector<event<job_metrics_recorded>> samples{sample("job-2", 10, 5, 4, 1'000), sample("job-2", 90, 70, 30, 3'000),
                                                   sample("job-2", 50, 20, 16, 2'000)};
  auto& in_order = folds("in-order");
  auto& reversed = folds("reversed");
  for (const auto& s : samples) ASSERT_TRUE(in_order.fold(s, s.payload));
  for (auto s = samples.rbegin(); s != samples.rend(); ++s) ASSERT_TRUE(reversed.fold(*s, s->payload));
  auto release = change("job-2", allocation_change::deallocated);
  ASSERT_TRUE(in_order.released(release, release.payload));
  ASSERT_TRUE(reversed.released(release, release.payload));

  auto a = summaries(0), b = summaries(1);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].payload, b[0].payload);
  EXPECT_EQ(a[0].payload.sample_count, 3);
  EXPECT_EQ(a[0].payload.execution_time_ms, 6'000);
  EXPECT_DOUBLE_EQ(a[0].payload.cpu_avg_pct, 50);
  EXPECT_DOUBLE_EQ(a[0].payload.cpu_max_pct, 90);
  EXPECT_DOUBLE_EQ(a[0].payload.memory_peak_gb, 30);
  EXPECT_DOUBLE_EQ(a[0].payload.disk_write_total_mb, 300);
}

TEST_F(fold_test, a_redelivered_sample_or_release_counts_once) {
  auto& f = folds();
  auto once = sample("job-3", 60, 0, 8, 1'000);
  auto other = sample("job-3", 20, 0, 2, 1'000);
  ASSERT_TRUE(f.fold(once, once.payload));
  ASSERT_TRUE(f.fold(once, once.payload));
  ASSERT_TRUE(f.fold(other, other.payload));
  ASSERT_TRUE(f.fold(once, once.payload));
  auto release = change("job-3", allocation_change::deallocated);
  ASSERT_TRUE(f.released(release, release.payload));
  ASSERT_TRUE(f.released(release, release.payload));

  auto out = summaries();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload.sample_count, 2);
  EXPECT_DOUBLE_EQ(out[0].payload.cpu_avg_pct, 40);
}

TEST_F(fold_test, a_second_release_emits_nothing_and_a_late_sample_is_not_folded) {
  auto& f = folds();
  auto s = sample("job-4", 30, 0, 1, 1'000);
  ASSERT_TRUE(f.fold(s, s.payload));
  auto first = change("job-4", allocation_change::deallocated);
  ASSERT_TRUE(f.released(first, first.payload));
  auto late = sample("job-4", 100, 100, 100, 1'000);
  ASSERT_TRUE(f.fold(late, late.payload)) << "a late sample is acknowledged, not retried";
  auto second = change("job-4", allocation_change::deallocated);
  ASSERT_TRUE(f.released(second, second.payload));

  auto out = summaries();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload.sample_count, 1);
  EXPECT_DOUBLE_EQ(out[0].payload.cpu_max_pct, 30);
}

TEST_F(fold_test, only_a_deallocation_summarises_and_a_job_without_samples_gets_zeros) {
  auto& f = folds();
  auto allocated = change("job-5", allocation_change::allocated);
  ASSERT_TRUE(f.released(allocated, allocated.payload));
  EXPECT_TRUE(summaries().empty());
  auto released = change("job-5", allocation_change::deallocated);
  ASSERT_TRUE(f.released(released, released.payload));

  auto out = summaries();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload.sample_count, 0);
  EXPECT_EQ(out[0].payload.execution_time_ms, 0);
  EXPECT_DOUBLE_EQ(out[0].payload.cpu_avg_pct, 0);
  EXPECT_DOUBLE_EQ(out[0].payload.memory_peak_gb, 0);
}

TEST_F(fold_test, jobs_fold_apart) {
  auto& f = folds();
  auto a = sample("job-a", 10, 0, 1, 1'000);
  auto b = sample("job-b", 90, 0, 9, 1'000);
  ASSERT_TRUE(f.fold(a, a.payload));
  ASSERT_TRUE(f.fold(b, b.payload));
  auto release = change("job-a", allocation_change::deallocated);
  ASSERT_TRUE(f.released(release, release.payload));
  auto out = summaries();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload.job_id, "job-a");
  EXPECT_DOUBLE_EQ(out[0].payload.cpu_max_pct, 10);
}

}  // namespace
}  // namespace horizons::metrics_aggregator
