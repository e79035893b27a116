// `--state URL` (or HORIZONS_STATE_URL): where the services keep their state.
// `horizons run`, `serve`, `audit` and `state` take it.
//
//   auto url = std::make_shared<std::string>();
//   add_state_option(command, *url);
//   auto root = state_root(*url);   // nullopt: SQLite files under --data-dir
#pragma once

#include <expected>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "services/common/sql/sql.hpp"

namespace horizons::cli {

inline CLI::Option* add_state_option(CLI::App* command, std::string& url) {
  return command
      ->add_option("--state", url,
                   "Where the services keep their state: postgresql://user@host:port/database (one database "
                   "for every instance on every host; each service gets a schema) or sqlite:///directory "
                   "(default: SQLite files under --data-dir)")
      ->envname("HORIZONS_STATE_URL");
}

/// The state root `url` names; nullopt for an empty one (SQLite under --data-dir). Errors say what a
/// URL must look like.
[[nodiscard]] inline std::expected<std::optional<sql::location>, std::string> state_root(const std::string& url) {
  if (url.empty()) return std::nullopt;
  auto parsed = sql::location::parse(url);
  if (!parsed) return std::unexpected(fmt::format("--state: {}", parsed.error().message));
  return *parsed;
}

}  // namespace horizons::cli
