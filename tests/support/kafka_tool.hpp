// The real cluster of the `kafka` suites, as tools/kafka/kafka.sh knows it in
// this environment: KAFKA_VERSION, KAFKA_PORT_BASE and KAFKA_RUN_DIR choose the
// cluster, so tests ask the tool for addresses and certificates instead of
// repeating its ports. HORIZONS_KAFKA_TOOL is the script's path (CMake).
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

namespace testing_support {

/// Runs `kafka.sh <command>` quietly (kill 2, start 2, ...); its exit status.
inline int kafka_tool(const std::string& command) {
  return std::system((std::string(HORIZONS_KAFKA_TOOL) + " " + command + " >/dev/null 2>&1").c_str());
}

/// The first line `kafka.sh <command>` prints (bootstrap, ssl-bootstrap, tls-dir, ...), asked once.
inline const std::string& kafka_tool_says(const std::string& command) {
  static std::map<std::string, std::string> answers;
  auto [it, asked_now] = answers.try_emplace(command);
  if (asked_now) {
    std::unique_ptr<FILE, int (*)(FILE*)> out(popen((std::string(HORIZONS_KAFKA_TOOL) + " " + command).c_str(), "r"),
                                              pclose);
    char line[1024] = {};
    if (out && std::fgets(line, sizeof line, out.get())) it->second = line;
    while (!it->second.empty() && (it->second.back() == '\n' || it->second.back() == '\r')) it->second.pop_back();
  }
  EXPECT_FALSE(it->second.empty()) << "kafka.sh " << command << " printed nothing";
  return it->second;
}

/// The plaintext bootstrap list of the cluster.
inline const std::string& kafka_brokers() { return kafka_tool_says("bootstrap"); }

}  // namespace testing_support
