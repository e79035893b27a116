// Helpers shared by the services/common tests: a scratch directory removed at
// the end of a test, and a row count read through a connection of its own (as
// another process would see the file).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include <horizons/uuid.hpp>

#include "services/common/sqlite.hpp"

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

/// `SELECT count(*) FROM <from>` on a fresh connection; -1 (and a test failure) if it cannot be read.
inline std::int64_t count_rows(const std::filesystem::path& database, const std::string& from) {
  auto db = sqlite::database::open(database);
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

}  // namespace horizons::services::testing_common
