// A PostgreSQL database of its own for one test, on the server the `postgres`
// fixture starts (tests/CMakeLists.txt sets HORIZONS_TEST_POSTGRES_URL for the
// tests it runs against it).
//
//   auto url = testing_support::postgres_database("scale_out");   // nullopt: not a postgres run
//   if (url) args.insert(args.end(), {"--state", *url});
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "services/common/sql/sql.hpp"

namespace testing_support {

/// Creates (dropping an older one) a database named after `purpose` and this process, and returns its
/// URL; nullopt when HORIZONS_TEST_POSTGRES_URL is not set. A failure to create it fails the test.
inline std::optional<std::string> postgres_database(const std::string& purpose) {
  const char* server = std::getenv("HORIZONS_TEST_POSTGRES_URL");
  if (!server || !*server) return std::nullopt;
  // Short and plain: PostgreSQL truncates names past 63 bytes.
  auto name = fmt::format("t_{}_{:08x}", ::getpid(), std::hash<std::string>{}(purpose)&0xffffffffu);
  auto admin = horizons::sql::database::open(horizons::sql::location::postgresql(server));
  if (!admin) {
    ADD_FAILURE() << admin.error().message;
    return std::nullopt;
  }
  if (auto dropped = admin->exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)); !dropped) {
    ADD_FAILURE() << dropped.error().message;
  }
  if (auto made = admin->exec("CREATE DATABASE " + name); !made) {
    ADD_FAILURE() << made.error().message;
    return std::nullopt;
  }
  std::string url = server;
  return url.substr(0, url.rfind('/') + 1) + name;
}

}  // namespace testing_support
