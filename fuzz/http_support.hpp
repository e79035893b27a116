// What the HTTP route targets share: a scratch folder for a service's state, and the properties
// every answer must have.
//
//   static auto api = [] { horizons::fuzz::alarm_blocked b; return start(); }();   // once per run
//   horizons::fuzz::expect_sound_answer(api.listener().answer(request_bytes));
#pragma once

#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_support.hpp"

namespace horizons::fuzz {

/// A folder under the temporary directory, removed when the process exits normally.
inline const std::filesystem::path& scratch_folder() {
  static const std::filesystem::path folder = [] {
    std::string name = (std::filesystem::temp_directory_path() / "horizons-fuzz-XXXXXX").string();
    expect(mkdtemp(name.data()) != nullptr, "a scratch folder can be made");
    std::atexit([] { std::filesystem::remove_all(scratch_folder()); });
    return std::filesystem::path(name);
  }();
  return folder;
}

/// While alive, SIGALRM is blocked on this thread and on every thread it starts. libFuzzer checks
/// its -timeout with a SIGALRM each second; the embedded cluster's thread takes a poll() it
/// interrupts as fatal ("Mock cluster failed to poll ...: Interrupted system call") and stops
/// answering. Start the services under one, so that only the fuzzing thread takes the alarm.
class alarm_blocked {
 public:
  alarm_blocked() {
    sigset_t alarm;
    sigemptyset(&alarm);
    sigaddset(&alarm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alarm, &before_);
  }
  ~alarm_blocked() { pthread_sigmask(SIG_SETMASK, &before_, nullptr); }
  alarm_blocked(const alarm_blocked&) = delete;
  alarm_blocked& operator=(const alarm_blocked&) = delete;

 private:
  sigset_t before_{};
};

/// An answer is nothing (the request ended before its first line) or one HTTP/1.1 response whose
/// status is not 500 (httplib's answer to a handler that threw), and whose JSON body is JSON.
inline void expect_sound_answer(std::string_view raw) {
  if (raw.empty()) return;
  expect(raw.starts_with("HTTP/1.1 ") && raw.size() >= 12, "the answer is an HTTP/1.1 response");
  const auto status = raw.substr(9, 3);
  expect(status.find_first_not_of("0123456789") == std::string_view::npos && status[0] >= '1' && status[0] <= '5',
         "the status is a three-digit code");
  expect(status != "500", "no route throws (httplib answers 500 when one does)");
  const auto head_end = raw.find("\r\n\r\n");
  expect(head_end != std::string_view::npos, "the response head ends");
  const auto head = raw.substr(0, head_end);
  const auto body = raw.substr(head_end + 4);
  if (body.empty() || head.find("Transfer-Encoding: chunked") != std::string_view::npos) return;
  if (head.find("Content-Type: application/json") != std::string_view::npos ||
      head.find("Content-Type: application/vnd.schemaregistry.v1+json") != std::string_view::npos) {
    expect(nlohmann::json::accept(body), "a JSON answer is JSON");
  }
}

}  // namespace horizons::fuzz
