// Latencies in microseconds, summarised the way people read them: count,
// min, max, mean, standard deviation, p50, p95, p99, p99.9.
//
//   horizons::testkit::latency_recorder latencies;
//   latencies.record(std::chrono::microseconds(420));
//   latencies.record_since(context.produced_at.value());   // now() - produced_at
//   auto summary = latencies.summary();
//   EXPECT_LT(summary.p99, std::chrono::milliseconds(50));
//   std::puts(summary.to_string().c_str());
//   // "count=1000 min=12us p50=410us p95=1.21ms p99=3.40ms p99.9=9.87ms max=10.02ms mean=498.3us stddev=602.1us"
//
// Precision. count, min, max, mean and standard deviation are exact: min and
// max are kept as recorded, mean and the (population) standard deviation
// come from exact integer running sums. Percentiles come from a log-linear
// histogram (the HDR histogram's layout): values 0..127 us each have their
// own bucket, and every power-of-two range above is split into 128 equal
// buckets, so a bucket is at most 1/128 of its values wide. A percentile
// reports its bucket's midpoint, clamped to [min, max]: it is within 0.4 %
// (1/256) of the true nearest-rank percentile, and exact below 128 us. The
// histogram spans 0 .. 2^32 us (about 71 minutes) in 3,328 buckets (26 KiB),
// whatever the number of values; a larger value is counted in the top bucket
// (its percentile then reads low; max stays exact). A negative duration
// (clock skew in record_since) is recorded as 0 and counted in `negative`.
//
// Threads: every member may be called from any thread (one mutex). For tight
// loops on many threads, give each thread its own recorder and merge() them.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include <horizons/timestamp.hpp>

namespace horizons::testkit {

struct latency_summary {
  std::uint64_t count = 0;
  std::uint64_t negative = 0;  // durations below zero, recorded as 0
  std::chrono::microseconds min{0};
  std::chrono::microseconds max{0};
  double mean_us = 0;
  double stddev_us = 0;  // population standard deviation
  std::chrono::microseconds p50{0};
  std::chrono::microseconds p95{0};
  std::chrono::microseconds p99{0};
  std::chrono::microseconds p999{0};

  /// One line: "count=... min=... p50=... p95=... p99=... p99.9=... max=... mean=... stddev=...";
  /// "count=0" when nothing was recorded.
  [[nodiscard]] std::string to_string() const;
};

class latency_recorder {
 public:
  /// Values 0..sub_bucket_count-1 are exact; each power-of-two range above has this many buckets.
  static constexpr std::size_t sub_bucket_count = 128;
  /// The largest value the histogram resolves (2^32 - 1 us, about 71.6 minutes).
  static constexpr std::int64_t highest_trackable_us = (std::int64_t{1} << 32) - 1;
  static constexpr std::size_t bucket_count = sub_bucket_count * (32 - 7 + 1);

  latency_recorder() = default;
  latency_recorder(const latency_recorder& other);
  latency_recorder& operator=(const latency_recorder& other);

  void record(std::chrono::microseconds latency);
  /// Records now() - produced_at (both on the system clock, as in the produced-at header).
  void record_since(timestamp produced_at);
  /// Adds every value `other` recorded (as if recorded here). Safe with other threads using either recorder.
  void merge(const latency_recorder& other);
  void reset();

  [[nodiscard]] std::uint64_t count() const;
  /// The nearest-rank `percent` percentile (0 < percent <= 100) within the precision above; 0 when empty.
  [[nodiscard]] std::chrono::microseconds percentile(double percent) const;
  [[nodiscard]] latency_summary summary() const;

  /// The histogram bucket of a value, and the values [low, high] a bucket holds (exposed for tests).
  [[nodiscard]] static std::size_t bucket_of(std::int64_t us);
  [[nodiscard]] static std::int64_t bucket_low(std::size_t bucket);
  [[nodiscard]] static std::int64_t bucket_high(std::size_t bucket);

 private:
  struct state {
    std::array<std::uint64_t, bucket_count> buckets{};
    std::uint64_t count = 0;
    std::uint64_t negative = 0;
    std::int64_t min = 0;
    std::int64_t max = 0;
    unsigned __int128 sum = 0;
    unsigned __int128 sum_of_squares = 0;
  };
  [[nodiscard]] state snapshot() const;
  [[nodiscard]] static std::chrono::microseconds percentile_of(const state& s, double percent);

  mutable std::mutex mutex_;
  state state_;
};

}  // namespace horizons::testkit
