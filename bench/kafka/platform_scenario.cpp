#include "platform_scenario.hpp"

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <optional>
#include <utility>
#include <system_error>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <horizons/uuid.hpp>

#include "services/common/sql/sql.hpp"

namespace horizons::kafka_bench {

namespace {

// A run of the harness in a fresh temporary folder, removed afterwards; only a complete, correct run counts.
std::expected<platform::report, std::string> run_once(platform::options opts, std::stop_token stop) {
  opts.data_dir = std::filesystem::temp_directory_path() /
                  fmt::format("horizons-bench-platform-{}", uuid::random().to_string().substr(0, 8));
  auto data_dir = opts.data_dir;
  auto report = platform::run(opts, stop);
  std::error_code ignored;
  std::filesystem::remove_all(data_dir, ignored);
  if (!report) return std::unexpected(report.error());
  if (!report->complete) return std::unexpected(fmt::format("platform run incomplete: {}", report->incomplete_reason));
  if (!report->ok()) {
    return std::unexpected(
        fmt::format("platform run not OK: lost {}, duplicated {}", report->lost, report->duplicated_effects));
  }
  return report;
}

// The options of a run of `jobs` jobs (a named object: g++ 12 warns falsely on a designated temporary).
platform::options run_options(const client_config& config, int jobs, double rate) {
  platform::options opts;
  opts.config = config;
  opts.jobs = jobs;
  opts.submit_rate = rate;
  return opts;
}

}  // namespace

std::expected<platform::report, std::string> run_platform(const client_config& config,
                                                          const platform_workload& workload, std::stop_token stop) {
  if (!config.brokers.empty() && workload.warmup_jobs > 0) {
    fmt::print(stderr, "horizons bench: warm-up run of {} jobs (not measured)\n", workload.warmup_jobs);
    auto warmup = run_once(run_options(config, workload.warmup_jobs, workload.rate), stop);
    if (!warmup) return std::unexpected(fmt::format("warm-up run: {}", warmup.error()));
    // The measured run's reader starts a second before its own start: past the warm-up's last records.
    std::this_thread::sleep_for(std::chrono::milliseconds(1'100));
  }
  return run_once(run_options(config, workload.jobs, workload.rate), stop);
}

namespace {

// A database of its own on the server `server_url` names, dropped when this goes.
class scratch_database {
 public:
  static std::expected<scratch_database, std::string> create(const std::string& server_url) {
    auto admin = sql::database::open(sql::location::postgresql(server_url));
    if (!admin) return std::unexpected(admin.error().message);
    auto name = fmt::format("horizons_bench_{}", uuid::random().to_string().substr(0, 8));
    if (auto made = admin->exec("CREATE DATABASE " + name); !made) return std::unexpected(made.error().message);
    // The same server, user and parameters; another database.
    auto query_at = std::min(server_url.find('?'), server_url.size());
    auto base = server_url.substr(0, query_at);
    return scratch_database(server_url, base.substr(0, base.rfind('/') + 1) + name + server_url.substr(query_at), name);
  }
  scratch_database(scratch_database&& other) noexcept
      : server_(std::move(other.server_)), url_(std::move(other.url_)), name_(std::exchange(other.name_, {})) {}
  scratch_database& operator=(scratch_database&&) = delete;
  ~scratch_database() {
    if (name_.empty()) return;
    if (auto admin = sql::database::open(sql::location::postgresql(server_))) {
      (void)admin->exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_));
    }
  }
  [[nodiscard]] const std::string& url() const { return url_; }

 private:
  scratch_database(std::string server, std::string url, std::string name)
      : server_(std::move(server)), url_(std::move(url)), name_(std::move(name)) {}
  std::string server_, url_, name_;
};

}  // namespace

std::expected<std::vector<platform_scale_result>, std::string> run_platform_scale(
    const client_config& config, const platform_scale_workload& workload, int repeat, std::stop_token stop) {
  std::vector<platform_scale_result> results;
  for (const auto* store : {"sqlite", "postgresql"}) {
    if (std::string_view(store) == "postgresql" && workload.postgres.empty()) continue;
    for (int n = 1; n <= workload.max_instances; ++n) {
      results.push_back({.store = store, .instances = n, .jobs_per_s = {}, .events_per_s = {}});
    }
  }
  auto opts = run_options(config, workload.jobs, workload.rate);
  opts.sim.time_scale = workload.time_scale;
  for (int round = 1; round <= repeat && !stop.stop_requested(); ++round) {
    for (auto& r : results) {
      fmt::print(stderr, "horizons bench: platform-scale round {}/{}: {}, {} instance{} of each service\n", round,
                 repeat, r.store, r.instances, r.instances == 1 ? "" : "s");
      std::optional<scratch_database> database;
      opts.state.reset();
      if (r.store == "postgresql") {
        auto made = scratch_database::create(workload.postgres);
        if (!made) return std::unexpected(fmt::format("--platform-postgres: {}", made.error()));
        database.emplace(std::move(*made));
        opts.state = sql::location::postgresql(database->url());
      }
      opts.instances = r.instances;
      auto report = run_once(opts, stop);
      if (!report) return std::unexpected(fmt::format("{} x{}: {}", r.store, r.instances, report.error()));
      double seconds = std::max(1e-3, report->workload_duration.count());
      std::uint64_t events = 0;
      for (const auto& [topic, n] : report->events_per_topic) events += n;
      r.jobs_per_s.push_back(workload.jobs / seconds);
      r.events_per_s.push_back(static_cast<double>(events) / seconds);
    }
  }
  return results;
}

namespace {

struct spread {
  double median = 0, low = 0, high = 0;
};

spread spread_of(std::vector<double> values) {
  if (values.empty()) return {};
  std::ranges::sort(values);
  auto n = values.size();
  double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return {median, values.front(), values.back()};
}

}  // namespace

void print_platform_scale(const std::vector<platform_scale_result>& results, const platform_scale_workload& workload,
                          bool json) {
  const double base = results.empty() ? 0 : spread_of(results.front().jobs_per_s).median;
  if (json) {
    nlohmann::json out{{"scenario", "platform-scale"},
                       {"jobs", workload.jobs},
                       {"offered_jobs_per_s", workload.rate},
                       {"time_scale", workload.time_scale},
                       {"configurations", nlohmann::json::array()}};
    for (const auto& r : results) {
      auto jobs = spread_of(r.jobs_per_s), events = spread_of(r.events_per_s);
      out["configurations"].push_back({{"store", r.store},
                                       {"instances", r.instances},
                                       {"jobs_per_s", r.jobs_per_s},
                                       {"events_per_s", r.events_per_s},
                                       {"jobs_per_s_median", jobs.median},
                                       {"events_per_s_median", events.median},
                                       {"ratio_to_sqlite_1", base > 0 ? jobs.median / base : 0}});
    }
    fmt::print("{}\n", out.dump());
    return;
  }
  fmt::print("Platform capacity: {} jobs offered at {:g}/s, simulated time x{:g}; median (range) of {} runs each\n",
             workload.jobs, workload.rate, workload.time_scale,
             results.empty() ? 0 : results.front().jobs_per_s.size());
  fmt::print("{:<12}{:>10}{:>26}{:>30}{:>12}\n", "state", "instances", "jobs/s", "events/s", "x first");
  for (const auto& r : results) {
    auto jobs = spread_of(r.jobs_per_s), events = spread_of(r.events_per_s);
    fmt::print("{:<12}{:>10}{:>26}{:>30}{:>12.2f}\n", r.store, r.instances,
               fmt::format("{:.0f} ({:.0f}-{:.0f})", jobs.median, jobs.low, jobs.high),
               fmt::format("{:.0f} ({:.0f}-{:.0f})", events.median, events.low, events.high),
               base > 0 ? jobs.median / base : 0.0);
  }
}

}  // namespace horizons::kafka_bench
