// Admin (ensure_topics, describe, list) and health (brokers, partitions,
// consumer lag) against the embedded (librdkafka mock) cluster. The mock has
// no CreateTopics or DescribeConfigs: the tests check that this is reported
// as such, never passed over in silence.
#include <horizons/admin.hpp>
#include <horizons/consumer.hpp>
#include <horizons/health.hpp>
#include <horizons/producer.hpp>
#include <horizons/sample.hpp>
#include <horizons/testkit/cluster_fixture.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace horizons {
namespace {

using namespace std::chrono_literals;

constexpr std::array config_settings_checked{"retention.ms", "min.insync.replicas", "compression.type",
                                             "cleanup.policy"};

std::set<std::string> catalogue_topic_names() {
  std::set<std::string> names;
  for (const auto& t : catalogue) {
    names.emplace(t.name());
    names.insert(t.dlq_name());
  }
  return names;
}

class admin_health : public testkit::cluster_fixture {};

TEST_F(admin_health, ensure_topics_on_the_mock_finds_all_topics_and_says_configs_are_not_verifiable) {
  auto made = admin::create(config());
  ASSERT_TRUE(made) << made.error().message;
  auto started = std::chrono::steady_clock::now();
  auto ensured = (*made)->ensure_topics();
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(ensured) << ensured.error().error.message;
  const auto& report = *ensured;
  std::printf("ensure_topics took %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  // The mock names no controller: that is known at once, not after the 30 s request timeout.
  EXPECT_LT(took, 5s);
  std::printf("brokers %d, existing %zu, created %zu, warnings %zu, drifts %zu, unverified %zu\n", report.brokers,
              report.existing.size(), report.created.size(), report.warnings.size(), report.drifts.size(),
              report.unverified.size());
  if (!report.unverified.empty()) std::printf("unverified reason: %s\n", report.unverified.front().reason.c_str());

  EXPECT_EQ(report.brokers, 3);
  EXPECT_EQ(std::set<std::string>(report.existing.begin(), report.existing.end()), catalogue_topic_names());
  EXPECT_EQ(report.existing.size(), 2 * catalogue.size());
  EXPECT_TRUE(report.created.empty());
  EXPECT_TRUE(report.warnings.empty()) << report.warnings.front();  // 3 brokers: nothing to lower
  // The mock's topics have the catalogue's partitions and replication 3: no drift there.
  for (const auto& d : report.drifts) ADD_FAILURE() << d.topic << " " << d.setting << ": " << d.actual;
  // Every config setting of every topic is listed as unverifiable, with the reason.
  EXPECT_EQ(report.unverified.size(), 2 * catalogue.size() * config_settings_checked.size());
  for (const auto& name : catalogue_topic_names()) {
    for (std::string_view setting : config_settings_checked) {
      auto it = std::ranges::find_if(
          report.unverified, [&](const unverified_setting& u) { return u.topic == name && u.setting == setting; });
      ASSERT_NE(it, report.unverified.end()) << name << " " << setting;
      EXPECT_TRUE(it->reason.starts_with("not verifiable on this cluster: DescribeConfigs: ")) << it->reason;
      EXPECT_NE(it->reason.find("not supported by broker"), std::string::npos) << it->reason;
    }
  }

  auto described = (*made)->describe_topics();
  ASSERT_TRUE(described) << described.error().message;
  ASSERT_EQ(described->size(), 2 * catalogue.size());
  for (const auto& d : *described) {
    const auto& wanted =
        spec(*topic_from_name(d.name.ends_with(".dlq") ? d.name.substr(0, d.name.size() - 4) : d.name));
    EXPECT_TRUE(d.exists) << d.name;
    EXPECT_EQ(d.partitions, wanted.partitions) << d.name;
    EXPECT_EQ(d.replication, 3) << d.name;
    EXPECT_EQ(d.leaders.size(), static_cast<std::size_t>(wanted.partitions)) << d.name;
    EXPECT_TRUE(std::ranges::all_of(d.leaders, [](int leader) { return leader >= 1 && leader <= 3; })) << d.name;
    EXPECT_TRUE(d.configs.empty()) << d.name;
    EXPECT_TRUE(d.configs_unavailable.starts_with("not verifiable on this cluster: ")) << d.configs_unavailable;
  }

  auto listed = (*made)->list_topics();
  ASSERT_TRUE(listed) << listed.error().message;
  std::printf("list_topics: %zu topics\n", listed->size());
  for (const auto& t : catalogue) {
    auto it = std::ranges::find(*listed, std::string(t.name()), &topic_summary::name);
    ASSERT_NE(it, listed->end()) << t.name();
    EXPECT_EQ(it->partitions, t.partitions);
  }
}

TEST(admin_health_own_cluster, ensure_topics_reports_partition_drift_and_fails_on_topics_it_cannot_create) {
  auto cluster = embedded_cluster::start({.brokers = 3, .create_catalogue_topics = false});
  ASSERT_TRUE(cluster) << cluster.error().message;
  ASSERT_TRUE((*cluster)->create_topic("job-lifecycle", 4));
  client_config config;
  config.brokers = (*cluster)->bootstrap_servers();
  config.client_id = "ensure-drift";

  auto made = admin::create(config);
  ASSERT_TRUE(made) << made.error().message;
  auto ensured = (*made)->ensure_topics();
  // Nine topics are missing and the mock refuses CreateTopics: an error, with the report of what was checked.
  ASSERT_FALSE(ensured);
  const auto& failure = ensured.error();
  std::printf("error %s (%d): %s\n", failure.error.name.c_str(), failure.error.code, failure.error.message.c_str());
  std::printf("existing %zu, missing %zu, drifts %zu\n", failure.report.existing.size(), failure.report.missing.size(),
              failure.report.drifts.size());
  for (const auto& d : failure.report.drifts) {
    std::printf("drift: %s %s expected %s actual %s\n", d.topic.c_str(), d.setting.c_str(), d.expected.c_str(),
                d.actual.c_str());
  }
  EXPECT_EQ(failure.error.name, "_UNSUPPORTED_FEATURE");
  EXPECT_NE(failure.error.message.find("9 topic(s) missing"), std::string::npos) << failure.error.message;
  EXPECT_NE(failure.error.message.find("CreateTopics"), std::string::npos) << failure.error.message;

  EXPECT_EQ(failure.report.existing, std::vector<std::string>{"job-lifecycle"});
  ASSERT_EQ(failure.report.drifts.size(), 1u);
  EXPECT_EQ(failure.report.drifts[0].topic, "job-lifecycle");
  EXPECT_EQ(failure.report.drifts[0].setting, "partitions");
  EXPECT_EQ(failure.report.drifts[0].expected, "10");
  EXPECT_EQ(failure.report.drifts[0].actual, "4");

  auto missing_expected = catalogue_topic_names();
  missing_expected.erase("job-lifecycle");
  std::set<std::string> missing;
  for (const auto& m : failure.report.missing) {
    missing.insert(m.topic);
    EXPECT_EQ(m.error.name, "_UNSUPPORTED_FEATURE") << m.topic;
    EXPECT_NE(m.error.message.find(m.topic), std::string::npos) << m.error.message;
  }
  EXPECT_EQ(missing, missing_expected);
  EXPECT_TRUE(failure.report.created.empty());
  EXPECT_TRUE((*cluster)->topics() == std::vector<std::string>{"job-lifecycle"});

  auto described = (*made)->describe_topics();
  ASSERT_TRUE(described) << described.error().message;
  for (const auto& d : *described) {
    EXPECT_EQ(d.exists, d.name == "job-lifecycle") << d.name;
    if (d.exists) {
      EXPECT_EQ(d.partitions, 4);
    }
  }
}

TEST(admin_health_own_cluster, ensure_topics_lowers_replication_on_one_broker_with_warnings) {
  auto cluster = embedded_cluster::start({.brokers = 1});
  ASSERT_TRUE(cluster) << cluster.error().message;
  client_config config;
  config.brokers = (*cluster)->bootstrap_servers();
  auto made = admin::create(config);
  ASSERT_TRUE(made) << made.error().message;
  auto ensured = (*made)->ensure_topics();
  ASSERT_TRUE(ensured) << ensured.error().error.message;
  std::printf("brokers %d, warnings %zu, drifts %zu\n", ensured->brokers, ensured->warnings.size(),
              ensured->drifts.size());
  for (const auto& w : ensured->warnings) std::printf("warning: %s\n", w.c_str());
  // Per catalogue topic (naming its .dlq too): replication 3 -> 1, then min ISR 2 -> 1.
  EXPECT_EQ(ensured->warnings.size(), 2 * catalogue.size());
  for (const auto& t : catalogue) {
    auto names = [&](std::string_view what) {
      return std::ranges::count_if(ensured->warnings, [&](const std::string& w) {
        return w.starts_with(std::string(t.name()) + " and " + t.dlq_name()) && w.find(what) != std::string::npos;
      });
    };
    EXPECT_EQ(names("replication lowered from 3 to 1"), 1) << t.name();
    EXPECT_EQ(names("min.insync.replicas lowered from 2 to 1"), 1) << t.name();
  }
  // The mock's topics have replication min(3, brokers) = 1: as lowered, so no drift.
  EXPECT_TRUE(ensured->drifts.empty());
}

TEST_F(admin_health, check_cluster_sees_three_brokers_then_a_broker_down) {
  auto before = check_cluster(config(), {.expected_brokers = 3});
  ASSERT_TRUE(before) << before.error().message;
  std::size_t partitions = 0;
  for (const auto& t : before->topics) partitions += static_cast<std::size_t>(t.partitions);
  std::printf(
      "before: %d/%d brokers up, %zu topics, %zu partitions, %zu leaderless, %zu unreachable leader, "
      "%zu under-replicated\n",
      before->brokers_up, before->expected_brokers, before->topics.size(), partitions, before->leaderless.size(),
      before->leader_unreachable.size(), before->under_replicated.size());
  EXPECT_EQ(before->expected_brokers, 3);
  EXPECT_EQ(before->brokers_up, 3);
  ASSERT_EQ(before->brokers.size(), 3u);
  for (const auto& b : before->brokers) {
    EXPECT_TRUE(b.up()) << b.id << ": " << b.problem;
    EXPECT_FALSE(b.host.empty());
    EXPECT_GT(b.port, 0);
  }
  EXPECT_EQ(before->topics.size(), 2 * catalogue.size());
  EXPECT_EQ(partitions, 2u * (10 + 10 + 5 + 3 + 1));
  EXPECT_TRUE(before->leaderless.empty());
  EXPECT_TRUE(before->leader_unreachable.empty());
  EXPECT_TRUE(before->under_replicated.empty());
  EXPECT_TRUE(before->healthy());

  ASSERT_TRUE(cluster().set_broker_down(1));
  auto after = check_cluster(config(), {.expected_brokers = 3});
  ASSERT_TRUE(after) << after.error().message;
  std::printf("after broker 1 down: %d/%d brokers up, %zu leaderless, %zu unreachable leader, %zu under-replicated\n",
              after->brokers_up, after->expected_brokers, after->leaderless.size(), after->leader_unreachable.size(),
              after->under_replicated.size());
  for (const auto& b : after->brokers) {
    std::printf("  broker %d %s:%d in metadata %d reachable %d %s\n", b.id, b.host.c_str(), b.port, b.in_metadata,
                b.reachable, b.problem.c_str());
  }
  // What the mock (librdkafka 2.8.0) does with a broker set down: it closes the broker's connections
  // and refuses new ones, but its metadata still lists all three brokers, keeps the down broker as
  // leader of its partitions (no election) and keeps every replica in the ISR. So "in metadata"
  // alone would call the cluster healthy; the per-broker probe finds broker 1 unreachable, and
  // the partitions it leads are reported as having an unreachable leader.
  EXPECT_FALSE(after->healthy());
  EXPECT_EQ(after->expected_brokers, 3);
  EXPECT_EQ(after->brokers_up, 2);
  ASSERT_EQ(after->brokers.size(), 3u);
  EXPECT_TRUE(after->brokers[0].in_metadata);
  EXPECT_FALSE(after->brokers[0].reachable);
  EXPECT_FALSE(after->brokers[0].problem.empty());
  EXPECT_TRUE(after->brokers[1].up());
  EXPECT_TRUE(after->brokers[2].up());
  EXPECT_TRUE(after->leaderless.empty());
  EXPECT_FALSE(after->leader_unreachable.empty());
  for (const auto& p : after->leader_unreachable) EXPECT_EQ(p.leader, 1) << p.topic << "[" << p.partition << "]";
  // Exactly the partitions broker 1 led before it went down.
  auto metadata_only = check_cluster(config(), {.expected_brokers = 3, .probe = broker_probe::metadata_only});
  ASSERT_TRUE(metadata_only) << metadata_only.error().message;
  auto made = admin::create(config());
  ASSERT_TRUE(made);
  auto md = (*made)->metadata();
  ASSERT_TRUE(md);
  std::size_t led_by_1 = 0;
  for (const auto& t : md->topics)
    for (const auto& p : t.partitions) led_by_1 += p.leader == 1 ? 1 : 0;
  EXPECT_EQ(after->leader_unreachable.size(), led_by_1);
  EXPECT_TRUE(after->under_replicated.empty());  // the mock never shrinks an ISR
  std::printf("metadata only: %d/%d brokers up, healthy %d; partitions led by broker 1: %zu\n",
              metadata_only->brokers_up, metadata_only->expected_brokers, metadata_only->healthy(), led_by_1);
  EXPECT_EQ(metadata_only->brokers_up, 3);  // the mock still lists the down broker
}

// Produces `count` job.submitted events (random job ids: spread over the partitions) and waits for delivery.
void produce_job_events(const client_config& config, std::size_t count) {
  std::atomic<std::size_t> delivered{0}, failed{0};
  auto made = producer::create({.config = config, .on_delivery = [&](const delivery_report& r) {
                                  (r.error ? failed : delivered).fetch_add(1);
                                }});
  ASSERT_TRUE(made) << made.error().message;
  event_sampler sampler(7);
  for (std::size_t i = 0; i < count; ++i) ASSERT_TRUE((*made)->publish(sampler.next<job_submitted>()));
  ASSERT_EQ((*made)->flush(30s), 0u);
  (*made)->close(5s);
  ASSERT_EQ(delivered.load(), count);
  ASSERT_EQ(failed.load(), 0u);
}

TEST_F(admin_health, consumer_lag_counts_messages_and_seconds_behind) {
  constexpr std::size_t produced = 1'000, consumed = 400;
  produce_job_events(config(), produced);
  if (HasFatalFailure()) return;
  std::this_thread::sleep_for(1100ms);  // every record is now older than 1.1 s

  auto made = consumer::create({.config = config(), .topics = {topic_id::job_lifecycle}, .group = "lag-test"});
  ASSERT_TRUE(made) << made.error().message;
  auto& in = **made;
  in.on<job_submitted>(
      [](const envelope&, const job_submitted&, const message_context&) -> handler_result { return {}; });
  std::size_t done = 0;
  auto until = std::chrono::steady_clock::now() + 30s;
  while (done < consumed && std::chrono::steady_clock::now() < until) {
    auto polled = in.poll(500ms, consumed - done);
    ASSERT_TRUE(polled) << polled.error().message;
    done += *polled;
  }
  ASSERT_EQ(done, consumed);
  ASSERT_TRUE(in.close());  // commits the 400 finished offsets

  auto lag = consumer_lag(config(), {.group = "lag-test", .topics = {"job-lifecycle"}});
  ASSERT_TRUE(lag) << lag.error().message;
  std::printf("group %s: lag %lld messages, %.3f s; committed anything %d\n", lag->group.c_str(),
              static_cast<long long>(lag->lag_messages), lag->lag_seconds.count(), lag->committed_anything);
  for (const auto& p : lag->partitions) {
    std::printf("  %s[%d] committed %lld low %lld high %lld lag %lld msgs %.3f s %s\n", p.topic.c_str(), p.partition,
                static_cast<long long>(p.committed.value_or(-1)), static_cast<long long>(p.low),
                static_cast<long long>(p.high), static_cast<long long>(p.lag_messages), p.lag_seconds.count(),
                p.error.c_str());
  }
  EXPECT_TRUE(lag->complete());
  EXPECT_TRUE(lag->committed_anything);
  ASSERT_EQ(lag->topics.size(), 1u);
  EXPECT_EQ(lag->topics[0].topic, "job-lifecycle");
  EXPECT_EQ(lag->topics[0].partitions, 10);
  EXPECT_EQ(lag->topics[0].lag_messages, static_cast<std::int64_t>(produced - consumed));
  EXPECT_EQ(lag->lag_messages, static_cast<std::int64_t>(produced - consumed));
  EXPECT_GE(lag->topics[0].lag_seconds, 1s);
  std::int64_t high_total = 0;
  for (const auto& p : lag->partitions) {
    high_total += p.high;
    if (p.lag_messages > 0) {
      EXPECT_GE(p.lag_seconds, 1s) << p.partition;
      EXPECT_LT(p.lag_seconds, 120s) << p.partition;
    } else {
      EXPECT_EQ(p.lag_seconds.count(), 0.0) << p.partition;
    }
  }
  EXPECT_EQ(high_total, static_cast<std::int64_t>(produced));

  // A group that never committed is behind by every record.
  auto never = consumer_lag(config(), {.group = "never-committed", .topics = {"job-lifecycle"}});
  ASSERT_TRUE(never) << never.error().message;
  std::printf("group %s: lag %lld messages, %.3f s; committed anything %d\n", never->group.c_str(),
              static_cast<long long>(never->lag_messages), never->lag_seconds.count(), never->committed_anything);
  EXPECT_FALSE(never->committed_anything);
  EXPECT_EQ(never->lag_messages, static_cast<std::int64_t>(produced));
  EXPECT_GE(never->lag_seconds, 1s);
  EXPECT_TRUE(never->complete());

  auto unknown = consumer_lag(config(), {.group = "lag-test", .topics = {"no-such-topic"}});
  ASSERT_FALSE(unknown);
  std::printf("unknown topic: %s\n", unknown.error().message.c_str());
  EXPECT_EQ(unknown.error().name, "UNKNOWN_TOPIC_OR_PART");
}

TEST_F(admin_health, consumer_lag_of_an_idle_topic_is_zero) {
  auto lag = consumer_lag(config(), {.group = "idle", .topics = {"system-health", "system-health.dlq"}});
  ASSERT_TRUE(lag) << lag.error().message;
  std::printf("idle: %zu partitions, lag %lld messages, %.3f s\n", lag->partitions.size(),
              static_cast<long long>(lag->lag_messages), lag->lag_seconds.count());
  EXPECT_EQ(lag->partitions.size(), 2u);
  EXPECT_EQ(lag->lag_messages, 0);
  EXPECT_EQ(lag->lag_seconds.count(), 0.0);
  EXPECT_TRUE(lag->complete());
}

}  // namespace
}  // namespace horizons
