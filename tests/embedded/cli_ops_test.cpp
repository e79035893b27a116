// The operator commands against the embedded cluster, as a person or a
// script runs them: dead letters listed and replayed once, topics ensured (and
// drift failing the command), health and lag reported, jobs submitted, a topic
// tailed.
#include <horizons/catalogue.hpp>
#include <horizons/consumer.hpp>
#include <horizons/embedded_cluster.hpp>
#include <horizons/producer.hpp>
#include <horizons/sample.hpp>
#include <horizons/testkit/cluster_fixture.hpp>
#include <horizons/testkit/topic_contents.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <set>

#include "child_process.hpp"

namespace horizons {
namespace {

using namespace std::chrono_literals;

class cli_ops : public testkit::cluster_fixture {
 protected:
  struct outcome {
    int exit_code;
    std::vector<std::string> lines;
  };
  outcome horizons_cli(std::vector<std::string> args) {
    args.insert(args.begin(), HORIZONS_CLI);
    args.insert(args.end(), {"--brokers", config().brokers});
    testing_support::child_process child(args);
    outcome result{};
    result.exit_code = child.finish(result.lines);
    return result;
  }

  void publish(const std::vector<event<job_submitted>>& events) {
    auto made = producer::create({.config = config()});
    ASSERT_TRUE(made) << made.error().message;
    for (const auto& e : events) ASSERT_TRUE((*made)->publish(e));
    ASSERT_EQ((*made)->close(30s), 0u);
  }

  std::size_t records_in(const std::string& topic, std::set<std::string>* ids = nullptr) {
    auto records = testkit::read_topic(config(), topic);
    EXPECT_TRUE(records) << records.error();
    if (!records) return 0;
    for (const auto& r : *records) {
      if (ids) ids->insert(std::string(r.header("event-id").value_or("")));
    }
    return records->size();
  }
};

TEST_F(cli_ops, dlq_list_shows_why_and_replay_republishes_each_dead_letter_once) {
  event_sampler sampler(21);
  std::vector<event<job_submitted>> events;
  for (int i = 0; i < 50; ++i) events.push_back(sampler.next<job_submitted>());
  publish(events);
  std::set<std::string> rejected;
  for (int i = 0; i < 5; ++i) rejected.insert(events[static_cast<std::size_t>(i) * 9].payload.job_id);

  auto made = consumer::create({.config = config(), .topics = {topic_id::job_lifecycle}, .retry = {.max_attempts = 1}});
  ASSERT_TRUE(made) << made.error().message;
  (*made)->on<job_submitted>([&](const envelope&, const job_submitted& job, const message_context&) -> handler_result {
    if (rejected.contains(job.job_id)) return std::unexpected("quota exceeded");
    return {};
  });
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       (*made)->stats().handled + (*made)->stats().dead_lettered < events.size() &&
       std::chrono::steady_clock::now() < deadline;) {
    ASSERT_TRUE((*made)->poll(100ms));
  }
  ASSERT_TRUE((*made)->close());

  auto listed = horizons_cli({"dlq", "list", "job-lifecycle", "--json"});
  ASSERT_EQ(listed.exit_code, 0);
  ASSERT_EQ(listed.lines.size(), rejected.size());
  for (const auto& line : listed.lines) {
    auto entry = nlohmann::json::parse(line);
    EXPECT_EQ(entry["error-class"], "handler");
    EXPECT_EQ(entry["error-message"], "quota exceeded");
    EXPECT_EQ(entry["attempts"], 1);
    EXPECT_TRUE(entry["original-offset"].is_number()) << line;
    EXPECT_EQ(entry["original-topic"], "job-lifecycle");
    EXPECT_TRUE(rejected.contains(entry["event"]["payload"]["job_id"].get<std::string>()));
  }

