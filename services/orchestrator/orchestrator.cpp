#include "services/orchestrator/orchestrator.hpp"

#include <spdlog/spdlog.h>

#include "services/orchestrator/engine.hpp"
#include "services/orchestrator/http_api.hpp"

namespace horizons::orchestrator {

std::expected<void, std::string> run(const options& opts, std::stop_token stop) {
  if (auto ok = opts.sim.check(); !ok) return std::unexpected(fmt::format("{}: {}", descriptor.name, ok.error()));
  auto host = services::service_host::start(descriptor, opts.service);
  if (!host) return std::unexpected(host.error());
  engine jobs(opts.sim, (*host)->store());
  if (auto ok = jobs.prepare(); !ok) return std::unexpected(ok.error());

  auto made = (*host)->subscribe();
  if (!made) return std::unexpected(made.error());
  auto& submissions = **made;
  submissions.on<job_submitted>([&](const envelope& meta, const job_submitted& job,
                                    const message_context&) -> handler_result { return jobs.admit(meta, job); });

  std::unique_ptr<http_api> api;
  if (!opts.http_listen.empty()) {
    auto started = http_api::start(
        {.listen = opts.http_listen, .config = opts.service.config, .database = (*host)->store().path()});
    if (!started) return std::unexpected(fmt::format("{}: {}", descriptor.name, started.error()));
    api = std::move(*started);
  }
  spdlog::info("{}: running (data in {})", descriptor.name, (*host)->store().path().string());
  return (*host)->run(
      submissions, stop, [&] { jobs.advance_due(); }, std::chrono::milliseconds(10));
}

}  // namespace horizons::orchestrator
