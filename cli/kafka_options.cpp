#include "kafka_options.hpp"

#include <csignal>
#include <mutex>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

namespace horizons::cli {

void add_kafka_options(CLI::App* command, const std::shared_ptr<kafka_options>& options) {
  command->add_option("--config", options->config_file, "Config file of NAME=value lines (KAFKA_* names)")
      ->check(CLI::ExistingFile)
      ->group("Kafka connection");
  for (const auto& setting : config_settings()) {
    if (setting.flag.empty()) continue;
    auto name = std::string(setting.name);
    command
        ->add_option_function<std::string>(
            "--" + std::string(setting.flag),
            [options, name](const std::string& value) { options->flags[name] = value; },
            fmt::format("{} [{}]", setting.help, setting.name))
        ->group("Kafka connection");
  }
  command->add_option("-X", options->rdkafka_properties, "librdkafka property=value (repeatable)")
      ->group("Kafka connection");
}

std::expected<client_config, std::string> resolve_config(const kafka_options& options, bool require_brokers) {
  config_sources sources;
  sources.environment = process_environment();
  if (!options.config_file.empty()) sources.file = options.config_file;
  sources.flags = options.flags;
  for (const auto& setting : config_settings()) {
    if (!setting.flag.empty()) sources.flag_names[std::string(setting.name)] = "--" + std::string(setting.flag);
  }
  for (const auto& property : options.rdkafka_properties) {
    auto eq = property.find('=');
    if (eq == std::string::npos || eq == 0) {
      return std::unexpected(fmt::format("-X {}: expected property=value", property));
    }
    sources.flags[property.substr(0, eq)] = property.substr(eq + 1);
  }
  auto config = load_config(sources);
  if (!config) return std::unexpected(config.error().message);
  if (require_brokers && config->brokers.empty()) {
    return std::unexpected(
        "no Kafka brokers: set KAFKA_BROKERS or --brokers (start a local cluster with `horizons up`)");
  }
  return *config;
}

std::stop_token stop_on_signals() {
  static std::stop_source source;
  static std::once_flag once;
  std::call_once(once, [] {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::thread([signals] {
      int received = 0;
      sigwait(&signals, &received);
      source.request_stop();
      sigwait(&signals, &received);
      std::_Exit(128 + received);
    }).detach();
  });
  return source.get_token();
}

}  // namespace horizons::cli
