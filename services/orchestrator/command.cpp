#include "services/orchestrator/command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

extern char** environ;

namespace horizons::orchestrator {
namespace {

// A pipe whose ends close themselves.
struct pipe_pair {
  int read = -1, write = -1;
  pipe_pair() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) read = fds[0], write = fds[1];
  }
  ~pipe_pair() {
    close_read();
    close_write();
  }
  pipe_pair(const pipe_pair&) = delete;
  pipe_pair& operator=(const pipe_pair&) = delete;
  void close_read() {
    if (read >= 0) ::close(read);
    read = -1;
  }
  void close_write() {
    if (write >= 0) ::close(write);
    write = -1;
  }
  [[nodiscard]] bool ok() const { return read >= 0 && write >= 0; }
};

// A program that exits without reading its stdin must not end this process with SIGPIPE: the signal
// is blocked on this thread for the write, and a pending one taken back.
ssize_t write_without_sigpipe(int fd, std::string_view data) {
  sigset_t pipe_only, old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  auto n = ::write(fd, data.data(), data.size());
  int error = errno;
  if (n < 0 && error == EPIPE) {
    timespec none{};
    ::sigtimedwait(&pipe_only, nullptr, &none);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = error;
  return n;
}

}  // namespace

std::expected<command_output, command_error> run_command(const std::vector<std::string>& args, std::string_view input,
                                                         std::chrono::milliseconds deadline) {
  if (args.empty()) return std::unexpected(command_error{.message = "no program to run"});
  pipe_pair in, out, err;
  if (!in.ok() || !out.ok() || !err.ok()) {
    return std::unexpected(command_error{.message = fmt::format("{}: pipe: {}", args[0], std::strerror(errno))});
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out.write, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.write, STDERR_FILENO);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int spawned = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return std::unexpected(
        command_error{.what = spawned == ENOENT ? command_error::kind::not_found : command_error::kind::failed_to_start,
                      .message = fmt::format("{}: {}", args[0], std::strerror(spawned))});
  }
  in.close_read();
  out.close_write();
  err.close_write();
  if (input.empty()) in.close_write();
  ::fcntl(in.write, F_SETFL, O_NONBLOCK);

  command_output result;
  auto until = std::chrono::steady_clock::now() + deadline;
  bool timed_out = false;
  while (out.read >= 0 || err.read >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    std::array<pollfd, 3> fds{{{out.read, POLLIN, 0}, {err.read, POLLIN, 0}, {in.write, POLLOUT, 0}}};
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[static_cast<std::size_t>(i)].revents == 0) continue;
      auto& p = i == 0 ? out : err;
      char buffer[4096];
      auto n = ::read(p.read, buffer, sizeof buffer);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        p.close_read();
      }
    }
    if (fds[2].revents != 0) {
      auto n = write_without_sigpipe(in.write, input);
      if (n > 0) input.remove_prefix(static_cast<std::size_t>(n));
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || input.empty()) in.close_write();
    }
  }
  in.close_write();
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return std::unexpected(command_error{
        .what = command_error::kind::timed_out,
        .message = fmt::format("{} did not finish within {} ms and was killed", args[0], deadline.count())});
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace horizons::orchestrator
