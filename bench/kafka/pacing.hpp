// Fixed-rate sending and latency recording for the e2e scenario, without coordinated omission.
//
//   auto plan = pace_plan::starting_now(10'000, 5s);          // 1 s of warm-up, then 5 s measured
//   latency_sink sink(10'000, 5);
//   sink.measure_from(plan);
//   receiver thread:  sink.record(due_time_of(record), now());
//   auto ok = pace(plan, sent, stop, [&](std::uint64_t k, timestamp due) { return send(k, due); });
//   sink.await(plan.measured_events(), 5s, stop);
//   auto result = sink.result(plan, ctx);
//
// Event k is due at start + k / rate; whatever is due is sent at once, so a late sender catches up and
// the delay it caused stays in the latencies measured from the due times. pace() runs on the sending
// thread; latency_sink::record() on one receiving thread, the rest anywhere.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <limits>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <horizons/timestamp.hpp>

#include "context.hpp"

namespace horizons::kafka_bench {

struct pace_plan {
  int rate = 0;
  std::uint64_t warmup_events = 0;
  std::uint64_t total_events = 0;
  steady::time_point start_steady{};
  timestamp start_time{};

  static pace_plan starting_now(int rate, std::chrono::duration<double> duration);
  [[nodiscard]] timestamp due(std::uint64_t k) const {
    return start_time +
           std::chrono::microseconds(static_cast<std::int64_t>(k * 1'000'000 / static_cast<std::uint64_t>(rate)));
  }
  [[nodiscard]] timestamp measured_from() const { return due(warmup_events); }
  [[nodiscard]] std::uint64_t measured_events() const { return total_events - warmup_events; }
};

/// Sends plan.total_events events at the plan's rate: send(k, due) -> std::expected<void, std::string>.
/// Blocks until every event was handed to `send`, `send` failed, or `stop` was requested.
template <class Send>
std::expected<void, std::string> pace(const pace_plan& plan, std::atomic<std::uint64_t>& sent, std::stop_token stop,
                                      Send send) {
  auto rate = static_cast<std::uint64_t>(plan.rate);
  for (std::uint64_t k = 0; k < plan.total_events;) {
    if (stop.stop_requested()) return std::unexpected("interrupted");
    auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now() - plan.start_steady).count();
    auto due_now = std::min(plan.total_events, static_cast<std::uint64_t>(elapsed) * rate / 1'000'000'000 + 1);
    for (; k < due_now; ++k) {
      if (auto ok = send(k, plan.due(k)); !ok) return ok;
      sent.store(k + 1, std::memory_order_relaxed);
    }
    if (k < plan.total_events) {
      std::this_thread::sleep_until(plan.start_steady +
                                    std::chrono::nanoseconds(static_cast<std::int64_t>(k * 1'000'000'000 / rate)));
    }
  }
  return {};
}

/// A receiver's measured latencies, reserved up front so that recording never allocates. Records due
/// before measure_from() was called (warm-up) are not counted. record() on one thread only.
struct latency_sink {
  std::vector<std::int64_t> samples;
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::int64_t> measured_from_us{std::numeric_limits<std::int64_t>::max()};

  latency_sink(int rate, double duration_s);
  void measure_from(const pace_plan& plan);
  void record(timestamp due, timestamp arrived) {
    if (due.time_since_epoch().count() < measured_from_us.load(std::memory_order_acquire)) return;
    samples.push_back((arrived - due).count());
    received.fetch_add(1, std::memory_order_relaxed);
  }
  /// Waits until every measured record arrived, or `patience` passed without one arriving.
  void await(std::uint64_t expected, std::chrono::milliseconds patience, std::stop_token stop) const;
  /// The sorted latencies and the rates; call once the receiver stopped.
  side_result result(const pace_plan& plan, const bench_context& ctx);
};

}  // namespace horizons::kafka_bench
