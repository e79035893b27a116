#include "services/health_monitor/snapshot.hpp"

namespace horizons::health_monitor {

std::string_view status_name(overall_status status) {
  switch (status) {
    case overall_status::ok: return "ok";
    case overall_status::degraded: return "degraded";
    case overall_status::down: return "down";
  }
  return "down";
}

std::string_view status_name(health_status status) {
  switch (status) {
    case health_status::healthy: return "healthy";
    case health_status::degraded: return "degraded";
    case health_status::down: return "down";
    case health_status::unknown: return "unknown";
  }
  return "unknown";
}

}  // namespace horizons::health_monitor
