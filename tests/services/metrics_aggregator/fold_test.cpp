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
using namespace services::testing_common;

event<job_metrics_recorded> sample(const std::string& job_id, double cpu, double gpu, double memory,
                                   std::int64_t interval_ms) {
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
  // Folds `samples` in that order (a sample given twice is a redelivery).
  static void fold(job_folds& f, const std::vector<event<job_metrics_recorded>>& samples) {
    for (const auto& s : samples) EXPECT_TRUE(f.fold(s, s.payload));
  }
  static event<resource_allocation_changed> release(job_folds& f, const std::string& job_id,
                                                    allocation_change what = allocation_change::deallocated) {
    auto c = change(job_id, what);
    EXPECT_TRUE(f.released(c, c.payload));
    return c;
  }
  std::vector<event<job_performance_summary>> summaries(std::size_t store = 0) {
    return payloads_of<job_performance_summary>(emitted(*stores_.at(store)));
  }
  // The one summary the fold emitted (a test failure unless exactly one).
  job_performance_summary only_summary(std::size_t store = 0) {
    auto out = summaries(store);
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? job_performance_summary{} : out[0].payload;
  }

  scratch_dir dir_;
  std::vector<std::unique_ptr<state_store>> stores_;
  std::vector<std::unique_ptr<job_folds>> folds_;
};

TEST_F(fold_test, one_sample_is_its_own_average_maximum_and_peak) {
  auto& f = folds();
  fold(f, {sample("job-1", 80, 40, 12, 2'000)});
  auto released = release(f, "job-1");

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
  EXPECT_EQ(out[0].causation_id, std::optional(released.event_id));
  EXPECT_EQ(out[0].correlation_id, released.correlation_id);
}

TEST_F(fold_test, samples_in_any_order_fold_to_the_same_summary) {
  std::vector<event<job_metrics_recorded>> samples{sample("job-2", 10, 5, 4, 1'000), sample("job-2", 90, 70, 30, 3'000),
                                                   sample("job-2", 50, 20, 16, 2'000)};
  auto& in_order = folds("in-order");
  auto& reversed = folds("reversed");
  fold(in_order, samples);
  fold(reversed, {samples.rbegin(), samples.rend()});
  release(in_order, "job-2");
  release(reversed, "job-2");

  auto a = only_summary(0);
  EXPECT_EQ(a, only_summary(1));
  EXPECT_EQ(a.sample_count, 3);
  EXPECT_EQ(a.execution_time_ms, 6'000);
  EXPECT_DOUBLE_EQ(a.cpu_avg_pct, 50);
  EXPECT_DOUBLE_EQ(a.cpu_max_pct, 90);
  EXPECT_DOUBLE_EQ(a.memory_peak_gb, 30);
  EXPECT_DOUBLE_EQ(a.disk_write_total_mb, 300);
}

TEST_F(fold_test, a_redelivered_sample_or_release_counts_once) {
  auto& f = folds();
  auto once = sample("job-3", 60, 0, 8, 1'000);
  fold(f, {once, once, sample("job-3", 20, 0, 2, 1'000), once});
  auto released = release(f, "job-3");
  ASSERT_TRUE(f.released(released, released.payload)) << "the same release again";

  auto summary = only_summary();
  EXPECT_EQ(summary.sample_count, 2);
  EXPECT_DOUBLE_EQ(summary.cpu_avg_pct, 40);
}

TEST_F(fold_test, a_second_release_emits_nothing_and_a_late_sample_is_not_folded) {
  auto& f = folds();
  fold(f, {sample("job-4", 30, 0, 1, 1'000)});
  release(f, "job-4");
  fold(f, {sample("job-4", 100, 100, 100, 1'000)});  // late: acknowledged (not an error), not folded
  release(f, "job-4");                               // a second deallocation event

  auto summary = only_summary();
  EXPECT_EQ(summary.sample_count, 1);
  EXPECT_DOUBLE_EQ(summary.cpu_max_pct, 30);
}

TEST_F(fold_test, only_a_deallocation_summarises_and_a_job_without_samples_gets_zeros) {
  auto& f = folds();
  release(f, "job-5", allocation_change::allocated);
  EXPECT_TRUE(summaries().empty());
  release(f, "job-5");

  EXPECT_EQ(only_summary(), (job_performance_summary{.job_id = "job-5"})) << "every figure zero";
}

TEST_F(fold_test, jobs_fold_apart) {
  auto& f = folds();
  fold(f, {sample("job-a", 10, 0, 1, 1'000), sample("job-b", 90, 0, 9, 1'000)});
  release(f, "job-a");
  auto summary = only_summary();
  EXPECT_EQ(summary.job_id, "job-a");
  EXPECT_DOUBLE_EQ(summary.cpu_max_pct, 10);
}

}  // namespace
}  // namespace horizons::metrics_aggregator
