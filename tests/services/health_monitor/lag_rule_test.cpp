// The sliding-window lag rule (services/health_monitor/lag_rule.hpp) on
// synthetic observation sequences: each status, the transitions between
// them, the worst-partition roll-up and restored windows.
#include "services/health_monitor/lag_rule.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace horizons::health_monitor {
namespace {

using namespace std::chrono_literals;

const timestamp t0{std::chrono::seconds(1'800'000'000)};
constexpr std::string_view group = "metrics-aggregator";
constexpr std::string_view topic = "job-metrics";

partition_lag part(std::int32_t partition, std::optional<std::int64_t> committed, std::int64_t high,
                   std::string error = {}) {
  auto lag = std::max<std::int64_t>(committed ? high - *committed : high, 0);
  return {.topic = std::string(topic),
          .partition = partition,
          .committed = committed,
          .high = high,
          .lag_messages = lag,
          .lag_seconds = std::chrono::duration<double>(lag > 0 ? 2.5 : 0.0),
          .error = std::move(error)};
}

lag_report report(std::vector<partition_lag> partitions) {
  topic_lag summary{.topic = std::string(topic), .partitions = static_cast<int>(partitions.size())};
  for (const auto& p : partitions) {
    summary.lag_messages += p.lag_messages;
    summary.lag_seconds = std::max(summary.lag_seconds, p.lag_seconds);
    summary.unmeasured_partitions += p.error.empty() ? 0 : 1;
  }
  return {.group = std::string(group), .partitions = std::move(partitions), .topics = {summary}};
}

// One observation of one partition at t0 + step * `second` seconds; returns the topic verdict.
topic_verdict observe(lag_evaluator& evaluator, int second, std::optional<std::int64_t> committed, std::int64_t high) {
  auto verdicts = evaluator.evaluate(report({part(0, committed, high)}), t0 + std::chrono::seconds(second));
  EXPECT_EQ(verdicts.size(), 1u);
  return verdicts.at(0);
}

TEST(lag_rule, a_caught_up_consumer_is_ok) {
  lag_evaluator evaluator({.window_size = 3, .stop_after = 60s});
  for (int i = 0; i < 10; ++i) {
    auto v = observe(evaluator, i, 100 + 10 * i, 100 + 10 * i);
    EXPECT_EQ(v.status, lag_status::ok) << v.reason;
    EXPECT_EQ(v.lag_messages, 0);
  }
}

TEST(lag_rule, a_window_that_is_not_full_is_not_judged) {
  lag_evaluator evaluator({.window_size = 4, .stop_after = 60s});
  for (int i = 0; i < 3; ++i) {
    auto v = observe(evaluator, i, 100, 150);
    EXPECT_EQ(v.status, lag_status::ok) << v.reason;
  }
  auto full = observe(evaluator, 3, 100, 150);
  EXPECT_EQ(full.status, lag_status::stalled) << full.reason;
}

TEST(lag_rule, an_offset_unchanged_over_the_whole_window_while_records_wait_is_stalled) {
  lag_evaluator evaluator({.window_size = 5, .stop_after = 60s});
  topic_verdict v;
  for (int i = 0; i < 5; ++i) v = observe(evaluator, i, 100, 150 + i);
  EXPECT_EQ(v.status, lag_status::stalled);
  EXPECT_EQ(v.group, group);
  EXPECT_EQ(v.topic, topic);
  EXPECT_EQ(v.lag_messages, 54);
  EXPECT_DOUBLE_EQ(v.lag_seconds, 2.5);
  EXPECT_NE(v.reason.find("job-metrics[0]"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("committed offset 100 unchanged over 5 observations"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("54 records wait"), std::string::npos) << v.reason;
}

TEST(lag_rule, stalled_becomes_stopped_after_stop_after_even_beyond_the_window) {
  // Window of 3 observations 2 s apart spans 4 s; stop_after 10 s is only reachable if the time the
  // offset stopped moving outlives the window.
  lag_evaluator evaluator({.window_size = 3, .stop_after = 10s});
  EXPECT_EQ(observe(evaluator, 0, 90, 120).status, lag_status::ok);  // moving before
  std::vector<lag_status> seen;
  for (int second = 2; second <= 14; second += 2) seen.push_back(observe(evaluator, second, 100, 120).status);
  // Offset 100 since t=2: stalled from the first full unchanged window (t=6) until 10 s have passed (t=12).
  EXPECT_EQ(seen, (std::vector{lag_status::ok, lag_status::ok, lag_status::stalled, lag_status::stalled,
                               lag_status::stalled, lag_status::stopped, lag_status::stopped}));
  auto v = observe(evaluator, 16, 100, 120);
  EXPECT_EQ(v.status, lag_status::stopped);
  EXPECT_NE(v.reason.find("has not moved for 14.0 s"), std::string::npos) << v.reason;
}

TEST(lag_rule, a_group_that_never_committed_while_records_wait_is_stopped_once_the_window_is_full) {
  lag_evaluator evaluator({.window_size = 3, .stop_after = 1h});
  EXPECT_EQ(observe(evaluator, 0, std::nullopt, 40).status, lag_status::ok);
  EXPECT_EQ(observe(evaluator, 1, std::nullopt, 40).status, lag_status::ok);
  auto v = observe(evaluator, 2, std::nullopt, 45);
  EXPECT_EQ(v.status, lag_status::stopped);
  EXPECT_EQ(v.lag_messages, 45);
  EXPECT_NE(v.reason.find("never committed while 45 records wait"), std::string::npos) << v.reason;
}

TEST(lag_rule, a_group_that_never_committed_on_an_empty_partition_is_ok) {
  lag_evaluator evaluator({.window_size = 3, .stop_after = 1s});
  for (int i = 0; i < 6; ++i) EXPECT_EQ(observe(evaluator, i, std::nullopt, 0).status, lag_status::ok);
}

TEST(lag_rule, lag_growing_while_the_consumer_moves_is_a_warning) {
  lag_evaluator evaluator({.window_size = 4, .stop_after = 60s});
  // committed 100, 110, 120, 130; high grows faster: lag 10, 20, 30, 40.
  topic_verdict v;
  for (int i = 0; i < 4; ++i) v = observe(evaluator, i, 100 + 10 * i, 110 + 20 * i);
  EXPECT_EQ(v.status, lag_status::warning);
  EXPECT_NE(v.reason.find("lag grew from 10 to 40 over 4 observations"), std::string::npos) << v.reason;
}

TEST(lag_rule, a_level_lag_while_the_consumer_moves_is_ok) {
  lag_evaluator evaluator({.window_size = 4, .stop_after = 60s});
  topic_verdict v;
  for (int i = 0; i < 6; ++i) v = observe(evaluator, i, 100 + 10 * i, 125 + 10 * i);
  EXPECT_EQ(v.status, lag_status::ok) << v.reason;
}

TEST(lag_rule, a_lag_that_fell_once_within_the_window_is_catching_up) {
  lag_evaluator evaluator({.window_size = 4, .stop_after = 60s});
  // lag 10, 20, 15, 30: grew overall, but fell once.
  observe(evaluator, 0, 100, 110);
  observe(evaluator, 1, 105, 125);
  observe(evaluator, 2, 120, 135);
  auto v = observe(evaluator, 3, 125, 155);
  EXPECT_EQ(v.status, lag_status::ok) << v.reason;
  // The dip leaves the window: lag 20, 15, 30, 40 still fell once; then 15, 30, 40, 50 grows throughout.
  EXPECT_EQ(observe(evaluator, 4, 130, 170).status, lag_status::ok);
  EXPECT_EQ(observe(evaluator, 5, 140, 190).status, lag_status::warning);
}

TEST(lag_rule, zero_lag_anywhere_in_the_window_is_ok_until_it_leaves_the_window) {
  lag_evaluator evaluator({.window_size = 3, .stop_after = 60s});
  EXPECT_EQ(observe(evaluator, 0, 100, 100).status, lag_status::ok);
  // The consumer dies caught up; records arrive.
  EXPECT_EQ(observe(evaluator, 1, 100, 110).status, lag_status::ok);
  EXPECT_EQ(observe(evaluator, 2, 100, 120).status, lag_status::ok);
  EXPECT_EQ(observe(evaluator, 3, 100, 130).status, lag_status::stalled);
}

TEST(lag_rule, stalled_returns_to_ok_once_the_group_commits_to_the_end) {
  lag_evaluator evaluator({.window_size = 3, .stop_after = 60s});
  for (int i = 0; i < 3; ++i) observe(evaluator, i, std::nullopt, 50);
  EXPECT_EQ(observe(evaluator, 3, std::nullopt, 50).status, lag_status::stopped);
  auto v = observe(evaluator, 4, 50, 50);
  EXPECT_EQ(v.status, lag_status::ok) << v.reason;
  EXPECT_EQ(v.lag_messages, 0);
}

TEST(lag_rule, a_measurement_error_is_error_and_stays_out_of_the_window) {
  lag_evaluator evaluator({.window_size = 3, .stop_after = 60s});
  observe(evaluator, 0, 100, 150);
  observe(evaluator, 1, 100, 150);
  auto failed = evaluator.evaluate(report({part(0, std::nullopt, 0, "leader broker 2 unreachable")}), t0 + 2s);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].status, lag_status::error);
  EXPECT_EQ(failed[0].reason, "job-metrics[0]: leader broker 2 unreachable");
  const auto& window = evaluator.windows().at({std::string(group), std::string(topic), 0});
  EXPECT_EQ(window.observations().size(), 2u);
  // The next good measurement completes the window: the error did not count as an observation.
  EXPECT_EQ(observe(evaluator, 3, 100, 150).status, lag_status::stalled);
}

TEST(lag_rule, a_topic_is_as_bad_as_its_worst_partition_and_names_it) {
  lag_evaluator evaluator({.window_size = 2, .stop_after = 60s});
  auto round = [&](int second, std::string error) {
    return evaluator.evaluate(report({part(0, 10 + second, 10 + second),          // caught up
                                      part(1, 20, 30 + second),                   // stuck
                                      part(2, 5 + second, 10 + second, error)}),  // moving, or unmeasured
                              t0 + std::chrono::seconds(second));
  };
  round(0, "");
  auto stalled = round(1, "");
  ASSERT_EQ(stalled.size(), 1u);
  EXPECT_EQ(stalled[0].status, lag_status::stalled);
  EXPECT_TRUE(stalled[0].reason.starts_with("job-metrics[1]: ")) << stalled[0].reason;
  EXPECT_EQ(stalled[0].lag_messages, 0 + 11 + 5);

  auto error = round(2, "watermarks not read within 10000 ms");
  EXPECT_EQ(error[0].status, lag_status::error);
  EXPECT_EQ(error[0].reason, "job-metrics[2]: watermarks not read within 10000 ms");
}

TEST(lag_rule, the_reason_counts_the_other_partitions_as_bad_as_the_first) {
  lag_evaluator evaluator({.window_size = 2, .stop_after = 60s});
  auto round = [&](int second) {
    return evaluator.evaluate(
        report({part(0, 5, 5), part(1, std::nullopt, 4), part(2, std::nullopt, 9), part(3, std::nullopt, 2)}),
        t0 + std::chrono::seconds(second));
  };
  round(0);
  auto verdicts = round(1);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].status, lag_status::stopped);
  EXPECT_EQ(verdicts[0].reason,
            "job-metrics[1]: the group never committed while 4 records wait (2 observations over 1.0 s) "
            "(and 2 more partitions stopped)");
}

TEST(lag_rule, an_ok_topic_says_how_many_partitions_are_ok) {
  lag_evaluator evaluator({.window_size = 2, .stop_after = 60s});
  auto verdicts = evaluator.evaluate(report({part(0, 5, 5), part(1, 7, 7), part(2, 0, 0)}), t0);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].status, lag_status::ok);
  EXPECT_EQ(verdicts[0].reason, "all 3 partitions ok");
}

