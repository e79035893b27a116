// Fixed-rate pacing and the e2e latency sink (see pacing.hpp).
#include "pacing.hpp"

namespace horizons::kafka_bench {

using namespace std::chrono_literals;

pace_plan pace_plan::starting_now(int rate, std::chrono::duration<double> duration) {
  auto warmup = static_cast<std::uint64_t>(rate * std::chrono::duration<double>(e2e_warmup).count());
  return {.rate = rate,
          .warmup_events = warmup,
          .total_events = warmup + static_cast<std::uint64_t>(rate * duration.count()),
          .start_steady = steady::now(),
          .start_time = now()};
}

latency_sink::latency_sink(int rate, double duration_s) {
  samples.reserve(static_cast<std::size_t>(rate * duration_s) + 1'024);
}

void latency_sink::measure_from(const pace_plan& plan) {
  measured_from_us.store(plan.measured_from().time_since_epoch().count(), std::memory_order_release);
}

void latency_sink::await(std::uint64_t expected, std::chrono::milliseconds patience, std::stop_token stop) const {
  auto last = received.load();
  auto quiet_since = steady::now();
  while (received.load() < expected && steady::now() - quiet_since < patience && !stop.stop_requested()) {
    std::this_thread::sleep_for(10ms);
    if (auto now_received = received.load(); now_received != last) {
      last = now_received;
      quiet_since = steady::now();
    }
  }
}

side_result latency_sink::result(const pace_plan& plan, const bench_context& ctx) {
  std::ranges::sort(samples);
  side_result r{.events = samples.size(), .sent = plan.measured_events()};
  r.seconds = static_cast<double>(plan.measured_events()) / plan.rate;
  r.events_per_s = static_cast<double>(r.events) / r.seconds;
  r.mb_per_s = ctx.megabytes(r.events) / r.seconds;
  r.latencies_us = std::move(samples);
  return r;
}

}  // namespace horizons::kafka_bench
