// The `horizons` command: each command group registers its subcommands on
// the CLI11 app; main() only parses and runs.
#pragma once

#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

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

/// Builds the whole command tree. Commands store their exit code in `result`.
void add_commands(CLI::App& app, int& result);

void add_events_commands(CLI::App& app, int& result);
void add_schemas_commands(CLI::App& app, int& result);
void add_kafka_commands(CLI::App& app, int& result);
void add_ops_commands(CLI::App& app, int& result);
void add_platform_commands(CLI::App& app, int& result);
void add_bench_commands(CLI::App& app, int& result);
void add_audit_commands(CLI::App& app, int& result);

}  // namespace horizons::cli