  auto replayed = horizons_cli({"dlq", "replay", "job-lifecycle"});
  EXPECT_EQ(replayed.exit_code, 0);
  std::set<std::string> ids;
  EXPECT_EQ(records_in("job-lifecycle", &ids), events.size() + rejected.size());
  auto again = horizons_cli({"dlq", "replay", "job-lifecycle"});
  EXPECT_EQ(again.exit_code, 0);
  auto total = records_in("job-lifecycle");
  std::printf("published %zu, dead-lettered %zu, topic after two replays %zu records\n", events.size(),
              listed.lines.size(), total);
  EXPECT_EQ(total, events.size() + rejected.size()) << "the second replay must not republish";
}

TEST_F(cli_ops, topics_health_and_lag_report_on_the_cluster) {
  auto ensured = horizons_cli({"topics", "ensure", "--json"});
  ASSERT_EQ(ensured.exit_code, 0);
  std::string ensure_text;
  for (const auto& l : ensured.lines) ensure_text += l;
  auto report = nlohmann::json::parse(ensure_text);
  EXPECT_EQ(report["existing"].size(), 10u);
  EXPECT_TRUE(report["drifts"].empty());

  auto health = horizons_cli({"health", "--json"});
  EXPECT_EQ(health.exit_code, 0);
  std::string health_text;
  for (const auto& l : health.lines) health_text += l;
  EXPECT_EQ(nlohmann::json::parse(health_text)["brokers_up"], 3);

  event_sampler sampler(22);
  std::vector<event<job_submitted>> events;
  for (int i = 0; i < 30; ++i) events.push_back(sampler.next<job_submitted>());
  publish(events);
  auto lag = horizons_cli({"lag", "--json"});
  ASSERT_EQ(lag.exit_code, 0);
  std::string lag_text;
  for (const auto& l : lag.lines) lag_text += l;
  bool found = false;
  for (const auto& row : nlohmann::json::parse(lag_text)) {
    if (row["topic"] == "job-lifecycle") {
      found = true;
      EXPECT_EQ(row["group"], "job-processor");
      EXPECT_EQ(row["lag_messages"], 30);
    }
  }
  EXPECT_TRUE(found);
}

// `horizons submit` publishes one job.submitted as the user named, and prints its ids; `horizons tail`
// prints what arrives after it started, nothing from before, and ends cleanly on SIGTERM.
TEST_F(cli_ops, submit_publishes_a_job_and_tail_follows_what_arrives_after_it) {
  auto before = horizons_cli({"submit", "--user", "alice", "--name", "before", "--job-id", "job-before-tail"});
  ASSERT_EQ(before.exit_code, 0);
  ASSERT_EQ(before.lines.size(), 1u);
  auto printed = nlohmann::json::parse(before.lines.front());
  EXPECT_EQ(printed["job_id"], "job-before-tail");
  std::set<std::string> event_ids;
  EXPECT_EQ(records_in("job-lifecycle", &event_ids), 1u);
  EXPECT_TRUE(event_ids.contains(printed["event_id"].get<std::string>()));

  testing_support::child_process tail({HORIZONS_CLI, "tail", "job-lifecycle", "--json", "--brokers", config().brokers});
  // tail starts at the end once its reader is assigned: submit until it prints one.
  std::set<std::string> submitted;
  std::optional<nlohmann::json> seen;
  for (int attempt = 0; attempt < 15 && !seen; ++attempt) {
    const auto id = "job-tail-" + std::to_string(attempt);
    auto done = horizons_cli({"submit", "--user", "alice", "--name", "m87", "--job-id", id});
    ASSERT_EQ(done.exit_code, 0);
    submitted.insert(id);
    if (auto line = tail.read_line(2s)) seen = nlohmann::json::parse(*line);
  }
  ASSERT_TRUE(seen) << "tail printed nothing in 30 s";
  EXPECT_EQ((*seen)["event_type"], "job.submitted");
  EXPECT_EQ((*seen)["user_id"], "alice");
  EXPECT_TRUE(submitted.contains((*seen)["payload"]["job_id"].get<std::string>()))
      << "tail printed an event from before it started: " << seen->dump();
  EXPECT_EQ(tail.terminate(), 0) << "tail ends cleanly on SIGTERM";

  auto refused = horizons_cli({"submit", "--name", "m87"});
  EXPECT_EQ(refused.exit_code, 2) << "no --user, no --via";
}

// `horizons topics ensure` reports a topic that differs from the catalogue as drift and exits 1.
TEST(cli_ops_drift, topics_ensure_exits_1_naming_a_drifted_topic) {
  auto cluster = embedded_cluster::start({.brokers = 3, .create_catalogue_topics = false});
  ASSERT_TRUE(cluster) << cluster.error().message;
  for (const auto& t : catalogue) {
    for (const auto& name : {std::string(t.name()), t.dlq_name()}) {
      ASSERT_TRUE((*cluster)->create_topic(name, name == "job-metrics" ? 3 : t.partitions));
    }
  }
  testing_support::child_process ensure(
      {HORIZONS_CLI, "topics", "ensure", "--json", "--brokers", (*cluster)->bootstrap_servers()});
  std::vector<std::string> lines;
  EXPECT_EQ(ensure.finish(lines), 1) << "drift fails the command";
  std::string text;
  for (const auto& l : lines) text += l;
  auto report = nlohmann::json::parse(text);
  ASSERT_EQ(report["drifts"].size(), 1u) << text;
  EXPECT_EQ(report["drifts"][0]["topic"], "job-metrics");
  EXPECT_EQ(report["drifts"][0]["setting"], "partitions");
  EXPECT_EQ(report["drifts"][0]["expected"], std::to_string(spec(topic_id::job_metrics).partitions));
  EXPECT_EQ(report["drifts"][0]["actual"], "3");
  EXPECT_TRUE(report["created"].empty());
}

}  // namespace
}  // namespace horizons
