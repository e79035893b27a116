#include "platform_scenario.hpp"

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include <horizons/uuid.hpp>

namespace horizons::kafka_bench {

std::expected<platform::report, std::string> run_platform(const client_config& config,
                                                          const platform_workload& workload, std::stop_token stop) {
  auto data_dir = std::filesystem::temp_directory_path() /
                  fmt::format("horizons-bench-platform-{}", uuid::random().to_string().substr(0, 8));
  auto report = platform::run(
      {.config = config, .data_dir = data_dir, .jobs = workload.jobs, .submit_rate = workload.rate}, stop);
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

}  // namespace horizons::kafka_bench
