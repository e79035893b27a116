// The health monitor against the embedded (librdkafka mock) cluster: a group
// that never commits while records wait is judged stopped and alerted; it
// resolves once the group commits; /healthz and /metrics tell the same
// story; a restarted monitor neither raises an open alert again nor forgets
// its windows; a broker down degrades the message broker component with a
// critical alert that reaches the notifications topic once the broker is back.
#include "services/health_monitor/monitor.hpp"

#include <horizons/codec.hpp>
#include <horizons/producer.hpp>
#include <horizons/sample.hpp>
#include <horizons/testkit/cluster_fixture.hpp>
#include <horizons/testkit/topic_contents.hpp>
#include <horizons/topic_reader.hpp>
#include <horizons/uuid.hpp>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

namespace horizons::health_monitor {
namespace {

using namespace std::chrono_literals;

const std::string metrics_alert = "consumer-lag:metrics-aggregator:job-metrics";
const std::string lifecycle_alert = "consumer-lag:job-processor:job-lifecycle";
const std::string broker_alert = "message-broker";

// One run() on its own thread; every snapshot it reports is kept.
class monitor_thread {
 public:
  explicit monitor_thread(options opts)
      : thread_([this, opts = std::move(opts)](std::stop_token stop) {
          auto ran = run(opts, stop, [this](const snapshot& s) {
            std::lock_guard lock(mutex_);
            snapshots_.push_back(s);
            changed_.notify_all();
          });
          std::lock_guard lock(mutex_);
          result_ = ran;
          changed_.notify_all();
        }) {}

  ~monitor_thread() { stop(); }

  // The first snapshot after the `skip` first that satisfies `wanted`, waiting up to `timeout`.
  std::optional<snapshot> wait_for(const std::function<bool(const snapshot&)>& wanted, std::chrono::seconds timeout,
                                   std::size_t skip = 0) {
    std::unique_lock lock(mutex_);
    std::optional<snapshot> found;
    changed_.wait_for(lock, timeout, [&] {
      for (std::size_t i = skip; i < snapshots_.size(); ++i) {
        if (wanted(snapshots_[i])) {
          found = snapshots_[i];
          return true;
        }
      }
      return result_.has_value();
    });
    return found;
  }

  std::size_t evaluations() {
    std::lock_guard lock(mutex_);
    return snapshots_.size();
  }

  std::expected<void, std::string> stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mutex_);
    return result_.value_or(std::unexpected("run() never returned"));
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<snapshot> snapshots_;
  std::optional<std::expected<void, std::string>> result_;
  std::jthread thread_;  // last: started once the members above exist
};

const topic_verdict* verdict_of(const snapshot& s, std::string_view group, std::string_view topic) {
  for (const auto& v : s.groups) {
    if (v.group == group && v.topic == topic) return &v;
  }
  return nullptr;
}

lag_status status_of(const snapshot& s, std::string_view group, std::string_view topic) {
  const auto* v = verdict_of(s, group, topic);
  return v ? v->status : lag_status::unknown;
}

bool alert_open(const snapshot& s, const std::string& id) {
  return std::ranges::find(s.open_alerts, id) != s.open_alerts.end();
}

// Every event on the notifications topic so far.
std::vector<notification_event> read_notifications(const client_config& config) {
  std::vector<notification_event> events;
  auto read = testkit::read_events(config, "notifications", 10s);
  EXPECT_TRUE(read) << read.error();
  if (!read) return events;
  for (const auto& e : *read) events.push_back(std::get<notification_event>(e));
  return events;
}

template <class Payload>
std::vector<event<Payload>> alerts_of(const std::vector<notification_event>& events, const std::string& id) {
  std::vector<event<Payload>> found;
  for (const auto& e : events) {
    if (const auto* p = std::get_if<Payload>(&e.payload); p && p->alert_id == id) {
      event<Payload> typed;
      static_cast<envelope&>(typed) = e;
      typed.payload = *p;
      found.push_back(std::move(typed));
    }
  }
  return found;
}

// Reads notifications until `wanted` holds for them (events are published by the outbox relay shortly
// after each evaluation commits).
std::vector<notification_event> wait_for_notifications(
    const client_config& config, const std::function<bool(const std::vector<notification_event>&)>& wanted,
    std::chrono::seconds timeout = 30s) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto events = read_notifications(config);
    if (wanted(events) || std::chrono::steady_clock::now() > until) return events;
    std::this_thread::sleep_for(300ms);
  }
}

