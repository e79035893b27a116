// The latency recorder: exact count, min, max, mean and standard deviation;
// percentiles within the documented 1/256 of the true nearest-rank value.
#include <horizons/testkit/latency_recorder.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

namespace horizons::testkit {
namespace {

using namespace std::chrono_literals;
using us = std::chrono::microseconds;

// The nearest-rank percentile of `sorted`: the smallest value with at least percent% at or below it.
std::int64_t true_percentile(const std::vector<std::int64_t>& sorted, double percent) {
  auto rank = static_cast<std::size_t>(std::ceil(percent / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

// The documented bound: within 1/256 of the true value (exact below 128 us).
void expect_within_precision(us reported, std::int64_t truth, double percent) {
  auto allowed = static_cast<double>(truth) / 256.0;
  EXPECT_LE(std::abs(static_cast<double>(reported.count() - truth)), allowed)
      << "p" << percent << ": reported " << reported.count() << " us, true " << truth << " us";
}

void expect_matches(const latency_recorder& recorded, std::vector<std::int64_t> values) {
  std::ranges::sort(values);
  for (double p : {1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0}) {
    expect_within_precision(recorded.percentile(p), true_percentile(values, p), p);
  }
  auto s = recorded.summary();
  EXPECT_EQ(s.count, values.size());
  EXPECT_EQ(s.min.count(), values.front());
  EXPECT_EQ(s.max.count(), values.back());
  long double sum = 0;
  for (auto v : values) sum += static_cast<long double>(v);
  long double mean = sum / static_cast<long double>(values.size());
  long double squares = 0;
  for (auto v : values) squares += (static_cast<long double>(v) - mean) * (static_cast<long double>(v) - mean);
  auto stddev = std::sqrt(squares / static_cast<long double>(values.size()));
  EXPECT_NEAR(s.mean_us, static_cast<double>(mean), 1e-9 * static_cast<double>(mean) + 1e-9);
  EXPECT_NEAR(s.stddev_us, static_cast<double>(stddev), 1e-9 * static_cast<double>(stddev) + 1e-6);
}

TEST(testkit_latency_recorder, empty_reports_zeros_and_count_zero) {
  latency_recorder recorder;
  auto s = recorder.summary();
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.min, 0us);
  EXPECT_EQ(s.max, 0us);
  EXPECT_EQ(s.p50, 0us);
  EXPECT_EQ(s.p999, 0us);
  EXPECT_EQ(s.mean_us, 0.0);
  EXPECT_EQ(s.stddev_us, 0.0);
  EXPECT_EQ(recorder.percentile(99), 0us);
  EXPECT_EQ(s.to_string(), "count=0");
}

TEST(testkit_latency_recorder, single_value_is_every_statistic_exactly) {
  latency_recorder recorder;
  recorder.record(12'345us);
  auto s = recorder.summary();
  EXPECT_EQ(s.count, 1u);
  for (auto value : {s.min, s.max, s.p50, s.p95, s.p99, s.p999}) EXPECT_EQ(value, 12'345us);
  EXPECT_DOUBLE_EQ(s.mean_us, 12'345.0);
  EXPECT_DOUBLE_EQ(s.stddev_us, 0.0);
}

TEST(testkit_latency_recorder, constant_values_have_no_spread) {
  latency_recorder recorder;
  for (int i = 0; i < 10'000; ++i) recorder.record(5'003us);
  auto s = recorder.summary();
  EXPECT_EQ(s.count, 10'000u);
  for (auto value : {s.min, s.max, s.p50, s.p95, s.p99, s.p999}) EXPECT_EQ(value, 5'003us);
  EXPECT_DOUBLE_EQ(s.mean_us, 5'003.0);
  EXPECT_DOUBLE_EQ(s.stddev_us, 0.0);
}

TEST(testkit_latency_recorder, uniform_one_to_ten_thousand_percentiles_within_precision) {
  std::vector<std::int64_t> values;
  for (std::int64_t v = 1; v <= 10'000; ++v) values.push_back(v);
  std::ranges::shuffle(values, std::mt19937_64(7));
  latency_recorder recorder;
  for (auto v : values) recorder.record(us{v});
  auto s = recorder.summary();
  expect_within_precision(s.p50, 5'000, 50);
  expect_within_precision(s.p95, 9'500, 95);
  expect_within_precision(s.p99, 9'900, 99);
  expect_within_precision(s.p999, 9'990, 99.9);
  EXPECT_EQ(s.min, 1us);
  EXPECT_EQ(s.max, 10'000us);
  EXPECT_DOUBLE_EQ(s.mean_us, 5'000.5);
  EXPECT_NEAR(s.stddev_us, std::sqrt((1e8 - 1) / 12.0), 1e-9);  // population sd of 1..n: sqrt((n^2-1)/12)
  expect_matches(recorder, values);
}

TEST(testkit_latency_recorder, skewed_distributions_match_sorted_truth) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> network(std::log(800.0), 1.2);  // long tail: us to seconds
  std::vector<std::int64_t> values;
  latency_recorder recorder;
  for (int i = 0; i < 200'000; ++i) {
    auto v = static_cast<std::int64_t>(network(rng));
    values.push_back(v);
    recorder.record(us{v});
  }
  expect_matches(recorder, values);
}

TEST(testkit_latency_recorder, small_values_are_exact) {
  latency_recorder recorder;
  std::vector<std::int64_t> values;
  for (std::int64_t v = 0; v < 128; ++v) {
    values.push_back(v);
    recorder.record(us{v});
  }
  for (double p : {1.0, 50.0, 95.0, 99.0}) EXPECT_EQ(recorder.percentile(p).count(), true_percentile(values, p));
}

TEST(testkit_latency_recorder, buckets_tile_the_range_and_are_at_most_one_128th_wide) {
  EXPECT_EQ(latency_recorder::bucket_low(0), 0);
  for (std::size_t b = 0; b + 1 < latency_recorder::bucket_count; ++b) {
    ASSERT_EQ(latency_recorder::bucket_high(b) + 1, latency_recorder::bucket_low(b + 1)) << "bucket " << b;
    auto low = latency_recorder::bucket_low(b);
    auto width = latency_recorder::bucket_high(b) - low + 1;
    ASSERT_LE(width, std::max<std::int64_t>(1, low / 128)) << "bucket " << b;
    ASSERT_EQ(latency_recorder::bucket_of(low), b);
    ASSERT_EQ(latency_recorder::bucket_of(latency_recorder::bucket_high(b)), b);
  }
  EXPECT_EQ(latency_recorder::bucket_high(latency_recorder::bucket_count - 1), latency_recorder::highest_trackable_us);
  // One hour fits; beyond the top the value lands in the last bucket and max stays exact.
  EXPECT_LT(latency_recorder::bucket_of(std::chrono::microseconds(1h).count()), latency_recorder::bucket_count);
  latency_recorder recorder;
  recorder.record(std::chrono::hours(3));
  EXPECT_EQ(recorder.summary().max, std::chrono::hours(3));
}

TEST(testkit_latency_recorder, one_hour_values_keep_exact_mean_and_deviation) {
  latency_recorder recorder;
  std::int64_t hour = std::chrono::microseconds(1h).count();
  for (int i = 0; i < 1'000; ++i) recorder.record(us{hour - i % 2});
  auto s = recorder.summary();
  EXPECT_DOUBLE_EQ(s.mean_us, static_cast<double>(hour) - 0.5);
  EXPECT_DOUBLE_EQ(s.stddev_us, 0.5);
  expect_within_precision(s.p99, hour, 99);
}

TEST(testkit_latency_recorder, negative_durations_count_as_zero_and_are_reported) {
  latency_recorder recorder;
  recorder.record(-5us);
  recorder.record(10us);
  auto s = recorder.summary();
  EXPECT_EQ(s.negative, 1u);
  EXPECT_EQ(s.min, 0us);
  EXPECT_DOUBLE_EQ(s.mean_us, 5.0);
  EXPECT_NE(s.to_string().find("negative=1"), std::string::npos) << s.to_string();
}

TEST(testkit_latency_recorder, record_since_measures_from_the_produced_at_time) {
  latency_recorder recorder;
  recorder.record_since(now() - 250ms);
  auto s = recorder.summary();
  EXPECT_GE(s.min, 250ms);
  EXPECT_LT(s.max, 10s);
}

TEST(testkit_latency_recorder, per_thread_recorders_merge_into_the_same_result_as_one) {
  constexpr int threads = 4;
  std::vector<latency_recorder> per_thread(threads);
  latency_recorder shared;
  std::vector<std::int64_t> all;
  std::vector<std::vector<std::int64_t>> drawn(threads);
  for (int t = 0; t < threads; ++t) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(t));
    std::uniform_int_distribution<std::int64_t> uniform(1, 2'000'000);
    for (int i = 0; i < 50'000; ++i) drawn[t].push_back(uniform(rng));
    all.insert(all.end(), drawn[t].begin(), drawn[t].end());
  }
  {
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (auto v : drawn[t]) {
          per_thread[t].record(us{v});
          shared.record(us{v});  // also concurrently into one recorder
        }
      });
    }
  }
  latency_recorder merged;
  for (const auto& r : per_thread) merged.merge(r);
  expect_matches(merged, all);
  expect_matches(shared, all);
  EXPECT_EQ(merged.summary().to_string(), shared.summary().to_string());
}

TEST(testkit_latency_recorder, summary_line_names_every_statistic) {
  latency_recorder recorder;
  for (int v = 1; v <= 2'000; ++v) recorder.record(us{v});
  auto line = recorder.summary().to_string();
  for (const char* part :
       {"count=2000", "min=1us", "p50=", "p95=", "p99=", "p99.9=", "max=2.00ms", "mean=1.00ms", "stddev="}) {
    EXPECT_NE(line.find(part), std::string::npos) << part << " missing from: " << line;
  }
}

TEST(testkit_latency_recorder, reset_forgets_everything) {
  latency_recorder recorder;
  recorder.record(3us);
  recorder.reset();
  EXPECT_EQ(recorder.count(), 0u);
  EXPECT_EQ(recorder.summary().to_string(), "count=0");
}

}  // namespace
}  // namespace horizons::testkit
