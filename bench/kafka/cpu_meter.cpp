// The clients' CPU from /proc: per-thread schedstat for the threads to leave out, the process clock
// for the rest.
#include "cpu_meter.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <fmt/format.h>

namespace horizons::kafka_bench {

namespace {

// Nanoseconds a thread has run (schedstat's first field, the same clock as CLOCK_PROCESS_CPUTIME_ID).
std::int64_t thread_cpu_ns(int id) {
  std::ifstream schedstat(fmt::format("/proc/self/task/{}/schedstat", id));
  std::int64_t ns = 0;
  schedstat >> ns;
  return ns;
}

}  // namespace

std::int64_t cpu_clock_ns(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

std::set<int> thread_ids() {
  std::set<int> ids;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task", ignored)) {
    int id = 0;
    auto name = entry.path().filename().string();
    if (std::from_chars(name.data(), name.data() + name.size(), id).ec == std::errc{}) ids.insert(id);
  }
  return ids;
}

std::int64_t cpu_meter::client_ns() const {
  auto ns = cpu_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  for (int id : excluded_) ns -= thread_cpu_ns(id);
  return ns;
}

double load_average() {
  std::ifstream loadavg("/proc/loadavg");
  double one_minute = -1;
  loadavg >> one_minute;
  return one_minute;
}

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.starts_with("model name")) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

}  // namespace horizons::kafka_bench
