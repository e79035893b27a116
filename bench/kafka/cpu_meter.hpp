// CPU accounting for the bench: the clients' CPU time without the embedded cluster's threads (the mock
// brokers run in the same process), plus what the report says about the machine.
//
//   cpu_meter meter;
//   meter.exclude(threads_started_by_the_cluster);
//   auto before = meter.client_ns();  ...  auto spent = meter.client_ns() - before;
//
// Reads /proc/self (Linux only). Any thread may call; exclude() before others read.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include <time.h>

namespace horizons::kafka_bench {

/// Nanoseconds of `clock` (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID, ...).
[[nodiscard]] std::int64_t cpu_clock_ns(clockid_t clock);

/// The ids of this process's threads now.
[[nodiscard]] std::set<int> thread_ids();

class cpu_meter {
 public:
  void exclude(std::set<int> ids) { excluded_ = std::move(ids); }
  /// The process's CPU time minus the excluded threads'.
  [[nodiscard]] std::int64_t client_ns() const;

 private:
  std::set<int> excluded_;
};

/// The 1-minute load average: other work on the machine shows in every figure, so the report names it.
[[nodiscard]] double load_average();

/// /proc/cpuinfo's model name, or "unknown".
[[nodiscard]] std::string cpu_model();

}  // namespace horizons::kafka_bench
