#include "services/metrics_aggregator/aggregator.hpp"

#include "services/metrics_aggregator/fold.hpp"

namespace horizons::metrics_aggregator {

std::expected<void, std::string> run(const options& opts, std::stop_token stop) {
  auto host = services::service_host::start(descriptor, opts.service);
  if (!host) return std::unexpected(host.error());
  job_folds folds((*host)->store());
  if (auto ok = folds.prepare(); !ok) return std::unexpected(ok.error());
  auto made = (*host)->subscribe();
  if (!made) return std::unexpected(made.error());
  auto& metrics = **made;
  metrics.on<job_metrics_recorded>(
      [&](const envelope& meta, const job_metrics_recorded& s, const message_context&) { return folds.fold(meta, s); });
  metrics.on<resource_allocation_changed>([&](const envelope& meta, const resource_allocation_changed& c,
                                              const message_context&) { return folds.released(meta, c); });
  return (*host)->run(metrics, stop);
}

}  // namespace horizons::metrics_aggregator