template <class Payload>
void publish_all(const client_config& config, const std::vector<event<Payload>>& events) {
  std::atomic<int> failed{0};
  auto made = producer::create({.config = config, .on_delivery = [&](const delivery_report& r) {
                                  if (r.error) ++failed;
                                }});
  ASSERT_TRUE(made) << made.error().message;
  for (const auto& e : events) ASSERT_TRUE((*made)->publish(e));
  ASSERT_EQ((*made)->close(30s), 0u);
  ASSERT_EQ(failed.load(), 0);
}

// Commits `group` to the end of every partition of `topic` that holds records.
void commit_to_end(const client_config& config, const std::string& topic, const std::string& group) {
  auto reader = topic_reader::open(config, topic, read_from::beginning, group);
  ASSERT_TRUE(reader) << reader.error().message;
  std::map<std::int32_t, raw_record> last;
  auto until = std::chrono::steady_clock::now() + 15s;
  while (!(*reader)->at_end() && std::chrono::steady_clock::now() < until) {
    auto next = (*reader)->next(200ms);
    ASSERT_TRUE(next) << next.error().message;
    if (*next) last[(*next)->partition] = std::move(**next);
  }
  ASSERT_TRUE((*reader)->at_end());
  for (const auto& [partition, record] : last) ASSERT_TRUE((*reader)->commit(record)) << partition;
}

class health_monitor_service : public testkit::cluster_fixture {
 protected:
  void SetUp() override {
    cluster_fixture::SetUp();
    data_dir_ = std::filesystem::temp_directory_path() / ("health-monitor-test-" + uuid::random().to_string());
  }
  void TearDown() override {
    std::filesystem::remove_all(data_dir_);
    cluster_fixture::TearDown();
  }

  options monitor_options() {
    return {.config = config(),
            .data_dir = data_dir_,
            .interval = 300ms,
            .http_listen = "127.0.0.1:0",
            .expected_brokers = 3,
            .lag_rule = {.window_size = 3, .stop_after = 10min},
            .measure_timeout = 3s,
            .drain_timeout = 10s};
  }

  std::filesystem::path data_dir_;
};

