#include "services/orchestrator/batch_job.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace horizons::orchestrator {
namespace {

std::string lowercase(std::string_view s) {
  std::string lowered(s);
  std::ranges::transform(lowered, lowered.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lowered;
}

std::expected<std::string, std::string> read_template(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::unexpected(fmt::format("no pipeline script {}", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The measurement fields of job.metrics.recorded a script may write.
struct measurement {
  std::string_view key;
  double job_metrics_recorded::*field;
};
constexpr std::array<measurement, 11> measurements{{
    {"cpu_pct", &job_metrics_recorded::cpu_pct},
    {"gpu_pct", &job_metrics_recorded::gpu_pct},
    {"gpu_memory_gb", &job_metrics_recorded::gpu_memory_gb},
    {"memory_gb", &job_metrics_recorded::memory_gb},
    {"network_in_mb_per_s", &job_metrics_recorded::network_in_mb_per_s},
    {"network_out_mb_per_s", &job_metrics_recorded::network_out_mb_per_s},
    {"disk_read_iops", &job_metrics_recorded::disk_read_iops},
    {"disk_write_iops", &job_metrics_recorded::disk_write_iops},
    {"disk_read_mb_per_s", &job_metrics_recorded::disk_read_mb_per_s},
    {"disk_write_mb_per_s", &job_metrics_recorded::disk_write_mb_per_s},
    {"interval_s", nullptr},
}};

constexpr std::string_view metrics_prefix = "horizons-metrics ";

}  // namespace

std::string batch_comment(const std::string& job_id, int attempt) {
  return fmt::format("horizons:{}:attempt-{}", job_id, attempt);
}

std::filesystem::path batch_output(const batch_settings& settings, const std::string& job_id, int attempt) {
  return settings.jobs_dir / job_id / fmt::format("attempt-{}.out", attempt);
}

std::expected<batch_request, std::string> batch_request_for(const batch_settings& settings, const job_submitted& job,
                                                            int attempt) {
  auto prelude = read_template(settings.pipelines_dir / "prelude.sh");
  if (!prelude) return std::unexpected(prelude.error());
  auto pipeline_name = lowercase(to_string(job.pipeline));
  auto body = read_template(settings.pipelines_dir / (pipeline_name + ".sh"));
  if (!body) return std::unexpected(body.error());
  auto workdir = settings.jobs_dir / job.job_id;
  std::error_code error;
  std::filesystem::create_directories(workdir, error);
  if (error) return std::unexpected(fmt::format("cannot create {}: {}", workdir.string(), error.message()));

  const auto& r = job.resources;
  batch_request request{
      .name = job.job_id,
      .comment = batch_comment(job.job_id, attempt),
      .partition = {},
      .nodes = std::max(1, r.nodes),
      .tasks_per_node = 1,
      .cpus_per_task = std::max(1, r.cores_per_node),
      .gpus = std::max(0, r.gpus),
      .memory_mb = static_cast<std::int64_t>(std::max(0, r.memory_gb)) * 1024,
      .time_minutes = std::max(1, r.wall_time_minutes),
      .workdir = workdir,
      .output = batch_output(settings, job.job_id, attempt),
      .environment = {{"HORIZONS_JOB_ID", job.job_id},
                      {"HORIZONS_ATTEMPT", std::to_string(attempt)},
                      {"HORIZONS_PIPELINE", pipeline_name},
                      {"HORIZONS_DATASET_ID", job.dataset_id},
                      {"HORIZONS_OUTPUT_DIR", workdir.string()},
                      {"HORIZONS_SAMPLE_SECONDS", std::to_string(std::max(1, settings.script_sample_seconds))}},
      .script = "#!/bin/bash\n" + *prelude + "\n" + *body,
  };
  if (auto p = settings.partitions.find(job.tacc_system); p != settings.partitions.end()) request.partition = p->second;
  return request;
}

std::optional<job_metrics_recorded> metrics_from_output(const std::filesystem::path& output, const std::string& job_id,
                                                        timestamp at) {
  std::ifstream in(output);
  if (!in) return std::nullopt;
  job_metrics_recorded sample{.job_id = job_id, .sampled_at = at};
  bool any = false;
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(metrics_prefix)) continue;
    std::istringstream words(line.substr(metrics_prefix.size()));
    for (std::string word; words >> word;) {
      auto eq = word.find('=');
      if (eq == std::string::npos) continue;
      auto key = std::string_view(word).substr(0, eq);
      auto text = std::string_view(word).substr(eq + 1);
      double value = 0;
      auto [end, parse_error] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (parse_error != std::errc{} || end != text.data() + text.size() || !(value >= 0)) continue;
      for (const auto& m : measurements) {
        if (m.key != key) continue;
        if (m.field) {
          sample.*m.field = value;
        } else {
          sample.interval_ms = static_cast<std::int64_t>(value * 1000);
        }
        any = true;
      }
    }
  }
  if (!any) return std::nullopt;
  return sample;
}

}  // namespace horizons::orchestrator
