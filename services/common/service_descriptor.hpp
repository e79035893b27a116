// What a service is, stated once: its name, the consumer group it reads in,
// the topics it reads, the event types it handles and its HTTP routes.
//
//   namespace horizons::metrics_aggregator {
//   inline constexpr std::array<topic_id, 1> topics{topic_id::job_metrics};
//   inline constexpr services::service_descriptor descriptor{.name = "metrics-aggregator",
//                                                            .group = "metrics-aggregator",
//                                                            .topics = topics, ...};
//   }
//   auto host = services::service_host::start(metrics_aggregator::descriptor, options);
//   auto consumer = (*host)->subscribe();   // group, topics and client id from the descriptor
//
// Everything that needs a service's name or group reads it here: its data
// folder (<data_dir>/<name>), its client id, `horizons serve <name>`, the
// run's lag report and the health monitor's watched groups. The catalogue
// (include/horizons/catalogue.hpp) keeps each topic's default group; a
// descriptor states the group the service actually uses, which may differ
// (the notification dispatcher reads job-lifecycle in its own group).
//
// Descriptors are constants (string views and spans over static arrays):
// any thread may read them.
#pragma once

#include <span>
#include <string_view>

#include <horizons/events.hpp>

namespace horizons::services {

/// One HTTP route a service serves when given an address.
struct http_route {
  std::string_view method{};  // "GET", "POST"
  std::string_view path{};    // "/jobs/<job_id>"
  std::string_view what{};    // one line for people
};

struct service_descriptor {
  /// "metrics-aggregator": the data folder, the client id, the name `horizons serve` takes.
  std::string_view name{};
  /// The consumer group; empty: the service reads without a group (the health monitor).
  std::string_view group{};
  /// What it reads, in subscription order.
  std::span<const topic_id> topics{};
  /// The dotted event types it has handlers for (payload_traits<P>::event_type); each is on one of `topics`.
  std::span<const std::string_view> handles{};
  std::span<const http_route> routes{};
};

}  // namespace horizons::services
