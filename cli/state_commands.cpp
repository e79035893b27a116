// horizons state migrate: create or migrate every service's tables without running the services.
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "services/common/state_store.hpp"
#include "services/platform/registry.hpp"
#include "state_option.hpp"

namespace horizons::cli {

void add_state_commands(CLI::App& app, int& result) {
  auto* state = app.add_subcommand("state", "The services' state databases");
  state->require_subcommand(1);
  auto* migrate = state->add_subcommand(
      "migrate", "Create or migrate every service's tables, as each service does when it starts, and exit");
  auto url = std::make_shared<std::string>();
  auto data_dir = std::make_shared<std::string>("horizons-data");
  add_state_option(migrate, *url);
  migrate->add_option("--data-dir", *data_dir, "The SQLite state directory, without --state")->capture_default_str();
  migrate->footer(
      "Examples:\n"
      "  horizons state migrate --state postgresql://horizons@db.example:5432/horizons\n"
      "  HORIZONS_STATE_URL=postgresql://horizons@127.0.0.1:15432/horizons horizons state migrate\n"
      "Services migrate on start too; run this before starting a new version on several hosts at once, or to\n"
      "check a database. A database written by a newer horizons is refused (exit 1).");
  migrate->callback([&result, url, data_dir] {
    auto root = state_root(*url);
    if (!root) {
      result = fail("state migrate", root.error(), exit_usage);
      return;
    }
    auto where = root->value_or(sql::location(std::filesystem::path(*data_dir)));
    auto done = platform::migrate_state(where, [&](std::string_view service) {
      fmt::print("{:<24} up to date in {}\n", service, services::state_location(where, service).to_string());
    });
    if (!done) {
      result = fail("state migrate", done.error());
      return;
    }
    result = exit_ok;
  });
}

}  // namespace horizons::cli
