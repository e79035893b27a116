// The `horizons` command: each command group registers its subcommands on
// the CLI11 app; main() only parses and runs.
#pragma once

#include <optional>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <horizons/tracing.hpp>

namespace horizons::cli {

/// Exit codes shared by every command.
enum exit_code : int {
  exit_ok = 0,
  exit_bad_input = 1,  // some input record or line was refused (each reported on stderr)
  exit_usage = 2,      // bad flags or arguments
};

/// Prints "horizons <command>: <message>" on stderr, one line, and returns `code`.
inline int fail(std::string_view command, std::string_view message, int code = exit_bad_input) {
  fmt::print(stderr, "horizons {}: {}\n", command, message);
  return code;
}

/// Starts tracing for a command that runs services or publishes (OTEL_* variables, tracing.hpp),
/// with `service` as the default service name. A variable that cannot be used fails the command
/// (exit_usage in `result`) and returns nullopt. When spans are exported, says where on stderr.
/// Call it after stop_on_signals(): the exporter's threads must inherit the blocked signals.
inline std::optional<tracing::session> start_tracing(std::string_view command, std::string_view service, int& result) {
  auto started = tracing::start(service);
  if (!started) {
    result = fail(command, started.error(), exit_usage);
    return std::nullopt;
  }
  if (started->active()) fmt::print(stderr, "horizons {}: {}\n", command, started->description());
  return std::move(*started);
}

/// Builds the whole command tree. Commands store their exit code in `result`.
void add_commands(CLI::App& app, int& result);

void add_events_commands(CLI::App& app, int& result);
void add_schemas_commands(CLI::App& app, int& result);
void add_kafka_commands(CLI::App& app, int& result);
void add_ops_commands(CLI::App& app, int& result);
void add_platform_commands(CLI::App& app, int& result);
void add_bench_commands(CLI::App& app, int& result);
void add_audit_commands(CLI::App& app, int& result);
void add_state_commands(CLI::App& app, int& result);
void add_token_commands(CLI::App& app, int& result);

}  // namespace horizons::cli
