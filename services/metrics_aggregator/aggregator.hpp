// The metrics aggregator: folds each job's `job.metrics.recorded` samples and,
// when the job's allocation is released (`resource.allocation.changed`,
// deallocated), publishes one `job.performance.summary` whose averages,
// maxima and totals are exactly the fold of the samples it received.
//
//   horizons::metrics_aggregator::options options{.service = {.config = config, .data_dir = "horizons-data"}};
//   auto done = horizons::metrics_aggregator::run(options, stop_token);
//
// Why the deallocation: samples and the allocation events of a job share the
// job-metrics topic and its key (job_id), so the deallocation arrives after
// every sample of the job; a lifecycle event on another topic could overtake
// them. Consumed in the group `metrics-aggregator`. The folds live in
// <data_dir>/metrics-aggregator/state.db and each sample is folded once
// (state_store::handle_once), so restarts and redeliveries never double count.
// The fold itself is fold.hpp.
#pragma once

#include <array>
#include <expected>
#include <stop_token>
#include <string>
#include <string_view>

#include "services/common/service_descriptor.hpp"
#include "services/common/service_host.hpp"

namespace horizons::metrics_aggregator {

namespace detail {
inline constexpr std::array topics{topic_id::job_metrics};
inline constexpr std::array handles{payload_traits<job_metrics_recorded>::event_type,
                                    payload_traits<resource_allocation_changed>::event_type};
}  // namespace detail

/// Reads job-metrics in the group `metrics-aggregator` (the topic's catalogue group).
inline constexpr services::service_descriptor descriptor{
    .name = "metrics-aggregator", .group = "metrics-aggregator", .topics = detail::topics, .handles = detail::handles};

struct options {
  services::service_options service{};
};

[[nodiscard]] std::expected<void, std::string> run(const options& opts, std::stop_token stop);

}  // namespace horizons::metrics_aggregator
