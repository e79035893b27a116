// The operator commands against the embedded cluster, as a person or a
// script runs them: dead letters listed and replayed once, topics ensured,
// health and lag reported.
#include <horizons/consumer.hpp>
#include <horizons/producer.hpp>
#include <horizons/sample.hpp>
#include <horizons/testkit/cluster_fixture.hpp>
#include <horizons/topic_reader.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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
    auto reader = topic_reader::open(config(), topic, read_from::beginning);
    EXPECT_TRUE(reader);
    std::size_t count = 0;
    for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;) {
      auto record = (*reader)->next(500ms);
      if (!record || (!*record && (*reader)->at_end())) break;
      if (!*record) continue;
      ++count;
      if (ids) ids->insert(std::string((*record)->header("event-id").value_or("")));
    }
    return count;
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

}  // namespace
}  // namespace horizons
