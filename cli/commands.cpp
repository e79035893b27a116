#include "commands.hpp"

#include <horizons/catalogue.hpp>

#include <fmt/format.h>

namespace horizons::cli {

void add_commands(CLI::App& app, int& result) {
  add_events_commands(app, result);
  add_schemas_commands(app, result);
  add_kafka_commands(app, result);
  add_ops_commands(app, result);
  add_platform_commands(app, result);
  add_bench_commands(app, result);
  add_audit_commands(app, result);
  add_state_commands(app, result);
  add_token_commands(app, result);
}

}  // namespace horizons::cli
