#include "commands.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

int main(int argc, char** argv) {
  CLI::App app{"horizons: the Cosmic Horizons event backbone"};
  app.require_subcommand(1);
  // Logs go to stderr: stdout carries the commands' output (events, reports, JSON).
  spdlog::set_default_logger(spdlog::stderr_color_mt("horizons"));
  spdlog::set_level(spdlog::level::warn);
  app.add_option_function<std::string>(
         "--log-level", [](const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); },
         "Log level of the library and librdkafka: trace, debug, info, warn (default), err, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "err", "off"}));
  int result = horizons::cli::exit_ok;
  horizons::cli::add_commands(app, result);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : horizons::cli::exit_usage;
  }
  return result;
}
