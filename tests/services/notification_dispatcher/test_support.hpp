// Shared by the notification dispatcher's tests: a scratch directory per test
// and source events built the way the orchestrator and health monitor build them.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <horizons/event_builder.hpp>

namespace horizons::notification_dispatcher::testing {

class temp_dir {
 public:
  temp_dir() {
    static std::atomic<int> counter{0};
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("horizons-notify-{}-{}-{}-{}", test->test_suite_name(), test->name(), ::getpid(), counter++);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// A valid source event of `payload` owned by `user` (no user_id when empty).
template <class Payload>
event<Payload> source_event(Payload payload, const std::string& user = "alice") {
  auto builder = make_event(std::move(payload));
  if (!user.empty()) builder.user_id(user);
  auto built = builder.build();
  EXPECT_TRUE(built.has_value()) << built.error().message;
  return *built;
}

}  // namespace horizons::notification_dispatcher::testing
