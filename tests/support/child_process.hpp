// A child process (e.g. the horizons CLI) whose stdout a test reads line by
// line, and which it can SIGKILL: for tests of process death and of the CLI.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <poll.h>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace testing_support {

// A child process whose stdout we read line by line, and can SIGKILL.
class child_process {
 public:
  explicit child_process(const std::vector<std::string>& args) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
  }
  ~child_process() {
    kill_now();
    if (out_) fclose(out_);
  }
  /// The next line, or nullopt at end of output or when none came within `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    pollfd ready{fileno(out_), POLLIN, 0};
    // Lines already buffered by stdio need no wait.
    if (out_->_IO_read_ptr == out_->_IO_read_end && ::poll(&ready, 1, static_cast<int>(timeout.count())) <= 0) {
      return std::nullopt;
    }
    char* line = nullptr;
    std::size_t size = 0;
    auto n = getline(&line, &size, out_);
    std::optional<std::string> result;
    if (n > 0) result.emplace(line, static_cast<std::size_t>(n));
    free(line);
    return result;
  }
  /// Reads the rest of the output and waits for the exit; returns the exit code (-signal if killed).
  int finish(std::vector<std::string>& lines) {
    while (auto line = read_line(std::chrono::seconds(120))) lines.push_back(*line);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  /// SIGTERM, then waits for the exit; returns the exit code (-signal if killed).
  int terminate() {
    if (pid_ <= 0) return 0;
    ::kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

/// How often a consuming process printed each event id (`horizons consume --json` lines). A
/// handler that deduplicates by event id applies one effect per distinct id: deliveries.size().
struct delivery_tally {
  std::map<std::string, int> deliveries;

  [[nodiscard]] std::size_t redelivered() const {
    std::size_t extra = 0;
    for (const auto& [id, count] : deliveries) extra += static_cast<std::size_t>(count - 1);
    return extra;
  }
};

/// Runs `args` (a `horizons consume ... --json` command), tallies the event ids it prints that
/// `wanted` accepts until `stop_after` of them or `total` distinct ones, then SIGKILLs it: no final
/// commit, no leaving the group, as when a consumer process dies.
inline void consume_then_kill(const std::vector<std::string>& args, delivery_tally& tally, std::size_t stop_after,
                              std::size_t total, const std::function<bool(const std::string&)>& wanted) {
  child_process child(args);
  for (std::size_t counted = 0; tally.deliveries.size() < total && counted < stop_after;) {
    auto line = child.read_line(std::chrono::seconds(60));
    if (!line) break;
    auto at = line->find("\"event_id\":\"");
    if (at == std::string::npos) {
      ADD_FAILURE() << "not an event line: " << *line;
      break;
    }
    auto id = line->substr(at + 12, 36);
    if (!wanted(id)) continue;
    ++tally.deliveries[id];
    ++counted;
  }
  child.kill_now();
}

}  // namespace testing_support
