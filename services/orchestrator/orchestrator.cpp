#include "services/orchestrator/orchestrator.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>

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

}  // namespace

std::expected<void, std::string> run(const options& opts, std::stop_token stop) {
  if (auto ok = opts.sim.check(); !ok) return std::unexpected(fmt::format("{}: {}", descriptor.name, ok.error()));
  auto host = services::service_host::start(descriptor, opts.service);
  if (!host) return std::unexpected(host.error());
  engine jobs(opts.sim, (*host)->store());
  if (auto ok = jobs.prepare(); !ok) return std::unexpected(ok.error());
  job_gauges gauges(jobs.jobs());

  auto made = (*host)->subscribe();
  if (!made) return std::unexpected(made.error());
  auto& submissions = **made;
  submissions.on<job_submitted>([&](const envelope& meta, const job_submitted& job,
                                    const message_context&) -> handler_result { return jobs.admit(meta, job); });

  std::unique_ptr<http_api> api;
  if (!opts.http_listen.empty()) {
    auto started = http_api::start(
        {.listen = opts.http_listen, .config = opts.service.config, .database = (*host)->store().where()});
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