TEST_F(health_monitor_service,
       judges_lag_raises_and_resolves_alerts_serves_http_and_survives_restarts_and_broker_loss) {
  event_sampler sampler(11);
  std::vector<event<job_metrics_recorded>> samples;
  for (int i = 0; i < 40; ++i) samples.push_back(sampler.next<job_metrics_recorded>());
  publish_all(config(), samples);
  if (HasFatalFailure()) return;

  // Jobs: a pending, b running, c failed. Eight lifecycle records nobody consumes.
  auto submitted = [&](const std::string& id) {
    auto e = sampler.next<job_submitted>();
    e.payload.job_id = id;
    return to_topic_event(e);
  };
  auto changed = [&](const std::string& id, job_status from, job_status to) {
    auto e = sampler.next<job_status_changed>();
    e.payload.job_id = id;
    e.payload.previous_status = from;
    e.payload.new_status = to;
    return to_topic_event(e);
  };
  publish_all(config(), std::vector{submitted("job-a"), submitted("job-b"),
                                    changed("job-b", job_status::submitted, job_status::queued),
                                    changed("job-b", job_status::queued, job_status::running), submitted("job-c"),
                                    changed("job-c", job_status::submitted, job_status::queued),
                                    changed("job-c", job_status::queued, job_status::running),
                                    changed("job-c", job_status::running, job_status::failed)});
  if (HasFatalFailure()) return;

  auto first = std::make_unique<monitor_thread>(monitor_options());
  auto stopped = first->wait_for(
      [](const snapshot& s) {
        return status_of(s, "metrics-aggregator", "job-metrics") == lag_status::stopped &&
               status_of(s, "job-processor", "job-lifecycle") == lag_status::stopped && s.jobs.pending == 1 &&
               s.jobs.active == 1 && s.jobs.failed_24h == 1 && alert_open(s, metrics_alert);
      },
      60s);
  ASSERT_TRUE(stopped) << "the groups never became stopped";
  const auto* metrics_verdict = verdict_of(*stopped, "metrics-aggregator", "job-metrics");
  std::printf("metrics-aggregator on job-metrics: %s, %lld messages, %.2f s: %s\n",
              std::string(status_name(metrics_verdict->status)).c_str(),
              static_cast<long long>(metrics_verdict->lag_messages), metrics_verdict->lag_seconds,
              metrics_verdict->reason.c_str());
  EXPECT_EQ(metrics_verdict->lag_messages, 40);
  EXPECT_GT(metrics_verdict->lag_seconds, 0);
  EXPECT_NE(metrics_verdict->reason.find("never committed"), std::string::npos) << metrics_verdict->reason;
  EXPECT_EQ(stopped->queue_depth, 8);
  EXPECT_EQ(stopped->status, overall_status::degraded);
  EXPECT_EQ(stopped->brokers.status, health_status::healthy) << stopped->brokers.detail;
  EXPECT_EQ(stopped->database, health_status::healthy) << stopped->database_detail;
  EXPECT_EQ(status_of(*stopped, "compliance-auditor", "audit-trail"), lag_status::ok);

  auto raised = wait_for_notifications(config(), [](const auto& events) {
    return !alerts_of<alert_raised>(events, metrics_alert).empty() &&
           !alerts_of<alert_raised>(events, lifecycle_alert).empty();
  });
  auto metrics_raised = alerts_of<alert_raised>(raised, metrics_alert);
  ASSERT_EQ(metrics_raised.size(), 1u);
  EXPECT_EQ(metrics_raised[0].payload.severity, alert_severity::critical);
  EXPECT_EQ(metrics_raised[0].payload.alert_type, "consumer_lag");
  EXPECT_EQ(metrics_raised[0].payload.affected_resource, "metrics-aggregator/job-metrics");
  EXPECT_EQ(metrics_raised[0].payload.metrics.at("lag_messages"), 40);
  EXPECT_NE(metrics_raised[0].payload.message.find("stopped"), std::string::npos) << metrics_raised[0].payload.message;
  ASSERT_EQ(alerts_of<alert_raised>(raised, lifecycle_alert).size(), 1u);

  // /healthz and /metrics on loopback say the same.
  auto address = stopped->http_address;
  ASSERT_FALSE(address.empty());
  httplib::Client http("127.0.0.1", std::stoi(address.substr(address.rfind(':') + 1)));
  auto healthz = http.Get("/healthz");
  ASSERT_TRUE(healthz) << httplib::to_string(healthz.error());
  EXPECT_EQ(healthz->status, 200);
  auto body = nlohmann::json::parse(healthz->body);
  EXPECT_EQ(body["status"], "degraded");
  EXPECT_EQ(body["brokers"]["up"], 3);
  bool listed = false;
  for (const auto& g : body["groups"]) {
    if (g["group"] == "metrics-aggregator" && g["topic"] == "job-metrics") {
      listed = true;
      EXPECT_EQ(g["status"], "stopped");
      EXPECT_EQ(g["lag_messages"], 40);
    }
  }
  EXPECT_TRUE(listed) << healthz->body;
  EXPECT_FALSE(body["reasons"].empty());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics) << httplib::to_string(metrics.error());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(
      metrics->body.find(
          "horizons_consumer_lag_status{group=\"metrics-aggregator\",topic=\"job-metrics\",status=\"stopped\"} 1\n"),
      std::string::npos)
      << metrics->body;
  EXPECT_NE(
      metrics->body.find("horizons_consumer_lag_messages{group=\"metrics-aggregator\",topic=\"job-metrics\"} 40\n"),
      std::string::npos);
  EXPECT_NE(metrics->body.find("\nhorizons_brokers_up 3\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("\nhorizons_health_jobs{state=\"active\"} 1\n"), std::string::npos);

  // The group catches up: ok, and the alert is resolved in the flow that raised it.
  auto before_commit = first->evaluations();
  commit_to_end(config(), "job-metrics", "metrics-aggregator");
  if (HasFatalFailure()) return;
  auto caught_up = first->wait_for(
      [](const snapshot& s) {
        return status_of(s, "metrics-aggregator", "job-metrics") == lag_status::ok && !alert_open(s, metrics_alert);
      },
      30s, before_commit);
  ASSERT_TRUE(caught_up);
  EXPECT_EQ(verdict_of(*caught_up, "metrics-aggregator", "job-metrics")->lag_messages, 0);
  EXPECT_TRUE(alert_open(*caught_up, lifecycle_alert));
  auto resolved_events = wait_for_notifications(
      config(), [](const auto& events) { return !alerts_of<alert_resolved>(events, metrics_alert).empty(); });
  auto resolved = alerts_of<alert_resolved>(resolved_events, metrics_alert);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].payload.alert_type, "consumer_lag");
  EXPECT_EQ(resolved[0].correlation_id, metrics_raised[0].correlation_id);
  EXPECT_EQ(resolved[0].payload.resolution, "metrics-aggregator on job-metrics is ok: all 10 partitions ok");

  // Restart with the lifecycle alert open: the stored windows judge at once, and nothing is raised twice.
  ASSERT_TRUE(first->stop());
  first.reset();
  auto second = std::make_unique<monitor_thread>(monitor_options());
  auto resumed = second->wait_for([](const snapshot&) { return true; }, 30s);
  ASSERT_TRUE(resumed);
  EXPECT_EQ(status_of(*resumed, "job-processor", "job-lifecycle"), lag_status::stopped)
      << verdict_of(*resumed, "job-processor", "job-lifecycle")->reason;
  EXPECT_TRUE(alert_open(*resumed, lifecycle_alert));
  EXPECT_EQ(resumed->alerts_raised, 0u);
  ASSERT_TRUE(second->wait_for([](const snapshot& s) { return s.evaluations >= 5; }, 30s));
  auto after_restart = read_notifications(config());
  EXPECT_EQ(alerts_of<alert_raised>(after_restart, lifecycle_alert).size(), 1u);
  EXPECT_TRUE(alerts_of<alert_resolved>(after_restart, lifecycle_alert).empty());
  EXPECT_EQ(alerts_of<alert_raised>(after_restart, metrics_alert).size(), 1u);

  // A broker down: the message broker component is degraded and a critical alert is raised; its
  // event reaches the notifications topic (possibly only once the broker is back) and is resolved.
  auto before_outage = second->evaluations();
  ASSERT_TRUE(cluster().set_broker_down(1));
  auto degraded = second->wait_for(
      [](const snapshot& s) { return s.brokers.status == health_status::degraded && alert_open(s, broker_alert); }, 60s,
      before_outage);
  ASSERT_TRUE(degraded) << "the broker outage was not seen";
  std::printf("broker down: %s\n", degraded->brokers.detail.c_str());
  EXPECT_EQ(degraded->brokers.brokers_up, 2);
  EXPECT_EQ(degraded->status, overall_status::degraded);
  EXPECT_NE(degraded->brokers.detail.find("broker 1 down"), std::string::npos) << degraded->brokers.detail;
  auto restarted_address = degraded->http_address;  // the restarted monitor picked another free port
  httplib::Client restarted_http("127.0.0.1", std::stoi(restarted_address.substr(restarted_address.rfind(':') + 1)));
  auto outage_healthz = restarted_http.Get("/healthz");
  ASSERT_TRUE(outage_healthz);
  EXPECT_EQ(nlohmann::json::parse(outage_healthz->body)["brokers"]["status"], "degraded");

  ASSERT_TRUE(cluster().set_broker_up(1));
  auto recovered = second->wait_for(
      [](const snapshot& s) { return s.brokers.status == health_status::healthy && !alert_open(s, broker_alert); }, 60s,
      second->evaluations());
  ASSERT_TRUE(recovered);
  auto broker_events = wait_for_notifications(
      config(), [](const auto& events) { return !alerts_of<alert_resolved>(events, broker_alert).empty(); });
  auto broker_raised = alerts_of<alert_raised>(broker_events, broker_alert);
  ASSERT_FALSE(broker_raised.empty());
  EXPECT_EQ(broker_raised[0].payload.severity, alert_severity::critical);
  EXPECT_EQ(broker_raised[0].payload.metrics.at("brokers_up"), 2);
  auto broker_resolved = alerts_of<alert_resolved>(broker_events, broker_alert);
  ASSERT_EQ(broker_resolved.size(), 1u);
  EXPECT_EQ(broker_resolved[0].payload.resolution, "message broker healthy: 3 of 3 brokers up");

  EXPECT_TRUE(second->stop());
}

