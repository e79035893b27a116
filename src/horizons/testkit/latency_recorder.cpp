#include <horizons/testkit/latency_recorder.hpp>

#include <algorithm>
#include <bit>
#include <cmath>

#include <fmt/format.h>

namespace horizons::testkit {

namespace {

constexpr std::int64_t exact_below = static_cast<std::int64_t>(latency_recorder::sub_bucket_count);  // 128 = 2^7
constexpr int sub_bucket_bits = 7;

// People read "1.21ms" faster than "1210us".
std::string format_us(double us) {
  if (us < 1'000) return fmt::format("{:.1f}us", us);
  if (us < 1'000'000) return fmt::format("{:.2f}ms", us / 1e3);
  return fmt::format("{:.3f}s", us / 1e6);
}
std::string format_us(std::chrono::microseconds us) {
  if (us.count() < 1'000) return fmt::format("{}us", us.count());
  return format_us(static_cast<double>(us.count()));
}

}  // namespace

std::string latency_summary::to_string() const {
  if (count == 0) return "count=0";
  auto line = fmt::format("count={} min={} p50={} p95={} p99={} p99.9={} max={} mean={} stddev={}", count,
                          format_us(min), format_us(p50), format_us(p95), format_us(p99), format_us(p999),
                          format_us(max), format_us(mean_us), format_us(stddev_us));
  if (negative > 0) line += fmt::format(" negative={}", negative);
  return line;
}

std::size_t latency_recorder::bucket_of(std::int64_t us) {
  if (us < exact_below) return static_cast<std::size_t>(std::max<std::int64_t>(us, 0));
  auto value = static_cast<std::uint64_t>(std::min(us, highest_trackable_us));
  int octave = std::bit_width(value) - 1;  // 7..31
  auto within = (value >> (octave - sub_bucket_bits)) - sub_bucket_count;
  return sub_bucket_count * static_cast<std::size_t>(octave - sub_bucket_bits + 1) + within;
}

std::int64_t latency_recorder::bucket_low(std::size_t bucket) {
  if (bucket < sub_bucket_count) return static_cast<std::int64_t>(bucket);
  auto octave = static_cast<int>(bucket / sub_bucket_count) + sub_bucket_bits - 1;
  auto within = static_cast<std::int64_t>(bucket % sub_bucket_count);
  return (exact_below + within) << (octave - sub_bucket_bits);
}

std::int64_t latency_recorder::bucket_high(std::size_t bucket) {
  if (bucket < sub_bucket_count) return static_cast<std::int64_t>(bucket);
  auto octave = static_cast<int>(bucket / sub_bucket_count) + sub_bucket_bits - 1;
  return bucket_low(bucket) + (std::int64_t{1} << (octave - sub_bucket_bits)) - 1;
}

latency_recorder::latency_recorder(const latency_recorder& other) : state_(other.snapshot()) {}

latency_recorder& latency_recorder::operator=(const latency_recorder& other) {
  if (this == &other) return *this;
  auto copied = other.snapshot();
  std::scoped_lock lock(mutex_);
  state_ = copied;
  return *this;
}

void latency_recorder::record(std::chrono::microseconds latency) {
  auto us = latency.count();
  std::scoped_lock lock(mutex_);
  if (us < 0) {
    ++state_.negative;
    us = 0;
  }
  ++state_.buckets[bucket_of(us)];
  state_.min = state_.count == 0 ? us : std::min(state_.min, us);
  state_.max = state_.count == 0 ? us : std::max(state_.max, us);
  ++state_.count;
  auto value = static_cast<unsigned __int128>(us);
  state_.sum += value;
  state_.sum_of_squares += value * value;
}

void latency_recorder::record_since(timestamp produced_at) { record(now() - produced_at); }

void latency_recorder::merge(const latency_recorder& other) {
  // Copy first: never hold both locks, so a.merge(b) and b.merge(a) on two threads cannot deadlock.
  auto added = other.snapshot();
  if (added.count == 0) return;
  std::scoped_lock lock(mutex_);
  for (std::size_t b = 0; b < bucket_count; ++b) state_.buckets[b] += added.buckets[b];
  state_.min = state_.count == 0 ? added.min : std::min(state_.min, added.min);
  state_.max = state_.count == 0 ? added.max : std::max(state_.max, added.max);
  state_.count += added.count;
  state_.negative += added.negative;
  state_.sum += added.sum;
  state_.sum_of_squares += added.sum_of_squares;
}

void latency_recorder::reset() {
  std::scoped_lock lock(mutex_);
  state_ = state{};
}

std::uint64_t latency_recorder::count() const {
  std::scoped_lock lock(mutex_);
  return state_.count;
}

latency_recorder::state latency_recorder::snapshot() const {
  std::scoped_lock lock(mutex_);
  return state_;
}

std::chrono::microseconds latency_recorder::percentile(double percent) const {
  std::scoped_lock lock(mutex_);
  return percentile_of(state_, percent);
}

std::chrono::microseconds latency_recorder::percentile_of(const state& s, double percent) {
  if (s.count == 0) return std::chrono::microseconds{0};
  // Nearest rank: the smallest value with at least percent% of all values at or below it.
  auto rank =
      static_cast<std::uint64_t>(std::ceil(std::clamp(percent, 0.0, 100.0) / 100.0 * static_cast<double>(s.count)));
  rank = std::clamp<std::uint64_t>(rank, 1, s.count);
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < bucket_count; ++b) {
    seen += s.buckets[b];
    if (seen >= rank) {
      auto middle = bucket_low(b) + (bucket_high(b) - bucket_low(b)) / 2;
      return std::chrono::microseconds{std::clamp(middle, s.min, s.max)};
    }
  }
  return std::chrono::microseconds{s.max};  // unreachable: the buckets hold count values
}

latency_summary latency_recorder::summary() const {
  auto s = snapshot();
  latency_summary out;
  out.count = s.count;
  out.negative = s.negative;
  if (s.count == 0) return out;
  out.min = std::chrono::microseconds{s.min};
  out.max = std::chrono::microseconds{s.max};
  auto n = static_cast<unsigned __int128>(s.count);
  out.mean_us = static_cast<double>(static_cast<long double>(s.sum) / static_cast<long double>(s.count));
  // Variance = (n * sum(x^2) - sum(x)^2) / n^2, exact in 128-bit integers while it fits.
  unsigned __int128 scaled_squares = 0;
  constexpr auto sum_limit = ~static_cast<unsigned __int128>(0) >> 64;  // sum^2 fits in 128 bits
  if (!__builtin_mul_overflow(n, s.sum_of_squares, &scaled_squares) && s.sum <= sum_limit) {
    auto numerator = scaled_squares - s.sum * s.sum;
    out.stddev_us =
        static_cast<double>(std::sqrt(static_cast<long double>(numerator)) / static_cast<long double>(s.count));
  } else {
    auto mean = static_cast<long double>(s.sum) / static_cast<long double>(s.count);
    auto variance = static_cast<long double>(s.sum_of_squares) / static_cast<long double>(s.count) - mean * mean;
    out.stddev_us = static_cast<double>(std::sqrt(std::max(variance, 0.0L)));
  }
  out.p50 = percentile_of(s, 50);
  out.p95 = percentile_of(s, 95);
  out.p99 = percentile_of(s, 99);
  out.p999 = percentile_of(s, 99.9);
  return out;
}

}  // namespace horizons::testkit
