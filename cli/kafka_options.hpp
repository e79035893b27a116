// Connection options shared by every command that talks to Kafka:
// --brokers, --config FILE, one flag per setting of config.hpp, and
// -X property=value for librdkafka. Resolved with the environment and the
// file into a client_config, flags winning.
#pragma once

#include <expected>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <horizons/config.hpp>

namespace horizons::cli {

struct kafka_options {
  std::string config_file;
  std::vector<std::string> rdkafka_properties;  // -X name=value
  std::map<std::string, std::string> flags;     // setting name -> value given on the command line
};

/// Adds the shared connection flags to `command`; values land in `options`.
void add_kafka_options(CLI::App* command, const std::shared_ptr<kafka_options>& options);

/// The effective configuration; an error message names the bad setting and its source.
/// Commands that need a cluster refuse an empty broker list with a hint.
[[nodiscard]] std::expected<client_config, std::string> resolve_config(const kafka_options& options,
                                                                       bool require_brokers);

/// Blocks SIGINT and SIGTERM in the calling thread (and threads it starts later) and returns a
/// token stopped when one arrives; a second signal ends the process at once. Call before
/// creating any Kafka client.
[[nodiscard]] std::stop_token stop_on_signals();

}  // namespace horizons::cli
