// Every service of the platform, by its descriptor (services/common/service_descriptor.hpp).
//
//   for (const auto* service : horizons::services::platform_services) {
//     fmt::print("{} reads {} in group {}\n", service->name, service->topics.size(), service->group);
//   }
//
// The one list of the platform's services: `horizons serve`'s names, the
// services `horizons run` starts, the groups its lag report and the health
// monitor watch all come from it. A new service adds its descriptor here.
// `standalone_services` are served by `horizons serve` too, but read no
// catalogue topic and join no group: `horizons run` does not start them and
// nothing watches their lag.
// Header only (constants); any thread.
#pragma once

#include <array>

#include "services/common/service_descriptor.hpp"
#include "services/compliance_auditor/auditor.hpp"
#include "services/health_monitor/monitor.hpp"
#include "services/metrics_aggregator/aggregator.hpp"
#include "services/notification_dispatcher/dispatcher.hpp"
#include "services/orchestrator/orchestrator.hpp"
#include "services/schema_registry/service.hpp"

namespace horizons::services {

/// In start order: the orchestrator first, the health monitor last.
inline constexpr std::array<const service_descriptor*, 5> platform_services{
    &orchestrator::descriptor, &metrics_aggregator::descriptor, &notification_dispatcher::descriptor,
    &compliance::descriptor, &health_monitor::descriptor};

/// Services of their own (see above).
inline constexpr std::array<const service_descriptor*, 1> standalone_services{&schema_registry_service::descriptor};

}  // namespace horizons::services
