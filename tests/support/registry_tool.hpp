// The independent schema registry of the `registry` suites, as tools/registry/registry.sh knows it
// (REGISTRY_PORT chooses it): tests ask the tool for its URL instead of repeating its port.
// HORIZONS_REGISTRY_TOOL is the script's path (CMake).
#pragma once

#include <cstdio>
#include <memory>
#include <string>

namespace testing_support {

/// The Confluent-compatible URL `registry.sh url` prints; empty if it printed nothing.
inline std::string registry_url() {
  std::unique_ptr<FILE, int (*)(FILE*)> out(popen(HORIZONS_REGISTRY_TOOL " url", "r"), pclose);
  char line[512] = {};
  std::string url = out && std::fgets(line, sizeof line, out.get()) ? line : "";
  while (!url.empty() && (url.back() == '\n' || url.back() == '\r')) url.pop_back();
  return url;
}

}  // namespace testing_support