TEST(lag_rule, an_observation_older_than_the_newest_is_ignored) {
  lag_window window(3);
  window.add({.time = t0 + 5s, .committed = 10, .high = 20, .lag = 10});
  window.add({.time = t0 + 4s, .committed = 10, .high = 20, .lag = 10});
  window.add({.time = t0 + 5s, .committed = 10, .high = 20, .lag = 10});
  EXPECT_EQ(window.observations().size(), 1u);
}

TEST(lag_rule, committed_since_follows_the_offset) {
  lag_window window(10);
  window.add({.time = t0, .committed = 10, .high = 20, .lag = 10});
  window.add({.time = t0 + 1s, .committed = 10, .high = 20, .lag = 10});
  window.add({.time = t0 + 2s, .committed = 12, .high = 20, .lag = 8});
  window.add({.time = t0 + 3s, .committed = 12, .high = 20, .lag = 8});
  const auto& seen = window.observations();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[1].committed_since, t0);
  EXPECT_EQ(seen[2].committed_since, t0 + 2s);
  EXPECT_EQ(seen[3].committed_since, t0 + 2s);
}

TEST(lag_rule, a_restored_window_goes_on_where_it_was) {
  lag_evaluator before({.window_size = 3, .stop_after = 10s});
  for (int i = 0; i < 8; i += 2) observe(before, i, 100, 130);
  ASSERT_EQ(observe(before, 8, 100, 130).status, lag_status::stalled);

  lag_evaluator after({.window_size = 3, .stop_after = 10s});
  for (const auto& [where, window] : before.windows()) {
    after.restore(where, {window.observations().begin(), window.observations().end()});
  }
  // Offset 100 since t=0: at t=10 it has not moved for 10 s, which only the restored committed_since knows.
  auto v = observe(after, 10, 100, 130);
  EXPECT_EQ(v.status, lag_status::stopped) << v.reason;
}

TEST(lag_rule, a_failed_query_makes_every_topic_an_error) {
  auto verdicts = lag_evaluator::failed("job-processor", {"job-lifecycle", "job-lifecycle.dlq"}, "_TRANSPORT: down");
  ASSERT_EQ(verdicts.size(), 2u);
  for (const auto& v : verdicts) {
    EXPECT_EQ(v.group, "job-processor");
    EXPECT_EQ(v.status, lag_status::error);
    EXPECT_EQ(v.reason, "lag not measured: _TRANSPORT: down");
  }
  EXPECT_EQ(verdicts[1].topic, "job-lifecycle.dlq");
}

TEST(lag_rule, statuses_rank_from_ok_to_error) {
  std::vector order{lag_status::ok, lag_status::warning, lag_status::stalled, lag_status::stopped, lag_status::error};
  for (std::size_t i = 1; i < order.size(); ++i) EXPECT_LT(severity_rank(order[i - 1]), severity_rank(order[i]));
  EXPECT_EQ(status_name(lag_status::stalled), "stalled");
}

}  // namespace
}  // namespace horizons::health_monitor
