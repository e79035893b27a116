// Slurm as the orchestrator's batch system, through its command-line tools:
// `sbatch --parsable` to submit, `squeue` and `scontrol show job -o` to watch,
// `scancel` to cancel. The tools are what every Slurm site gives its users,
// and their text output has stayed stable across Slurm versions; the REST
// daemon needs JWT set up by the site, and libslurm ties the build to one
// Slurm release.
//
//   orchestrator::slurm_cli slurm({});                 // tools on PATH, SLURM_CONF from the environment
//   auto id = slurm.submit(request);                   // sbatch --parsable ... < script
//   auto seen = slurm.status(std::vector{*id});        // squeue, then scontrol for the jobs that ended
//
// Every error names the tool, what it printed and the Slurm version
// (`sbatch --version`, asked once). A tool that cannot be run, times out or
// cannot reach the controller is `unavailable`; sbatch refusing the request
// itself ("Batch job submission failed: ...") is `refused`.
// Threads: one caller at a time (the orchestrator's service thread).
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "services/orchestrator/batch_system.hpp"

namespace horizons::orchestrator {

struct slurm_settings {
  std::filesystem::path bin_dir{};  // where sbatch & co. are; empty: PATH
  std::chrono::milliseconds command_timeout{30'000};
};

class slurm_cli final : public batch_system {
 public:
  explicit slurm_cli(slurm_settings settings) : settings_(std::move(settings)) {}

  [[nodiscard]] std::string name() override;
  [[nodiscard]] std::expected<std::string, batch_error> submit(const batch_request& request) override;
  [[nodiscard]] std::expected<std::optional<std::string>, batch_error> find(std::string_view name,
                                                                            std::string_view comment) override;
  [[nodiscard]] std::expected<std::vector<batch_status>, batch_error> status(std::span<const std::string> ids) override;
  [[nodiscard]] std::expected<void, batch_error> cancel(std::string_view id) override;

 private:
  struct ran;
  std::expected<ran, batch_error> run(std::string_view tool, std::vector<std::string> args,
                                      std::string_view input = {});
  std::expected<std::optional<batch_status>, batch_error> show(const std::string& id);

  slurm_settings settings_;
  std::optional<std::string> version_;
};

/// Parsing of the tools' output, public for the tests.
namespace slurm_text {
/// `scontrol show job -o`'s one line as Key → value (values may hold spaces: a key starts after a space).
[[nodiscard]] std::map<std::string, std::string> fields(std::string_view line);
/// A job from `scontrol show job -o`'s line; an error names what is missing.
[[nodiscard]] std::expected<batch_status, std::string> job(std::string_view line);
/// PENDING → waiting, COMPLETED → succeeded, TIMEOUT → failed, ... ("CANCELLED by 0" counts as CANCELLED).
[[nodiscard]] batch_phase phase(std::string_view state);
/// A pending reason that cannot change by itself: the request exceeds what the partition has.
[[nodiscard]] bool never_runs(std::string_view reason);
/// "[D-]HH:MM:SS", "MM:SS", "UNLIMITED" → seconds; nullopt when it is none of them.
[[nodiscard]] std::optional<std::chrono::seconds> duration(std::string_view text);
/// sbatch --parsable's "4242" or "4242;cluster" → "4242".
[[nodiscard]] std::optional<std::string> submitted_id(std::string_view out);
}  // namespace slurm_text

}  // namespace horizons::orchestrator
