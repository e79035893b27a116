#include "services/orchestrator/orchestrator.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <optional>

#include <spdlog/spdlog.h>

#include <horizons/metrics.hpp>

#include "services/orchestrator/engine.hpp"
#include "services/orchestrator/http_api.hpp"

namespace horizons::orchestrator {
namespace {

// horizons_jobs{state}: the jobs table counted about once a second, on the service's thread.
class job_gauges {
 public:
  explicit job_gauges(job_store& jobs) : jobs_(jobs) {
    auto& family = prometheus::BuildGauge()
                       .Name("horizons_jobs")
                       .Help("The orchestrator's jobs by state (its own job table).")
                       .Register(metrics::registry());
    for (std::size_t s = 1; s < gauges_.size(); ++s) {  // every state but the reader-only UNKNOWN
      auto name = std::string(enum_traits<job_status>::symbols[s]);
      std::ranges::transform(name, name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      gauges_[s] = &family.Add({{"state", name}});
    }
  }

  void refresh() {
    auto now = std::chrono::steady_clock::now();
    if (now < next_) return;
    next_ = now + std::chrono::seconds(1);
    auto counts = jobs_.count_by_status();
    if (!counts) {
      spdlog::warn("{}: counting jobs: {}", descriptor.name, counts.error());
      return;
    }
    std::array<double, enum_traits<job_status>::symbols.size()> by_state{};
    for (auto [status, n] : *counts) by_state[static_cast<std::size_t>(status)] = static_cast<double>(n);
    for (std::size_t s = 1; s < gauges_.size(); ++s) gauges_[s]->Set(by_state[s]);
  }

 private:
  job_store& jobs_;
  std::array<prometheus::Gauge*, enum_traits<job_status>::symbols.size()> gauges_{};
  std::chrono::steady_clock::time_point next_{};
};

// The batch settings run() uses: defaults filled in, the pipelines checked; the system is set by the caller.
std::expected<batch_settings, std::string> batch_for(const options& opts) {
  auto batch = opts.scheduling.batch;
  if (batch.pipelines_dir.empty()) batch.pipelines_dir = default_pipelines_dir();
  if (batch.jobs_dir.empty()) batch.jobs_dir = opts.service.data_dir / descriptor.name / "jobs";
  if (!std::filesystem::exists(batch.pipelines_dir / "prelude.sh")) {
    return std::unexpected(fmt::format("{}: no pipeline scripts in {} (prelude.sh is missing)", descriptor.name,
                                       batch.pipelines_dir.string()));
  }
  std::error_code error;
  std::filesystem::create_directories(batch.jobs_dir, error);
  if (error)
    return std::unexpected(
        fmt::format("{}: cannot create {}: {}", descriptor.name, batch.jobs_dir.string(), error.message()));
  batch.jobs_dir = std::filesystem::absolute(batch.jobs_dir);
  return batch;
}

}  // namespace

std::expected<scheduler_kind, std::string> parse_scheduler(std::string_view name) {
  if (name == "simulation") return scheduler_kind::simulation;
  if (name == "slurm") return scheduler_kind::slurm;
  return std::unexpected(fmt::format("unknown scheduler '{}': expected simulation or slurm", name));
}

std::filesystem::path default_pipelines_dir() { return HORIZONS_PIPELINES_DIR; }

std::expected<void, std::string> run(const options& opts, std::stop_token stop) {
  if (auto ok = opts.sim.check(); !ok) return std::unexpected(fmt::format("{}: {}", descriptor.name, ok.error()));
  auto auth = opts.api_auth;
  if (!opts.http_listen.empty() && auth.key.empty()) {
    auto configured = services::token_keys::for_checking();
    if (!configured) return std::unexpected(fmt::format("{}: {}", descriptor.name, configured.error()));
    if (!*configured) {
      return std::unexpected(fmt::format(
          "{}: the job API (--http) needs a key to check bearer tokens: set HORIZONS_JWT_SECRET (HS256, 32 bytes "
          "or more) or HORIZONS_JWT_PUBLIC_KEY (RS256, a PEM file)",
          descriptor.name));
    }
    auth = **configured;
  }
  auto tls = opts.api_tls;
  if (!opts.http_listen.empty() && !tls) {
    auto configured = services::tls_files::from_environment();
    if (!configured) return std::unexpected(fmt::format("{}: {}", descriptor.name, configured.error()));
    tls = *configured;
  }
  std::optional<slurm_cli> slurm;
  batch_settings batch;
  if (opts.scheduling.kind == scheduler_kind::slurm) {
    auto settings = batch_for(opts);
    if (!settings) return std::unexpected(settings.error());
    batch = std::move(*settings);
    slurm.emplace(opts.scheduling.slurm);
    batch.system = &*slurm;
    // Not fatal: jobs wait, QUEUED, until the scheduler answers.
    auto name = slurm->name();
    if (name.find("unknown") != std::string::npos) {
      spdlog::error(
          "{}: Slurm's sbatch does not answer (is Slurm's client installed and SLURM_CONF set?); jobs "
          "wait QUEUED until it does",
          descriptor.name);
    }
    spdlog::info("{}: real jobs on {}: scripts from {}, output in {}", descriptor.name, name,
                 batch.pipelines_dir.string(), batch.jobs_dir.string());
  }
  auto host = services::service_host::start(descriptor, opts.service);
  if (!host) return std::unexpected(host.error());
  engine jobs(opts.sim, (*host)->store(), horizons::now, batch);
  if (auto ok = jobs.prepare(); !ok) return std::unexpected(ok.error());
  job_gauges gauges(jobs.jobs());

  auto made = (*host)->subscribe();
  if (!made) return std::unexpected(made.error());
  auto& submissions = **made;
  submissions.on<job_submitted>([&](const envelope& meta, const job_submitted& job,
                                    const message_context&) -> handler_result { return jobs.admit(meta, job); });

  std::unique_ptr<http_api> api;
  if (!opts.http_listen.empty()) {
    auto started = http_api::start({.listen = opts.http_listen,
                                    .config = opts.service.config,
                                    .database = (*host)->store().where(),
                                    .auth = auth,
                                    .tls = tls});
    if (!started) return std::unexpected(fmt::format("{}: {}", descriptor.name, started.error()));
    api = std::move(*started);
    spdlog::info("{}: job API and /metrics at {}", descriptor.name, api->url());
  }
  spdlog::info("{}: running (state in {})", descriptor.name, (*host)->store().where().to_string());
  return (*host)->run(
      submissions, stop,
      [&] {
        jobs.advance_due();
        gauges.refresh();
      },
      std::chrono::milliseconds(10));
}

}  // namespace horizons::orchestrator
