// The independent count a platform test compares `horizons run`'s report
// with: every topic read from the beginning by a reader that shares nothing
// with the services, the ledger read straight from its SQLite file, and
// `horizons audit verify` run as its own process.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <horizons/codec.hpp>
#include <horizons/topic_reader.hpp>

#include "child_process.hpp"
#include "services/common/sql/sql.hpp"

namespace testing_support {

struct platform_count {
  struct fold {
    std::int64_t samples = 0, interval_ms = 0;
    double cpu_sum = 0, cpu_max = 0, gpu_sum = 0, memory_peak = 0, disk_read = 0;
  };
  std::map<std::string, std::uint64_t> records_per_topic;
  std::map<std::string, horizons::job_status> final_state;        // job -> last status of an ended job
  std::map<std::string, horizons::job_status> latest;             // job -> last status
  std::map<std::string, horizons::uuid> ending_event;             // job -> the event that ended it
  std::map<horizons::uuid, std::set<std::string>> notifications;  // source event -> distinct notification ids
  std::map<std::string, std::set<horizons::uuid>> summary_ids;    // job -> distinct summary event ids
  std::map<std::string, horizons::job_performance_summary> summaries;
  std::map<std::string, fold> folds;
  std::set<std::string> ran;
  std::set<horizons::uuid> audit_ids;
  std::set<horizons::uuid> seen;  // every event id read
};

/// Reads every catalogue topic from the beginning until all are at their end and nothing arrived for `quiet`.
/// Job-related counts keep only jobs whose id starts with `job_prefix` (the run's; a shared cluster holds others).
inline platform_count read_platform(const horizons::client_config& config, horizons::timestamp since,
                                    const std::string& job_prefix,
                                    std::chrono::milliseconds quiet = std::chrono::milliseconds(2'000)) {
  using namespace horizons;
  platform_count count;
  std::vector<std::pair<std::string, std::unique_ptr<topic_reader>>> readers;
  for (const auto& spec : catalogue) {
    auto reader = topic_reader::open(config, std::string(spec.name()), read_from::beginning, "platform-test-reader");
    EXPECT_TRUE(reader) << (reader ? "" : reader.error().message);
    if (reader) readers.emplace_back(std::string(spec.name()), std::move(*reader));
  }
  auto last_record = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - last_record < quiet ||
         !std::ranges::all_of(readers, [](const auto& r) { return r.second->at_end(); })) {
    for (auto& [topic, reader] : readers) {
      for (;;) {
        auto next = reader->next(std::chrono::milliseconds(5));
        if (!next || !*next) break;
        last_record = std::chrono::steady_clock::now();
        const auto& record = **next;
        if (record.time < since) continue;
        auto decoded = decode_framed(std::as_bytes(std::span(record.value)));
        if (!decoded) continue;
        ++count.records_per_topic[topic];
        std::visit(
            [&](const auto& e) {
              if (!count.seen.insert(e.event_id).second) return;  // a republished record: same event, read once
              std::visit(
                  [&](const auto& p) {
                    using P = std::decay_t<decltype(p)>;
                    if constexpr (requires { p.job_id; }) {
                      if constexpr (std::is_same_v<decltype(p.job_id), std::string>) {
                        if (!p.job_id.starts_with(job_prefix)) return;
                      }
                    }
                    if constexpr (std::is_same_v<P, job_status_changed>) {
                      count.latest[p.job_id] = p.new_status;
                    } else if constexpr (std::is_same_v<P, job_completed> || std::is_same_v<P, job_cancelled>) {
                      count.ending_event[p.job_id] = e.event_id;
                    } else if constexpr (std::is_same_v<P, job_failed>) {
                      if (!p.next_retry_at) count.ending_event[p.job_id] = e.event_id;
                    } else if constexpr (std::is_same_v<P, job_metrics_recorded>) {
                      auto& f = count.folds[p.job_id];
                      double seconds = static_cast<double>(p.interval_ms) / 1000.0;
                      ++f.samples;
                      f.interval_ms += p.interval_ms;
                      f.cpu_sum += p.cpu_pct;
                      f.cpu_max = std::max(f.cpu_max, p.cpu_pct);
                      f.gpu_sum += p.gpu_pct;
                      f.memory_peak = std::max(f.memory_peak, p.memory_gb);
                      f.disk_read += p.disk_read_mb_per_s * seconds;
                    } else if constexpr (std::is_same_v<P, resource_allocation_changed>) {
                      if (p.change == allocation_change::allocated) count.ran.insert(p.job_id);
                    } else if constexpr (std::is_same_v<P, job_performance_summary>) {
                      count.summary_ids[p.job_id].insert(e.event_id);
                      count.summaries[p.job_id] = p;
                    } else if constexpr (std::is_same_v<P, notification_sent>) {
                      auto source = p.data.find("source_event_id");
                      if (source != p.data.end()) {
                        if (auto id = uuid::parse(source->second)) count.notifications[*id].insert(p.notification_id);
                      }
                    }
                    if constexpr (payload_traits<P>::topic == topic_id::audit_trail) count.audit_ids.insert(e.event_id);
                  },
                  e.payload);
            },
            *decoded);
      }
    }
  }
  for (const auto& [job, event_id] : count.ending_event) count.final_state[job] = count.latest[job];
  return count;
}

inline nlohmann::json read_report(const std::filesystem::path& file) {
  std::ifstream in(file);
  EXPECT_TRUE(in) << "no report at " << file;
  auto report = nlohmann::json::parse(in, nullptr, false);
  EXPECT_FALSE(report.is_discarded()) << "the report is not JSON";
  return report;
}

/// Everything `horizons run` claims, checked against the independent count. Per-topic counts are exact unless
/// services outlive the run (they may go on publishing health records, alerts and other jobs' events).
enum class topic_counts : std::uint8_t { exact, at_least };

/// Where the services of a run kept their state: the state root (a SQLite data dir, or PostgreSQL), and
/// the data dirs of the dispatcher's instances (each writes its own email outbox).
struct platform_state {
  horizons::sql::location root;
  std::vector<std::filesystem::path> data_dirs;
};

inline void check_platform(const nlohmann::json& report, const platform_count& count, const platform_state& state,
                           const std::string& cli, int jobs, topic_counts counts = topic_counts::exact) {
  const bool exact = counts == topic_counts::exact;
  using namespace horizons;
  ASSERT_TRUE(report.value("ok", false)) << report.dump(2);
  EXPECT_EQ(report["lost"], 0);
  EXPECT_EQ(report["duplicated"], 0);
  EXPECT_EQ(report["jobs_submitted"], jobs);

  // Every submitted job ended, in the states the report names.
  EXPECT_EQ(count.ending_event.size(), static_cast<std::size_t>(jobs));
  std::map<std::string, int> by_state;
  for (const auto& [job, state] : count.final_state) by_state[std::string(to_string(state))]++;
  EXPECT_EQ(report["jobs_by_final_state"], nlohmann::json(by_state));
  // The reader here started before the run and read after it: it saw at least what the report counted (and,
  // where services outlive the run, what they published afterwards).
  for (auto topic : {"job-lifecycle", "job-metrics", "notifications", "audit-trail"}) {
    auto reported = report["events_per_topic"].value(topic, 0ull);
    EXPECT_GT(reported, 0u) << topic;
    if (exact) {
      EXPECT_EQ(reported, count.records_per_topic.at(topic)) << topic;
    } else {
      EXPECT_LE(reported, count.records_per_topic.at(topic)) << topic;
    }
  }

  // Exactly one notification per ended job.
  for (const auto& [job, source] : count.ending_event) {
    auto n = count.notifications.find(source);
    ASSERT_NE(n, count.notifications.end()) << "no notification for job " << job;
    EXPECT_EQ(n->second.size(), 1u) << "job " << job;
  }

  // ... delivered to the in-app inbox and the email outbox, once each.
  auto inbox = horizons::sql::database::open_existing(state.root.of("notification-dispatcher"));
  ASSERT_TRUE(inbox) << inbox.error().message;
  auto in_inbox = inbox->prepare("SELECT count(*) FROM inbox WHERE source_event_id = ?1");
  ASSERT_TRUE(in_inbox);
  std::size_t not_in_inbox = 0, not_in_outbox = 0;
  for (const auto& [job, source] : count.ending_event) {
    auto n = in_inbox->bind(1, source.to_string()).single_int();
    if (!n || n->value_or(0) != 1) ++not_in_inbox;
    // The email, in the outbox of whichever dispatcher instance handled the job's ending. With instances on
    // several hosts a second copy (same file name and Message-ID) is possible: one killed after writing the
    // file and before its commit leaves the file behind, and its successor writes it again (README).
    auto emails = std::ranges::count_if(state.data_dirs, [&](const auto& dir) {
      return std::filesystem::exists(dir / "notification-dispatcher" / "outbox" /
                                     ("ntf-" + source.to_string() + ".eml"));
    });
    if (emails == 0 || (state.data_dirs.size() == 1 && emails != 1)) ++not_in_outbox;
  }
  EXPECT_EQ(not_in_inbox, 0u);
  EXPECT_EQ(not_in_outbox, 0u);

  // One summary per job that ran, equal to the fold of its samples.
  EXPECT_EQ(count.summaries.size(), count.ran.size());
  for (const auto& job : count.ran) {
    ASSERT_TRUE(count.summaries.contains(job)) << "no summary for job " << job;
    EXPECT_EQ(count.summary_ids.at(job).size(), 1u) << job;
    const auto& s = count.summaries.at(job);
    const auto& f = count.folds.at(job);
    EXPECT_EQ(s.sample_count, f.samples) << job;
    EXPECT_EQ(s.execution_time_ms, f.interval_ms) << job;
    EXPECT_NEAR(s.cpu_avg_pct, f.cpu_sum / static_cast<double>(f.samples), 1e-9) << job;
    EXPECT_DOUBLE_EQ(s.cpu_max_pct, f.cpu_max) << job;
    EXPECT_NEAR(s.gpu_avg_pct, f.gpu_sum / static_cast<double>(f.samples), 1e-9) << job;
    EXPECT_DOUBLE_EQ(s.memory_peak_gb, f.memory_peak) << job;
    EXPECT_NEAR(s.disk_read_total_mb, f.disk_read, 1e-6 * std::max(1.0, f.disk_read)) << job;
  }

  // Every audit event is in the ledger, once, and the chain verifies.
  auto ledger = horizons::sql::database::open_existing(state.root.of("compliance-auditor", "ledger.db"));
  ASSERT_TRUE(ledger) << ledger.error().message;
  auto find = ledger->prepare("SELECT count(*) FROM ledger_entries WHERE event_id = ?1");
  ASSERT_TRUE(find);
  std::size_t missing = 0;
  for (const auto& id : count.audit_ids) {
    auto n = find->bind(1, id.to_string()).single_int();
    if (!n || n->value_or(0) != 1) ++missing;
  }
  EXPECT_EQ(missing, 0u) << "of " << count.audit_ids.size() << " audit events";
  std::vector<std::string> lines;
  child_process verify(
      state.root.kind() == horizons::sql::engine::postgresql
          ? std::vector<std::string>{cli, "audit", "verify", "--state", state.root.url()}
          : std::vector<std::string>{cli, "audit", "verify", "--data-dir", state.root.file().string()});
  EXPECT_EQ(verify.finish(lines), 0);
}

/// The same, for services that kept everything under one SQLite data dir.
inline void check_platform(const nlohmann::json& report, const platform_count& count,
                           const std::filesystem::path& data_dir, const std::string& cli, int jobs,
                           topic_counts counts = topic_counts::exact) {
  check_platform(report, count, platform_state{.root = horizons::sql::location(data_dir), .data_dirs = {data_dir}}, cli,
                 jobs, counts);
}

}  // namespace testing_support
