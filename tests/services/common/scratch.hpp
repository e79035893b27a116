// Helpers shared by the services tests: a scratch directory removed at the end
// of a test, the database a test uses (a SQLite file, or a PostgreSQL schema
// in the `postgres` runs), a row count read through a connection of its own
// (as another process would see it), and the events a state store's outbox holds.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <horizons/codec.hpp>
#include <horizons/uuid.hpp>

#include "services/common/sql/sql.hpp"
#include "services/common/state_store.hpp"

namespace horizons::services::testing_common {

class scratch_dir {
 public:
  scratch_dir()
      : path_(std::filesystem::temp_directory_path() / ("horizons-common-test-" + uuid::random().to_string())) {}
  ~scratch_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// The database a test keeps at `sqlite_file`: that file, or, when HORIZONS_TEST_POSTGRES_URL names a
/// server (the `postgres` runs of a test binary, tests/CMakeLists.txt), a schema of its own there whose
/// name follows from the file's path (a scratch directory is unique, so the schema is new).
inline sql::location test_database(const std::filesystem::path& sqlite_file) {
  const char* url = std::getenv("HORIZONS_TEST_POSTGRES_URL");
  if (!url || !*url) return sql::location(sqlite_file);
  return sql::location::postgresql(url, fmt::format("t{:016x}", std::hash<std::string>{}(sqlite_file.string())));
}

/// `SELECT count(*) FROM <from>` on a fresh connection to test_database(database); -1 (and a test
/// failure) if it cannot be read.
inline std::int64_t count_rows(const std::filesystem::path& database, const std::string& from) {
  auto db = sql::database::open(test_database(database));
  if (!db) {
    ADD_FAILURE() << db.error().message;
    return -1;
  }
  auto count = db->prepare("SELECT count(*) FROM " + from);
  if (!count) {
    ADD_FAILURE() << count.error().message;
    return -1;
  }
  auto n = count->single_int();
  if (!n) {
    ADD_FAILURE() << n.error().message;
    return -1;
  }
  return n->value_or(-1);
}

/// The events `store`'s outbox holds (emitted, not yet published), decoded, in emit order; a test failure for
/// one that does not decode.
inline std::vector<any_event> emitted(state_store& store) {
  std::vector<any_event> events;
  auto pending = store.pending();
  if (!pending) {
    ADD_FAILURE() << pending.error();
    return events;
  }
  for (const auto& framed : *pending) {
    auto decoded = decode_framed(framed);
    if (!decoded) {
      ADD_FAILURE() << "an outbox row does not decode: " << decoded.error().message;
      continue;
    }
    events.push_back(std::move(*decoded));
  }
  return events;
}

/// The payloads of type P among `events`, with their envelopes.
template <class P>
std::vector<event<P>> payloads_of(const std::vector<any_event>& events) {
  std::vector<event<P>> found;
  for (const auto& e : events) {
    const auto* topic_event = std::get_if<topic_event_of<P>>(&e);
    if (!topic_event) continue;
    if (const auto* p = std::get_if<P>(&topic_event->payload)) {
      event<P> typed;
      static_cast<envelope&>(typed) = static_cast<const envelope&>(*topic_event);
      typed.payload = *p;
      found.push_back(std::move(typed));
    }
  }
  return found;
}

}  // namespace horizons::services::testing_common
