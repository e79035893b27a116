// Runs a program to its end and keeps what it printed: the orchestrator's way
// to talk to a workload manager's command-line tools (sbatch, squeue, ...).
//
//   auto done = horizons::orchestrator::run_command({"sbatch", "--parsable"}, script, std::chrono::seconds(30));
//   if (!done) return fail(done.error());        // could not start it, or it outlived its deadline
//   if (done->exit_code != 0) return fail(done->err);
//   auto id = done->out;
//
// The program is looked up on PATH unless `args[0]` names a path. stdin gets
// `input` and is then closed; stdout and stderr are read whole. A program
// still running at the deadline is killed (SIGKILL) and reported as timed
// out. Threads: any; each call is independent. Blocks until the program ends
// or the deadline.
#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace horizons::orchestrator {

struct command_output {
  int exit_code = 0;  // the program's exit status; 128 + signal when a signal ended it
  std::string out;
  std::string err;
};

struct command_error {
  enum class kind { not_found, failed_to_start, timed_out };
  kind what = kind::failed_to_start;
  std::string message;  // names the program
};

[[nodiscard]] std::expected<command_output, command_error> run_command(const std::vector<std::string>& args,
                                                                       std::string_view input,
                                                                       std::chrono::milliseconds deadline);

}  // namespace horizons::orchestrator
