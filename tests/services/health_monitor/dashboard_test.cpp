// The dashboard's JSON API and SSE framing (services/health_monitor/dashboard.hpp), the traffic
// meter, the job timelines in the monitor's state, and the endpoint serving them on loopback.
#include "services/health_monitor/dashboard.hpp"

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "services/common/sql/sql.hpp"
#include "services/health_monitor/dashboard_assets.hpp"
#include "services/health_monitor/http_endpoint.hpp"
#include "services/health_monitor/monitor_state.hpp"
#include "services/health_monitor/traffic.hpp"

namespace horizons::health_monitor {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

const timestamp t0{std::chrono::seconds(1'800'000'000)};

int port_of(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

snapshot evaluation(std::uint64_t n) {
  snapshot s{.checked_at = t0 + std::chrono::seconds(2 * n), .status = overall_status::ok};
  s.evaluations = n;
  s.jobs = {.active = 3, .pending = 2, .failed_24h = 1, .submitted = 1, .queued = 1, .completed_24h = 7};
  s.groups = {{.group = "job-processor",
               .topic = "job-lifecycle",
               .status = lag_status::stalled,
               .lag_messages = 12,
               .lag_seconds = 4.5,
               .reason = "r"}};
  s.topics = {{.topic = "job-lifecycle", .events_total = 40, .events_per_s = 2.5, .latency_samples = 5, .p99_ms = 9},
              {.topic = "job-metrics", .events_total = 0}};
  s.dead_letters = {{"job-lifecycle.dlq", 2}, {"job-metrics.dlq", 1}};
  s.recent_alerts = {
      {.at = t0, .alert_id = "message-broker", .action = "raised", .severity = "WARNING", .message = "m"}};
  return s;
}

TEST(dashboard_api, overview_before_the_first_evaluation_says_so) {
  auto o = json::parse(render_overview(nullptr));
  EXPECT_EQ(o["evaluation"], 0);
  EXPECT_TRUE(o["checked_at"].is_null());
  EXPECT_EQ(o["reasons"], json::array({"no evaluation yet"}));
}

TEST(dashboard_api, overview_carries_jobs_lag_traffic_dead_letters_and_alerts) {
  auto s = evaluation(7);
  auto o = json::parse(render_overview(&s));
  EXPECT_EQ(o["evaluation"], 7);
  EXPECT_EQ(o["checked_at"], "2027-01-15T08:00:14.000000Z");
  EXPECT_EQ(o["jobs"],
            (json{{"SUBMITTED", 1}, {"QUEUED", 1}, {"RUNNING", 3}, {"COMPLETED", 7}, {"FAILED", 1}, {"CANCELLED", 0}}));
  EXPECT_EQ(o["groups"][0]["status"], "stalled");
  EXPECT_EQ(o["groups"][0]["lag_seconds"], 4.5);
  EXPECT_EQ(o["topics"][0]["p99_ms"], 9.0);
  EXPECT_EQ(o["dead_letters"]["job-lifecycle.dlq"], 2);
  EXPECT_EQ(o["recent_alerts"][0]["severity"], "WARNING");
  const auto& p = o["point"];
  EXPECT_EQ(p["evaluation"], 7);
  EXPECT_EQ(p["events_per_s"]["job-lifecycle"], 2.5);
  EXPECT_EQ(p["p99_ms"]["job-lifecycle"], 9.0);
  EXPECT_TRUE(p["p99_ms"]["job-metrics"].is_null()) << "no record in the interval: no latency, not 0";
  EXPECT_EQ(p["lag"][0]["messages"], 12);
  EXPECT_EQ(p["dead_letters"], 3);
}

TEST(dashboard_api, history_keeps_only_the_last_evaluations_oldest_first) {
  evaluation_history history(3);
  for (std::uint64_t n = 1; n <= 5; ++n) history.add(evaluation(n));
  auto h = json::parse(render_history(history));
  EXPECT_EQ(h["capacity"], 3);
  ASSERT_EQ(h["points"].size(), 3U);
  EXPECT_EQ(h["points"][0]["evaluation"], 3);
  EXPECT_EQ(h["points"][2]["evaluation"], 5);
  EXPECT_EQ(json::parse(render_history(evaluation_history(2)))["points"], json::array());
}

TEST(dashboard_api, sse_frames_split_data_into_lines_and_end_with_a_blank_line) {
  EXPECT_EQ(sse_frame("evaluation", 4, R"({"a":1})"), "id: 4\nevent: evaluation\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(sse_frame("e", 1, "one\ntwo\r\nthree\rfour"),
            "id: 1\nevent: e\ndata: one\ndata: two\ndata: three\ndata: four\n\n");
  EXPECT_EQ(sse_frame("e", 2, ""), "id: 2\nevent: e\ndata: \n\n");
  EXPECT_EQ(sse_frame("e", 3, "end\n"), "id: 3\nevent: e\ndata: end\ndata: \n\n");
}

TEST(traffic_meter, rates_and_percentiles_per_interval_and_dead_letters_in_total) {
  traffic_meter meter({"job-lifecycle", "job-metrics"});
  auto start = std::chrono::steady_clock::now();
  (void)meter.take(start);
  for (int ms = 1; ms <= 100; ++ms) meter.record("job-lifecycle", t0, t0 + std::chrono::milliseconds(ms));
  meter.record("job-lifecycle", std::nullopt, t0);  // counted, no latency
  meter.dead_letter("job-metrics.dlq");
  meter.watch_dead_letters("audit-trail.dlq");
  meter.watch_dead_letters("job-metrics.dlq");  // already counted: stays counted
  auto first = meter.take(start + 2s);
  ASSERT_EQ(first.topics.size(), 2U);
  EXPECT_EQ(first.topics[0].topic, "job-lifecycle");
  EXPECT_EQ(first.topics[0].events_total, 101U);
  EXPECT_DOUBLE_EQ(first.topics[0].events_per_s, 50.5);
  EXPECT_EQ(first.topics[0].latency_samples, 100U);
  EXPECT_DOUBLE_EQ(first.topics[0].p50_ms, 51);
  EXPECT_DOUBLE_EQ(first.topics[0].p99_ms, 100);
  EXPECT_DOUBLE_EQ(first.topics[0].max_ms, 100);
  EXPECT_EQ(first.topics[1].events_total, 0U);
  EXPECT_EQ(first.dead_letters.at("job-metrics.dlq"), 1U);
  EXPECT_EQ(first.dead_letters.at("audit-trail.dlq"), 0U);

  auto second = meter.take(start + 4s);
  EXPECT_EQ(second.topics[0].events_total, 101U);
  EXPECT_EQ(second.topics[0].events_per_s, 0);
  EXPECT_EQ(second.topics[0].latency_samples, 0U);
  EXPECT_EQ(second.dead_letters.at("job-metrics.dlq"), 1U);
}

TEST(traffic_meter, produced_at_headers_parse_as_microseconds) {
  EXPECT_EQ(parse_produced_at("1800000000000000"), t0);
  EXPECT_FALSE(parse_produced_at(""));
  EXPECT_FALSE(parse_produced_at("18e5"));
  EXPECT_FALSE(parse_produced_at("12 "));
}

class job_timelines : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("horizons-dashboard-test-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto db = sql::database::open(path());
    ASSERT_TRUE(db) << db.error().message;
    ASSERT_TRUE(create_monitor_tables(*db));
    db_.emplace(std::move(*db));
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  [[nodiscard]] std::filesystem::path path() const { return dir_ / "state.db"; }

  static job_event_row row(std::string job, std::string event, std::int64_t offset, std::string status,
                           timestamp read_at) {
    return {.job_id = std::move(job),
            .event_id = std::move(event),
            .partition = 1,
            .offset = offset,
            .event_type = "job.status.changed",
            .status = std::move(status),
            .occurred_at = read_at,
            .read_at = read_at,
            .detail = {}};
  }

  std::filesystem::path dir_;
  std::optional<sql::database> db_;
};

TEST_F(job_timelines, come_back_in_topic_order_once_each_and_are_pruned) {
  std::vector<job_event_row> rows{row("job-a", "e3", 30, "RUNNING", t0 + 3s), row("job-a", "e1", 10, "SUBMITTED", t0),
                                  row("job-b", "e9", 5, "SUBMITTED", t0 + 1h), row("job-a", "e2", 20, "QUEUED", t0)};
  ASSERT_TRUE(store_job_events(*db_, rows));
  ASSERT_TRUE(store_job_events(*db_, std::span(rows).first(1)));  // a republished record
  auto a = load_job_events(*db_, "job-a");
  ASSERT_TRUE(a);
  ASSERT_EQ(a->size(), 3U);
  EXPECT_EQ((*a)[0].status, "SUBMITTED");
  EXPECT_EQ((*a)[1].status, "QUEUED");
  EXPECT_EQ((*a)[2].status, "RUNNING");
  EXPECT_TRUE(load_job_events(*db_, "job-zzz")->empty());
  EXPECT_EQ(*find_jobs(*db_, "job-", 10), (std::vector<std::string>{"job-b", "job-a"}));
  EXPECT_EQ(*find_jobs(*db_, "job-a", 10), (std::vector<std::string>{"job-a"}));

  auto aged = prune_job_events(*db_, t0 + 1s, 100);  // job-a's first two were read before
  ASSERT_TRUE(aged);
  EXPECT_EQ(*aged, 2);
  auto surplus = prune_job_events(*db_, t0, 1);  // only the job read last stays
  ASSERT_TRUE(surplus);
  EXPECT_EQ(*surplus, 1);
  EXPECT_TRUE(load_job_events(*db_, "job-a")->empty());
  EXPECT_EQ(load_job_events(*db_, "job-b")->size(), 1U);
}

TEST_F(job_timelines, are_served_with_the_history_the_overview_and_the_stream) {
  ASSERT_TRUE(store_job_events(
      *db_, std::vector{row("job-a", "e1", 10, "SUBMITTED", t0), row("job-a", "e2", 11, "QUEUED", t0 + 1s)}));
  auto endpoint = http_endpoint::start("127.0.0.1:0", {.history_size = 2, .max_streams = 1, .keepalive = 100ms});
  ASSERT_TRUE(endpoint) << endpoint.error();
  httplib::Client client("127.0.0.1", port_of((*endpoint)->address()));
  EXPECT_EQ(client.Get("/api/jobs/job-a")->status, 503) << "before serve_jobs_from";
  (*endpoint)->serve_jobs_from(path());

  auto job = client.Get("/api/jobs/job-a");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->status, 200);
  auto body = json::parse(job->body);
  ASSERT_EQ(body["events"].size(), 2U);
  EXPECT_EQ(body["events"][0]["status"], "SUBMITTED");
  EXPECT_EQ(body["events"][1]["status"], "QUEUED");
  EXPECT_EQ(client.Get("/api/jobs/job-nobody")->status, 404);
  EXPECT_EQ(json::parse(client.Get("/api/jobs?prefix=job&limit=5")->body)["jobs"], json::array({"job-a"}));
  EXPECT_EQ(client.Get("/api/jobs?prefix=job&limit=0")->status, 400);

  auto page = client.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<script src=\"/dashboard.js\">"), std::string::npos);
  for (const auto& asset : dashboard_assets()) {
    auto served = client.Get(std::string(asset.path));
    ASSERT_TRUE(served);
    EXPECT_EQ(served->status, 200) << asset.path;
    EXPECT_EQ(served->body.size(), asset.body.size()) << asset.path;
  }
  EXPECT_EQ(json::parse(client.Get("/api/overview")->body)["evaluation"], 0);

  // The stream: what there is at once, then one event per publish, in order.
  std::string received;
  std::thread reader([&] {
    httplib::Client streaming("127.0.0.1", port_of((*endpoint)->address()));
    streaming.set_read_timeout(5s);
    (void)streaming.Get("/api/stream", [&](const char* data, std::size_t length) {
      received.append(data, length);
      return received.find("id: 3\n") == std::string::npos;  // enough once the third evaluation came
    });
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(client.Get("/api/stream")->status, 503) << "max_streams is 1";
  for (std::uint64_t n = 1; n <= 3; ++n) {
    (*endpoint)->publish(evaluation(n));
    std::this_thread::sleep_for(150ms);
  }
  reader.join();
  EXPECT_TRUE(received.starts_with("retry: 2000\n\n")) << received;
  auto first = received.find("id: 1\nevent: evaluation\ndata: {");
  auto third = received.find("id: 3\nevent: evaluation\ndata: {");
  ASSERT_NE(first, std::string::npos) << received;
  ASSERT_NE(third, std::string::npos) << received;
  EXPECT_LT(first, received.find("id: 2\n"));
  EXPECT_NE(received.find(": keep-alive\n\n"), std::string::npos) << "a comment between evaluations: " << received;

  auto history = json::parse(client.Get("/api/history")->body);
  ASSERT_EQ(history["points"].size(), 2U);
  EXPECT_EQ(history["points"][1]["evaluation"], 3);
  EXPECT_EQ(json::parse(client.Get("/api/overview")->body)["evaluation"], 3);
}

}  // namespace
}  // namespace horizons::health_monitor
