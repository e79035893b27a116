#include "platform_scenario.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <thread>

#include <fmt/format.h>

#include <horizons/uuid.hpp>

namespace horizons::kafka_bench {

namespace {

std::expected<platform::report, std::string> run_once(const client_config& config, int jobs, double rate,
                                                      std::stop_token stop) {
  auto data_dir = std::filesystem::temp_directory_path() /
                  fmt::format("horizons-bench-platform-{}", uuid::random().to_string().substr(0, 8));
  auto report = platform::run({.config = config, .data_dir = data_dir, .jobs = jobs, .submit_rate = rate}, stop);
  std::error_code ignored;
  std::filesystem::remove_all(data_dir, ignored);
  if (!report) return std::unexpected(report.error());
  if (!report->complete) return std::unexpected(fmt::format("platform run incomplete: {}", report->incomplete_reason));
  if (!report->ok()) {
    return std::unexpected(
        fmt::format("platform run not OK: lost {}, duplicated {}", report->lost, report->duplicated_effects));
  }
  return report;
}

}  // namespace

std::expected<platform::report, std::string> run_platform(const client_config& config,
                                                          const platform_workload& workload, std::stop_token stop) {
  if (!config.brokers.empty() && workload.warmup_jobs > 0) {
    fmt::print(stderr, "horizons bench: warm-up run of {} jobs (not measured)\n", workload.warmup_jobs);
    auto warmup = run_once(config, workload.warmup_jobs, workload.rate, stop);
    if (!warmup) return std::unexpected(fmt::format("warm-up run: {}", warmup.error()));
    // The measured run's reader starts a second before its own start: past the warm-up's last records.
    std::this_thread::sleep_for(std::chrono::milliseconds(1'100));
  }
  return run_once(config, workload.jobs, workload.rate, stop);
}

}  // namespace horizons::kafka_bench
