#include "services/orchestrator/slurm.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include <fmt/format.h>

#include "services/orchestrator/command.hpp"

namespace horizons::orchestrator {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto end = text.find('\n');
    auto line = trim(text.substr(0, end));
    if (!line.empty()) lines.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

std::optional<int> integer(std::string_view text) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// The tools' words for "the job id is not (or no longer) known to the controller".
bool unknown_job(std::string_view err) { return contains(err, "Invalid job id"); }

// The tools' words for "the controller cannot be reached": waiting helps.
bool controller_unreachable(std::string_view err) {
  return contains(err, "Unable to contact slurm controller") || contains(err, "Socket timed out") ||
         contains(err, "Connection refused") || contains(err, "Zero Bytes were transmitted") ||
         contains(err, "Communication connection failure") || contains(err, "Unable to establish");
}

bool started_name(std::string_view token) {
  auto eq = token.find('=');
  if (eq == 0 || eq == std::string_view::npos) return false;
  if (!std::isalpha(static_cast<unsigned char>(token.front()))) return false;
  return std::ranges::all_of(token.substr(0, eq), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':' || c == '/';
  });
}

// A job id as given to the tools: digits (an array task's "12_3" or a het job's "12+0" too).
bool plausible_id(std::string_view id) {
  return !id.empty() && std::ranges::all_of(id, [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '+';
  });
}