TEST_F(health_monitor_service, publishes_health_checks_and_lag_evaluations_to_system_health) {
  auto monitor = std::make_unique<monitor_thread>(monitor_options());
  ASSERT_TRUE(monitor->wait_for([](const snapshot& s) { return s.evaluations >= 2; }, 30s));
  ASSERT_TRUE(monitor->stop());  // drains the outbox

  auto events = testkit::read_events(config(), "system-health");
  ASSERT_TRUE(events) << events.error();
  std::vector<system_health_check> checks;
  std::map<std::string, int> evaluated;  // "group/topic" -> count
  for (const auto& decoded : *events) {
    const auto& e = std::get<system_health_event>(decoded);
    if (const auto* check = std::get_if<system_health_check>(&e.payload)) checks.push_back(*check);
    if (const auto* lag = std::get_if<consumer_lag_evaluated>(&e.payload)) {
      ++evaluated[lag->group_id + "/" + lag->topic];
      EXPECT_EQ(lag->status, lag_status::ok) << lag->group_id;
    }
  }
  ASSERT_GE(checks.size(), 2u);
  const auto& check = checks.front();
  ASSERT_EQ(check.components.size(), 2u);
  EXPECT_EQ(check.components[0].component, component::message_broker);
  EXPECT_EQ(check.components[0].status, health_status::healthy) << check.components[0].detail;
  EXPECT_EQ(check.components[0].detail, "3 of 3 brokers up");
  EXPECT_EQ(check.components[1].component, component::database);
  EXPECT_EQ(check.components[1].status, health_status::healthy);
  EXPECT_GT(check.response_time_ms, 0);
  EXPECT_EQ(check.queue_depth, 0);
  // Every watched (group, topic) once per evaluation: each service's group on each topic it reads;
  // system-health, the monitor's own output, is not watched.
  auto watched = platform_groups();
  ASSERT_EQ(watched.size(), catalogue.size() - 1);
  std::size_t pairs = 0;
  for (const auto& g : watched) {
    for (const auto& topic : g.topics) {
      ++pairs;
      EXPECT_EQ(evaluated[g.group + "/" + topic], static_cast<int>(checks.size())) << g.group << " on " << topic;
    }
  }
  ASSERT_EQ(evaluated.size(), pairs);
  EXPECT_TRUE(evaluated.contains("notification-dispatcher/job-lifecycle"));
  EXPECT_FALSE(evaluated.contains("health-monitor/system-health"));
}

TEST(health_monitor_options, an_address_that_cannot_be_bound_or_bad_options_are_errors_from_run) {
  std::stop_source never;
  auto data_dir = std::filesystem::temp_directory_path() / ("health-monitor-options-" + uuid::random().to_string());
  client_config config;
  config.brokers = "127.0.0.1:1";
  auto bad_http = run({.config = config, .data_dir = data_dir, .http_listen = "localhost"}, never.get_token());
  ASSERT_FALSE(bad_http);
  EXPECT_EQ(bad_http.error(), "health monitor: HTTP listen address: expected host:port, got 'localhost'");
  auto bad_window = run({.config = config, .data_dir = data_dir, .lag_rule = {.window_size = 1}}, never.get_token());
  ASSERT_FALSE(bad_window);
  EXPECT_NE(bad_window.error().find("at least 2 observations"), std::string::npos) << bad_window.error();
  auto bad_group = run({.config = config, .data_dir = data_dir, .groups = {{.group = "g"}}}, never.get_token());
  ASSERT_FALSE(bad_group);
  EXPECT_NE(bad_group.error().find("'g' needs a name and topics"), std::string::npos) << bad_group.error();
  std::filesystem::remove_all(data_dir);
}

}  // namespace
}  // namespace horizons::health_monitor
