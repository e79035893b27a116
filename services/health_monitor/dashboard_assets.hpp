// The dashboard's files (services/health_monitor/dashboard/), embedded into the
// binary at build time by embed_assets.cmake: the page works with no network
// and no files beside the binary.
//
//   for (const auto& asset : dashboard_assets()) serve(asset.path, asset.content_type, asset.body);
//   // "/index.html" "text/html; charset=utf-8", "/dashboard.js" ..., "/dashboard.css" ...
//
// Threads: constant data; any thread.
#pragma once

#include <span>
#include <string_view>

namespace horizons::health_monitor {

struct dashboard_asset {
  std::string_view path;          // "/index.html", "/dashboard.js", "/dashboard.css"
  std::string_view content_type;  // with charset
  std::string_view body;
};

/// Every embedded file (generated in the build tree).
[[nodiscard]] std::span<const dashboard_asset> dashboard_assets();

}  // namespace horizons::health_monitor
