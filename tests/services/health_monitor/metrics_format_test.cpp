// /metrics and /healthz bodies rendered from a snapshot: the Prometheus text
// exposition format 0.0.4 (every line parses, families declared once before
// their samples, label values escaped) and the /healthz JSON.
#include "services/health_monitor/http_endpoint.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace horizons::health_monitor {
namespace {

snapshot sample_snapshot() {
  return {
      .checked_at = timestamp(std::chrono::seconds(1'800'000'000)),
      .status = overall_status::degraded,
      .reasons = {"metrics-aggregator on job-metrics: stopped: job-metrics[3]: the group never committed"},
      .brokers = {.status = health_status::degraded,
                  .detail = "2 of 3 brokers up; broker 1 down: no answer",
                  .brokers_up = 2,
                  .expected_brokers = 3,
                  .leaderless = 0,
                  .leader_unreachable = 12,
                  .under_replicated = 1,
                  .response_time_ms = 12.5},
      .database = health_status::healthy,
      .database_detail = "state.db: 0 events waiting to be published",
      .groups = {{.group = "metrics-aggregator",
                  .topic = "job-metrics",
                  .status = lag_status::stopped,
                  .lag_messages = 40,
                  .lag_seconds = 3.25,
                  .reason = "job-metrics[3]: the group never committed while 40 records wait"},
                 {.group = "job-processor",
                  .topic = "job-lifecycle",
                  .status = lag_status::ok,
                  .reason = "all 10 partitions ok"},
                 {.group = "we\"ird\\group\nx", .topic = "t", .status = lag_status::warning, .lag_messages = 7}},
      .jobs = {.active = 3, .pending = 5, .failed_24h = 1},
      .queue_depth = 17,
      .response_time_ms = 250,
      .open_alerts = {"consumer-lag:metrics-aggregator:job-metrics", "message-broker"},
      .evaluations = 42,
      .alerts_raised = 2,
  };
}

struct sample_line {
  std::string name;
  std::map<std::string, std::string> labels;  // unescaped values
  double value;
};

std::string unescape(const std::string& escaped) {
  std::string out;
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '\\' && i + 1 < escaped.size()) {
      char next = escaped[++i];
      out += next == 'n' ? '\n' : next;
    } else {
      out += escaped[i];
    }
  }
  return out;
}

// Parses an exposition, failing the test on any line that does not follow format 0.0.4.
std::vector<sample_line> parse_exposition(const std::string& text) {
  static const std::string name = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  static const std::string label_name = "[a-zA-Z_][a-zA-Z0-9_]*";
  static const std::string label_value = R"re("(?:[^"\\\n]|\\[\\"n])*")re";  // escapes: \\ \" \n only
  static const std::string label = label_name + "=" + label_value;
  static const std::string value = R"re([-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|NaN|Inf))re";
  static const std::regex help_line("# HELP (" + name + ") .*");
  static const std::regex type_line("# TYPE (" + name + ") (counter|gauge|histogram|summary|untyped)");
  static const std::regex sample("(" + name + ")(?:\\{(" + label + "(?:," + label + ")*)\\})? (" + value + ")");
  static const std::regex one_label("(" + label_name + ")=\"((?:[^\"\\\\]|\\\\.)*)\"");

  EXPECT_TRUE(text.ends_with('\n'));
  std::vector<sample_line> samples;
  std::set<std::string> helped, typed;
  std::string family;  // the family whose samples may follow
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_match(line, m, help_line)) {
      EXPECT_TRUE(helped.insert(m[1]).second) << "HELP twice: " << line;
    } else if (std::regex_match(line, m, type_line)) {
      EXPECT_TRUE(helped.contains(m[1])) << "TYPE before HELP: " << line;
      EXPECT_TRUE(typed.insert(m[1]).second) << "TYPE twice: " << line;
      family = m[1];
    } else if (std::regex_match(line, m, sample)) {
      sample_line parsed{.name = m[1], .labels = {}, .value = std::stod(m[3])};
      EXPECT_EQ(parsed.name, family) << "sample outside its family: " << line;
      std::string labels = m[2];
      for (std::sregex_iterator it(labels.begin(), labels.end(), one_label), end; it != end; ++it) {
        EXPECT_TRUE(parsed.labels.emplace((*it)[1], unescape((*it)[2])).second) << "label twice: " << line;
      }
      samples.push_back(std::move(parsed));
    } else {
      ADD_FAILURE() << "not exposition format 0.0.4: '" << line << "'";
    }
  }
  return samples;
}

double value_of(const std::vector<sample_line>& samples, const std::string& name,
                const std::map<std::string, std::string>& labels = {}) {
  std::optional<double> found;
  for (const auto& s : samples) {
    if (s.name != name || s.labels != labels) continue;
    EXPECT_FALSE(found) << name << " appears twice with the same labels";
    found = s.value;
  }
  EXPECT_TRUE(found) << name << " missing";
  return found.value_or(-1);
}

TEST(metrics_format, every_line_of_the_exposition_parses) {
  auto text = render_metrics(sample_snapshot());
  auto samples = parse_exposition(text);
  EXPECT_GT(samples.size(), 20u);
}

