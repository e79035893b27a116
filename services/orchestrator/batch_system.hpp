// A workload manager that runs the orchestrator's jobs for real: the
// interface the engine drives, and the batch job a submission becomes.
// slurm.hpp implements it with Slurm's command-line tools; the engine's
// tests implement it in memory.
//
//   batch_system& batch = ...;                         // e.g. a slurm_cli
//   auto id = batch.submit(request);                   // "4242", or refused / unavailable
//   auto seen = batch.status(std::vector{*id});        // PENDING, RUNNING, COMPLETED, FAILED 3:0, ...
//   batch.cancel(*id);
//   auto again = batch.find(request.comment);          // after a crash: was it submitted already?
//
// Errors say whether trying again can help: `unavailable` (the tools are
// missing, the controller does not answer: the job waits, QUEUED, and the
// engine tries again) or `refused` (the request can never run: the job
// fails with the scheduler's own reason). Threads: one caller at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace horizons::orchestrator {

/// One attempt of a job, as a batch job.
struct batch_request {
  std::string name{};       // the job's name in the scheduler (the Horizons job id)
  std::string comment{};    // unique per attempt: how find() recognises it after a crash
  std::string partition{};  // empty: the scheduler's default partition
  int nodes = 1;
  int tasks_per_node = 1;
  int cpus_per_task = 1;
  int gpus = 0;                // per node
  std::int64_t memory_mb = 0;  // per node; 0: the scheduler's default
  int time_minutes = 60;
  std::filesystem::path workdir{};
  std::filesystem::path output{};  // the job's stdout and stderr
  std::vector<std::pair<std::string, std::string>> environment{};
  std::string script{};  // the whole batch script, from `#!` on
};

/// Where an attempt is, in the engine's terms.
enum class batch_phase : std::uint8_t {
  waiting,    // in the scheduler's queue
  running,    // started (and not yet ended)
  succeeded,  // ended with exit code 0
  failed,     // ended otherwise: a non-zero exit, its time limit, a node failure, ...
  cancelled,  // cancelled before or while it ran
  unknown,    // a state this build does not know: keep asking
};

/// What the scheduler says about one batch job.
struct batch_status {
  std::string id{};
  std::string state{};  // the scheduler's own word: PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, ...
  batch_phase phase = batch_phase::unknown;
  std::string reason{};  // the scheduler's reason (Resources, NonZeroExitCode, PartitionConfig, ...); may be empty
  int exit_code = 0;     // the script's exit status (when ended)
  int signal = 0;        // the signal that ended it, 0 if none
  std::chrono::seconds run_time{};
  /// Waiting for a reason that cannot change by itself (the request exceeds what the partition has).
  bool never_runs = false;
};

struct batch_error {
  enum class kind : std::uint8_t { unavailable, refused };
  kind what = kind::unavailable;
  std::string message;  // names the scheduler and its version when known
};

class batch_system {
 public:
  virtual ~batch_system() = default;
  /// "Slurm 22.05.8": for logs and event reasons.
  [[nodiscard]] virtual std::string name() = 0;
  /// Submits one batch job; its id.
  [[nodiscard]] virtual std::expected<std::string, batch_error> submit(const batch_request& request) = 0;
  /// The id of a known batch job (any state) submitted with this comment and name, if any.
  [[nodiscard]] virtual std::expected<std::optional<std::string>, batch_error> find(std::string_view name,
                                                                                    std::string_view comment) = 0;
  /// The status of each job of `ids` the scheduler knows; a job it has forgotten is absent.
  [[nodiscard]] virtual std::expected<std::vector<batch_status>, batch_error> status(
      std::span<const std::string> ids) = 0;
  /// Asks the scheduler to cancel the job (signals it when running); its status says when it ended.
  [[nodiscard]] virtual std::expected<void, batch_error> cancel(std::string_view id) = 0;
};

}  // namespace horizons::orchestrator