// A value for the batch script's `export NAME=...`: single-quoted, quotes inside closed and escaped.
std::string shell_quoted(std::string_view value) {
  std::string quoted = "'";
  for (char c : value) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

// ------------------------------------------------------------------------------------------ the text

namespace slurm_text {

std::map<std::string, std::string> fields(std::string_view line) {
  std::map<std::string, std::string> found;
  std::string* last = nullptr;
  for (auto token : split(trim(line), ' ')) {
    if (token.empty()) continue;
    if (started_name(token)) {
      auto eq = token.find('=');
      last = &found[std::string(token.substr(0, eq))];
      *last = std::string(token.substr(eq + 1));
    } else if (last) {
      *last += ' ';
      *last += token;
    }
  }
  return found;
}

batch_phase phase(std::string_view state) {
  state = state.substr(0, state.find(' '));  // "CANCELLED by 0"
  state = state.substr(0, state.find('+'));  // "CANCELLED+" (a flag some versions show)
  static constexpr std::array waiting{"PENDING",      "CONFIGURING", "REQUEUED",
                                      "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"};
  static constexpr std::array running{"RUNNING",   "COMPLETING", "SUSPENDED", "STAGE_OUT",
                                      "SIGNALING", "RESIZING",   "STOPPED"};
  static constexpr std::array failed{"FAILED",   "TIMEOUT",   "NODE_FAIL",    "OUT_OF_MEMORY", "BOOT_FAIL",
                                     "DEADLINE", "PREEMPTED", "SPECIAL_EXIT", "REVOKED"};
  auto in = [&](const auto& words) { return std::ranges::find(words, state) != words.end(); };
  if (in(waiting)) return batch_phase::waiting;
  if (in(running)) return batch_phase::running;
  if (state == "COMPLETED") return batch_phase::succeeded;
  if (in(failed)) return batch_phase::failed;
  if (state == "CANCELLED") return batch_phase::cancelled;
  return batch_phase::unknown;
}

bool never_runs(std::string_view reason) {
  static constexpr std::array hopeless{"PartitionConfig", "PartitionNodeLimit", "PartitionTimeLimit",
                                       "BadConstraints",  "InvalidAccount",     "InvalidQOS"};
  return std::ranges::find(hopeless, reason) != hopeless.end();
}

std::optional<std::chrono::seconds> duration(std::string_view text) {
  text = trim(text);
  if (text == "UNLIMITED" || text == "INVALID" || text == "Partition_Limit") return std::nullopt;
  int days = 0;
  if (auto dash = text.find('-'); dash != std::string_view::npos) {
    auto d = integer(text.substr(0, dash));
    if (!d) return std::nullopt;
    days = *d;
    text.remove_prefix(dash + 1);
  }
  auto parts = split(text, ':');
  if (parts.empty() || parts.size() > 3) return std::nullopt;
  long seconds = 0;
  for (auto part : parts) {
    auto n = integer(part);
    if (!n || *n < 0) return std::nullopt;
    seconds = seconds * 60 + *n;
  }
  if (parts.size() == 1) seconds *= 60;  // "MM" alone means minutes
  return std::chrono::seconds(seconds + days * 86'400L);
}

std::expected<batch_status, std::string> job(std::string_view line) {
  auto f = fields(line);
  auto id = f.find("JobId");
  auto state = f.find("JobState");
  if (id == f.end() || state == f.end()) {
    return std::unexpected(fmt::format("no JobId or JobState in scontrol's line '{}'", line));
  }
  batch_status s{.id = id->second, .state = state->second, .phase = phase(state->second)};
  if (auto reason = f.find("Reason"); reason != f.end() && reason->second != "None") s.reason = reason->second;
  if (auto exit = f.find("ExitCode"); exit != f.end()) {
    auto parts = split(exit->second, ':');
    s.exit_code = integer(parts[0]).value_or(0);
    if (parts.size() > 1) s.signal = integer(parts[1]).value_or(0);
  }
  if (auto run = f.find("RunTime"); run != f.end()) s.run_time = duration(run->second).value_or(std::chrono::seconds{});
  s.never_runs = s.phase == batch_phase::waiting && never_runs(s.reason);
  return s;
}

std::optional<std::string> submitted_id(std::string_view out) {
  auto lines = lines_of(out);
  if (lines.empty()) return std::nullopt;
  auto id = lines.back().substr(0, lines.back().find(';'));
  if (!plausible_id(id)) return std::nullopt;
  return std::string(id);
}

}  // namespace slurm_text

// ------------------------------------------------------------------------------------------ the tools

struct slurm_cli::ran {
  int exit_code = 0;
  std::string out;
  std::string err;
};

std::expected<slurm_cli::ran, batch_error> slurm_cli::run(std::string_view tool, std::vector<std::string> args,
                                                          std::string_view input) {
  auto program = settings_.bin_dir.empty() ? std::string(tool) : (settings_.bin_dir / tool).string();
  args.insert(args.begin(), program);
  auto done = run_command(args, input, settings_.command_timeout);
  if (!done) {
    auto where = settings_.bin_dir.empty() ? std::string("on PATH") : "in " + settings_.bin_dir.string();
    auto message = done.error().what == command_error::kind::not_found
                       ? fmt::format("{} not found {}: is Slurm's client installed (slurm-client)?", tool, where)
                       : done.error().message;
    return std::unexpected(batch_error{.what = batch_error::kind::unavailable, .message = message});
  }
  return ran{.exit_code = done->exit_code, .out = std::move(done->out), .err = std::move(done->err)};
}

std::string slurm_cli::name() {
  if (version_) return *version_;
  auto asked = run("sbatch", {"--version"});
  if (!asked || asked->exit_code != 0) return "Slurm (version unknown)";
  auto words = split(trim(asked->out), ' ');  // "slurm 22.05.8"
  version_ = fmt::format("Slurm {}", words.size() > 1 ? words[1] : trim(asked->out));
  return *version_;
}

std::expected<std::string, batch_error> slurm_cli::submit(const batch_request& request) {
  std::vector<std::string> args{"--parsable",
                                "--job-name=" + request.name,
                                "--comment=" + request.comment,
                                fmt::format("--nodes={}", request.nodes),
                                fmt::format("--ntasks-per-node={}", request.tasks_per_node),
                                fmt::format("--cpus-per-task={}", request.cpus_per_task),
                                fmt::format("--time={}", request.time_minutes),
                                "--output=" + request.output.string(),
                                "--chdir=" + request.workdir.string()};
  if (!request.partition.empty()) args.push_back("--partition=" + request.partition);
  if (request.gpus > 0) args.push_back(fmt::format("--gres=gpu:{}", request.gpus));
  if (request.memory_mb > 0) args.push_back(fmt::format("--mem={}M", request.memory_mb));
  // The environment goes into the script, after its first line: sbatch's --export splits at commas.
  std::string script = request.script;
  std::string exports;
  for (const auto& [key, value] : request.environment)
    exports += fmt::format("export {}={}\n", key, shell_quoted(value));
  auto first_line = script.find('\n');
  script.insert(first_line == std::string::npos ? script.size() : first_line + 1, exports);

  auto done = run("sbatch", std::move(args), script);
  if (!done) return std::unexpected(done.error());
  auto err = std::string(trim(done->err));
  if (done->exit_code != 0) {
    bool refused = contains(err, "Batch job submission failed") && !controller_unreachable(err);
    return std::unexpected(batch_error{
        .what = refused ? batch_error::kind::refused : batch_error::kind::unavailable,
        .message = fmt::format("{}: sbatch {} job {}: {}", name(), refused ? "refused" : "could not submit",
                               request.name, err.empty() ? fmt::format("exit code {}", done->exit_code) : err)});
  }
  auto id = slurm_text::submitted_id(done->out);
  if (!id) {
    return std::unexpected(batch_error{
        .message = fmt::format("{}: sbatch printed no job id for {}: '{}'", name(), request.name, trim(done->out))});
  }
  return *id;
}

std::expected<std::optional<std::string>, batch_error> slurm_cli::find(std::string_view job_name,
                                                                       std::string_view comment) {
  auto done = run("squeue", {"--noheader", "--states=all", "--name=" + std::string(job_name), "--format=%i|%k"});
  if (!done) return std::unexpected(done.error());
  if (done->exit_code != 0) {
    return std::unexpected(
        batch_error{.message = fmt::format("{}: squeue --name={}: {}", name(), job_name, trim(done->err))});
  }
  for (auto line : lines_of(done->out)) {
    auto bar = line.find('|');
    if (bar != std::string_view::npos && trim(line.substr(bar + 1)) == comment) {
      return std::string(trim(line.substr(0, bar)));
    }
  }
  return std::nullopt;
}

std::expected<std::optional<batch_status>, batch_error> slurm_cli::show(const std::string& id) {
  auto done = run("scontrol", {"--oneliner", "show", "job", id});
  if (!done) return std::unexpected(done.error());
  if (done->exit_code != 0) {
    if (unknown_job(done->err)) return std::nullopt;
    return std::unexpected(
        batch_error{.message = fmt::format("{}: scontrol show job {}: {}", name(), id, trim(done->err))});
  }
  auto lines = lines_of(done->out);
  if (lines.empty()) return std::nullopt;
  auto job = slurm_text::job(lines.front());
  if (!job) return std::unexpected(batch_error{.message = fmt::format("{}: {}", name(), job.error())});
  return *job;
}

std::expected<std::vector<batch_status>, batch_error> slurm_cli::status(std::span<const std::string> ids) {
  std::vector<batch_status> seen;
  if (ids.empty()) return seen;
  std::string list;
  for (const auto& id : ids) {
    if (!plausible_id(id)) {
      return std::unexpected(
          batch_error{.what = batch_error::kind::refused, .message = fmt::format("'{}' is not a Slurm job id", id)});
    }
    list += (list.empty() ? "" : ",") + id;
  }
  // One squeue for all; scontrol only for the jobs that ended, for their exit codes.
  auto done = run("squeue", {"--noheader", "--states=all", "--jobs=" + list, "--format=%i|%T|%r|%M"});
  if (!done) return std::unexpected(done.error());
  if (done->exit_code != 0 && !unknown_job(done->err)) {
    return std::unexpected(batch_error{.message = fmt::format("{}: squeue: {}", name(), trim(done->err))});
  }
  if (done->exit_code != 0) {  // one of them is forgotten, and squeue then answers for none: ask one by one
    for (const auto& id : ids) {
      auto job = show(id);
      if (!job) return std::unexpected(job.error());
      if (*job) seen.push_back(std::move(**job));
    }
    return seen;
  }
  for (auto line : lines_of(done->out)) {
    auto parts = split(line, '|');
    if (parts.size() < 4) continue;
    batch_status s{.id = std::string(parts[0]), .state = std::string(parts[1]), .phase = slurm_text::phase(parts[1])};
    if (parts[2] != "None") s.reason = std::string(parts[2]);
    s.run_time = slurm_text::duration(parts[3]).value_or(std::chrono::seconds{});
    s.never_runs = s.phase == batch_phase::waiting && slurm_text::never_runs(s.reason);
    if (s.phase == batch_phase::succeeded || s.phase == batch_phase::failed || s.phase == batch_phase::cancelled) {
      auto full = show(s.id);
      if (!full) return std::unexpected(full.error());
      if (*full) s = std::move(**full);
    }
    seen.push_back(std::move(s));
  }
  return seen;
}

std::expected<void, batch_error> slurm_cli::cancel(std::string_view id) {
  auto done = run("scancel", {std::string(id)});
  if (!done) return std::unexpected(done.error());
  // A job that already ended (or was forgotten) needs no cancelling.
  if (done->exit_code != 0 && !unknown_job(done->err) && !contains(done->err, "already completing or completed")) {
    return std::unexpected(batch_error{.message = fmt::format("{}: scancel {}: {}", name(), id, trim(done->err))});
  }
  return {};
}

}  // namespace horizons::orchestrator