TEST(metrics_format, gauges_and_counters_carry_the_snapshot) {
  auto samples = parse_exposition(render_metrics(sample_snapshot()));
  EXPECT_EQ(value_of(samples, "horizons_brokers_up"), 2);
  EXPECT_EQ(value_of(samples, "horizons_brokers_expected"), 3);
  EXPECT_EQ(value_of(samples, "horizons_partitions_leader_unreachable"), 12);
  EXPECT_EQ(value_of(samples, "horizons_partitions_under_replicated"), 1);
  EXPECT_EQ(value_of(samples, "horizons_partitions_leaderless"), 0);
  EXPECT_EQ(
      value_of(samples, "horizons_consumer_lag_messages", {{"group", "metrics-aggregator"}, {"topic", "job-metrics"}}),
      40);
  EXPECT_EQ(
      value_of(samples, "horizons_consumer_lag_seconds", {{"group", "metrics-aggregator"}, {"topic", "job-metrics"}}),
      3.25);
  EXPECT_EQ(value_of(samples, "horizons_health_jobs", {{"state", "active"}}), 3);
  EXPECT_EQ(value_of(samples, "horizons_health_jobs", {{"state", "pending"}}), 5);
  EXPECT_EQ(value_of(samples, "horizons_health_jobs", {{"state", "failed_24h"}}), 1);
  EXPECT_EQ(value_of(samples, "horizons_queue_depth"), 17);
  EXPECT_EQ(value_of(samples, "horizons_alerts_open"), 2);
  EXPECT_EQ(value_of(samples, "horizons_health_evaluation_seconds"), 0.25);
  EXPECT_EQ(value_of(samples, "horizons_health_evaluations_total"), 42);
  EXPECT_EQ(value_of(samples, "horizons_alerts_raised_total"), 2);
  EXPECT_EQ(value_of(samples, "horizons_health_status", {{"status", "degraded"}}), 1);
  EXPECT_EQ(value_of(samples, "horizons_health_status", {{"status", "ok"}}), 0);
}

TEST(metrics_format, counters_are_typed_as_counters_and_end_in_total) {
  auto text = render_metrics(sample_snapshot());
  EXPECT_NE(text.find("# TYPE horizons_health_evaluations_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE horizons_alerts_raised_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE horizons_consumer_lag_messages gauge\n"), std::string::npos);
}

TEST(metrics_format, the_lag_status_is_one_hot_per_group_and_topic) {
  auto snap = sample_snapshot();
  auto samples = parse_exposition(render_metrics(snap));
  for (const auto& g : snap.groups) {
    double sum = 0;
    for (auto status : {"ok", "warning", "stalled", "stopped", "error"}) {
      double v = value_of(samples, "horizons_consumer_lag_status",
                          {{"group", g.group}, {"topic", g.topic}, {"status", status}});
      EXPECT_EQ(v, status == status_name(g.status) ? 1 : 0) << g.group << " " << status;
      sum += v;
    }
    EXPECT_EQ(sum, 1) << g.group;
  }
}

TEST(metrics_format, label_values_are_escaped) {
  auto text = render_metrics(sample_snapshot());
  // Backslash, double quote and line feed escaped; the parser gives the original name back.
  EXPECT_NE(text.find(R"(horizons_consumer_lag_messages{group="we\"ird\\group\nx",topic="t"} 7)"), std::string::npos)
      << text;
  auto samples = parse_exposition(text);
  EXPECT_EQ(value_of(samples, "horizons_consumer_lag_messages", {{"group", "we\"ird\\group\nx"}, {"topic", "t"}}), 7);
}

TEST(metrics_format, an_empty_snapshot_still_renders_every_family) {
  auto samples = parse_exposition(render_metrics(snapshot{}));
  EXPECT_EQ(value_of(samples, "horizons_brokers_up"), 0);
  EXPECT_EQ(std::ranges::count(samples, std::string("horizons_consumer_lag_messages"), &sample_line::name), 0);
}

TEST(healthz, the_body_holds_status_reasons_brokers_and_groups) {
  auto snap = sample_snapshot();
  auto body = nlohmann::json::parse(render_healthz(snap));
  EXPECT_EQ(body["status"], "degraded");
  EXPECT_EQ(body["checked_at"], "2027-01-15T08:00:00.000000Z");
  ASSERT_EQ(body["reasons"].size(), 1u);
  EXPECT_EQ(body["reasons"][0], snap.reasons[0]);
  EXPECT_EQ(body["brokers"]["status"], "degraded");
  EXPECT_EQ(body["brokers"]["up"], 2);
  EXPECT_EQ(body["brokers"]["expected"], 3);
  EXPECT_EQ(body["brokers"]["leader_unreachable_partitions"], 12);
  EXPECT_EQ(body["database"]["status"], "healthy");
  EXPECT_EQ(body["jobs"]["queue_depth"], 17);
  ASSERT_EQ(body["groups"].size(), 3u);
  const auto& g = body["groups"][0];
  EXPECT_EQ(g["group"], "metrics-aggregator");
  EXPECT_EQ(g["topic"], "job-metrics");
  EXPECT_EQ(g["status"], "stopped");
  EXPECT_EQ(g["lag_messages"], 40);
  EXPECT_EQ(g["lag_seconds"], 3.25);
  EXPECT_EQ(g["reason"], snap.groups[0].reason);
  EXPECT_EQ(body["open_alerts"].size(), 2u);
  EXPECT_EQ(healthz_code(snap), 200);
}

TEST(healthz, down_is_503_and_ok_and_degraded_are_200) {
  auto snap = sample_snapshot();
  snap.status = overall_status::down;
  EXPECT_EQ(healthz_code(snap), 503);
  snap.status = overall_status::ok;
  EXPECT_EQ(healthz_code(snap), 200);
  EXPECT_EQ(nlohmann::json::parse(render_healthz(snap))["status"], "ok");
}

}  // namespace
}  // namespace horizons::health_monitor
