#include "services/orchestrator/scheduler.hpp"

#include <algorithm>
#include <random>

#include <fmt/format.h>

namespace horizons::orchestrator {
namespace {

// FNV-1a: a stable hash of the job id (std::hash may differ between builds).
std::uint64_t stable_hash(std::string_view text, std::uint64_t salt) {
  std::uint64_t h = 14695981039346656037ull ^ salt;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

struct failure_kind {
  std::string_view code;
  std::string_view message;
  int exit_code;
};
constexpr std::array<failure_kind, 4> failure_kinds{{
    {"NODE_FAILURE", "a compute node stopped responding", 137},
    {"OUT_OF_MEMORY", "the job exceeded its memory request", 137},
    {"WALLTIME_EXCEEDED", "the job ran past its wall-time limit", 143},
    {"IO_ERROR", "reading the dataset from the shared file system failed", 5},
}};

}  // namespace

const system_profile& simulation::profile(tacc_system system) const {
  for (const auto& p : systems) {
    if (p.system == system) return p;
  }
  return systems.front();  // "other" systems behave like the first
}

std::chrono::microseconds simulation::real(sim_duration simulated) const {
  return std::chrono::microseconds(static_cast<std::int64_t>(simulated.count() / time_scale * 1e6));
}

std::expected<void, std::string> simulation::check() const {
  if (!(time_scale > 0)) return std::unexpected(fmt::format("time scale must be > 0, got {}", time_scale));
  if (max_retries < 0 || max_retries > 20)
    return std::unexpected(fmt::format("max retries must be in 0..20, got {}", max_retries));
  if (cancel_rate < 0 || cancel_rate > 1)
    return std::unexpected(fmt::format("cancel rate must be in 0..1, got {}", cancel_rate));
  if (!(sample_interval.count() > 0)) return std::unexpected("sample interval must be > 0");
  for (const auto& p : systems) {
    if (p.failure_rate < 0 || p.failure_rate > 1) {
      return std::unexpected(
          fmt::format("{} failure rate must be in 0..1, got {}", to_string(p.system), p.failure_rate));
    }
    if (p.queue_wait_mean.count() < 0 || !(p.run_time_mean.count() > 0)) {
      return std::unexpected(fmt::format("{}: queue wait must be >= 0 and run time > 0", to_string(p.system)));
    }
  }
  return {};
}

job_plan plan_job(const simulation& sim, const job_submitted& job) {
  std::mt19937_64 rng(stable_hash(job.job_id, sim.seed));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto& profile = sim.profile(job.tacc_system);

  job_plan plan;
  if (unit(rng) < sim.cancel_rate) {
    plan.cancel = unit(rng) < 0.3 ? cancel_point::while_submitted : cancel_point::while_queued;
    plan.cancel_fraction = 0.1 + 0.8 * unit(rng);
  }
  std::exponential_distribution<double> wait(1.0 / std::max(1.0, profile.queue_wait_mean.count()));
  // Bigger requests run longer: scale the profile's mean by the requested node count, gently.
  double size = 1.0 + 0.1 * std::log2(std::max(1, job.resources.nodes));
  std::lognormal_distribution<double> run(std::log(profile.run_time_mean.count() * size), 0.35);
  for (int attempt = 0; attempt <= sim.max_retries; ++attempt) {
    attempt_plan a{.queue_wait = sim_duration(wait(rng)), .run_time = sim_duration(run(rng))};
    if (unit(rng) < profile.failure_rate) {
      const auto& kind = failure_kinds[static_cast<std::size_t>(rng() % failure_kinds.size())];
      a.fails = true;
      a.run_time *= 0.1 + 0.8 * unit(rng);  // fails part way through
      a.error_code = std::string(kind.code);
      a.error_message = std::string(kind.message);
      a.exit_code = kind.exit_code;
    }
    plan.attempts.push_back(std::move(a));
    if (!plan.attempts.back().fails) break;
  }
  return plan;
}

job_metrics_recorded sample_metrics(const simulation& sim, const job_submitted& job, int attempt, int index,
                                    timestamp at) {
  std::mt19937_64 rng(stable_hash(
      job.job_id, sim.seed ^ (static_cast<std::uint64_t>(attempt) << 32) ^ static_cast<std::uint64_t>(index)));
  std::normal_distribution<double> noise(0.0, 1.0);
  auto around = [&](double mean, double spread, double lo, double hi) {
    return std::clamp(mean + spread * noise(rng), lo, hi);
  };
  // Each pipeline's shape: AlphaCal is CPU-bound, imaging is GPU-bound, anomaly detection mixes both.
  double cpu = 70, gpu = 10;
  if (job.pipeline == pipeline::image_reconstruction) cpu = 45, gpu = 85;
  if (job.pipeline == pipeline::anomaly_detection) cpu = 60, gpu = 55;
  double nodes = std::max(1, job.resources.nodes);
  double gpus = std::max(0, job.resources.gpus);
  double memory = std::max(1, job.resources.memory_gb);
  return {
      .job_id = job.job_id,
      .sampled_at = at,
      .interval_ms = static_cast<std::int64_t>(sim.sample_interval.count() * 1000),
      .cpu_pct = around(cpu, 8, 0, 100),
      .gpu_pct = gpus > 0 ? around(gpu, 8, 0, 100) : 0.0,
      .gpu_memory_gb = gpus > 0 ? around(gpus * 20, gpus * 4, 0, gpus * 80) : 0.0,
      .memory_gb = around(memory * 0.6, memory * 0.1, 0, memory),
      .network_in_mb_per_s = around(120 * nodes, 30 * nodes, 0, 1e6),
      .network_out_mb_per_s = around(40 * nodes, 10 * nodes, 0, 1e6),
      .disk_read_iops = around(2'000 * nodes, 400 * nodes, 0, 1e9),
      .disk_write_iops = around(800 * nodes, 200 * nodes, 0, 1e9),
      .disk_read_mb_per_s = around(300 * nodes, 60 * nodes, 0, 1e6),
      .disk_write_mb_per_s = around(100 * nodes, 25 * nodes, 0, 1e6),
  };
}

}  // namespace horizons::orchestrator
