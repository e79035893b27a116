// Against a real 3-node Apache Kafka cluster in KRaft mode (tools/kafka):
// the catalogue's topics as declared, drift reported, SCRAM login accepted
// and refused, TLS (server-authenticated with SCRAM, and mutual), a broker
// SIGKILLed mid-stream losing nothing, consumers dying and rebalancing under
// load with both group protocols. The cluster is the one tools/kafka/kafka.sh
// acts on in this environment (KAFKA_VERSION picks the release: the
// kafka-compat label runs the core tests on 3.9.2); addresses and
// certificates are asked of the tool itself.
#include <horizons/admin.hpp>
#include <horizons/consumer.hpp>
#include <horizons/health.hpp>
#include <horizons/producer.hpp>
#include <horizons/sample.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "child_process.hpp"
#include "kafka_tool.hpp"

namespace horizons {
namespace {

using namespace std::chrono_literals;

using testing_support::kafka_tool;
using testing_support::kafka_tool_says;

const std::string& brokers() { return testing_support::kafka_brokers(); }
std::string tls_file(const std::string& name) { return kafka_tool_says("tls-dir") + "/" + name; }

client_config plaintext() {
  client_config config;
  config.brokers = brokers();
  config.client_id = testing::UnitTest::GetInstance()->current_test_info()->name();
  return config;
}

// The SCRAM user tools/kafka creates, over SASL_PLAINTEXT or SASL_SSL.
client_config scram(security_protocol protocol) {
  client_config config = plaintext();
  config.brokers = kafka_tool_says(protocol == security_protocol::sasl_ssl ? "sasl-ssl-bootstrap" : "sasl-bootstrap");
  config.security = protocol;
  config.mechanism = sasl_mechanism::scram_sha_512;
  config.sasl_username = "horizons";
  config.sasl_password = "horizons-secret";
  if (protocol == security_protocol::sasl_ssl) config.ssl_ca_location = tls_file("ca.pem");
  return config;
}

// The listeners that require a client certificate; the client trusts the tool's CA and presents nothing yet.
client_config mutual_tls() {
  client_config config = plaintext();
  config.brokers = kafka_tool_says("ssl-bootstrap");
  config.security = security_protocol::ssl;
  config.ssl_ca_location = tls_file("ca.pem");
  config.connect_timeout = 5s;
  return config;
}

std::string first_line_of(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> in(std::fopen(path.c_str(), "r"), std::fclose);
  char line[256] = {};
  if (!in || !std::fgets(line, sizeof line, in.get())) return {};
  std::string text(line);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// Publishes one event and waits for its acknowledgement: the connection works end to end.
void expect_round_trip(const client_config& config) {
  auto out = producer::create({.config = config});
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_TRUE((*out)->publish(event_sampler(5).next<job_submitted>()));
  EXPECT_EQ((*out)->close(30s), 0u) << "the event was acknowledged";
}

std::unique_ptr<admin> real_kafka_connect() {
  auto made = admin::create(plaintext());
  EXPECT_TRUE(made) << made.error().message;
  return made ? std::move(*made) : nullptr;
}

class real_kafka : public testing::Test {
 protected:
  // KRaft brokers learn of new topics and configs through the metadata log, each at its own pace:
  // describe until `settled` holds (bounded), as a reader on any broker eventually sees it.
  static std::vector<topic_description> describe_until(
      admin& client, const std::function<bool(const std::vector<topic_description>&)>& settled) {
    std::vector<topic_description> described;
    for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;
         std::this_thread::sleep_for(200ms)) {
      auto now = client.describe_topics();
      if (!now) continue;
      described = std::move(*now);
      if (settled(described)) break;
    }
    return described;
  }
  static std::unique_ptr<admin> connect() { return real_kafka_connect(); }
};

TEST_F(real_kafka, ensure_topics_creates_the_catalogue_as_declared) {
  auto client = connect();
  ASSERT_TRUE(client);
  auto ensured = client->ensure_topics();
  ASSERT_TRUE(ensured) << ensured.error().error.message;
  EXPECT_EQ(ensured->created.size() + ensured->existing.size(), 2 * catalogue.size());
  EXPECT_TRUE(ensured->drifts.empty());
  EXPECT_TRUE(ensured->warnings.empty()) << "3 brokers: nothing lowered";
  EXPECT_TRUE(ensured->unverified.empty()) << ensured->unverified.front().reason;

  auto all_there = [](const std::vector<topic_description>& topics) {
    return std::ranges::all_of(topics,
                               [](const auto& d) { return d.exists && d.partitions > 0 && !d.configs.empty(); });
  };
  auto settled = describe_until(*client, all_there);
  auto* described = &settled;
  for (const auto& t : catalogue) {
    for (const auto& name : {std::string(t.name()), t.dlq_name()}) {
      auto it = std::find_if(described->begin(), described->end(), [&](const auto& d) { return d.name == name; });
      ASSERT_NE(it, described->end()) << name;
      std::printf("%-20s partitions %d replication %d min.insync %s retention.ms %s compression %s cleanup %s\n",
                  name.c_str(), it->partitions, it->replication, it->configs["min.insync.replicas"].c_str(),
                  it->configs["retention.ms"].c_str(), it->configs["compression.type"].c_str(),
                  it->configs["cleanup.policy"].c_str());
      EXPECT_EQ(it->partitions, t.partitions) << name;
      EXPECT_EQ(it->replication, 3) << name;
      EXPECT_EQ(it->configs["min.insync.replicas"], "2") << name;
      EXPECT_EQ(it->configs["retention.ms"],
                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(t.retention).count()))
          << name;
      EXPECT_EQ(it->configs["compression.type"], to_string(t.compression_type)) << name;
      EXPECT_EQ(it->configs["cleanup.policy"], t.cleanup_policy) << name;
    }
  }
}

// Changes one topic config behind Horizons' back with librdkafka's own admin API.
void alter_topic_config(const std::string& topic, const std::string& name, const std::string& value) {
  char reason[256];
  auto* conf = rd_kafka_conf_new();
  ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", brokers().c_str(), reason, sizeof reason), RD_KAFKA_CONF_OK);
  auto* client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof reason);
  ASSERT_NE(client, nullptr) << reason;
  auto* queue = rd_kafka_queue_new(client);
  auto* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  // AlterConfigs replaces the topic's whole config: keep the others as the catalogue set them.
  const auto& t = spec(*topic_from_name(topic));
  std::map<std::string, std::string> configs{
      {"min.insync.replicas", "2"},
      {"compression.type", std::string(to_string(t.compression_type))},
      {"cleanup.policy", std::string(t.cleanup_policy)},
      {"retention.ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(t.retention).count())}};
  configs[name] = value;
  for (const auto& [key, setting] : configs) rd_kafka_ConfigResource_set_config(resource, key.c_str(), setting.c_str());
  rd_kafka_AlterConfigs(client, &resource, 1, nullptr, queue);
  auto* event = rd_kafka_queue_poll(queue, 30'000);
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(rd_kafka_event_error(event), RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_event_error_string(event);
  std::size_t count = 0;
  auto** results = rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(event), &count);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(rd_kafka_ConfigResource_error(results[0]), RD_KAFKA_RESP_ERR_NO_ERROR)
      << rd_kafka_ConfigResource_error_string(results[0]);
  rd_kafka_event_destroy(event);
  rd_kafka_ConfigResource_destroy(resource);
  rd_kafka_queue_destroy(queue);
  rd_kafka_destroy(client);
}

TEST_F(real_kafka, a_setting_changed_behind_its_back_is_reported_as_drift) {
  auto client = connect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->ensure_topics());
  alter_topic_config("job-metrics", "retention.ms", "3600000");
  // Each broker applies a config change from the metadata log at its own pace: ask until one
  // answer shows the change (bounded), as an operator re-running `topics ensure` would see it.
  auto ensure_until = [&](const std::function<bool(const ensure_report&)>& settled) {
    std::optional<ensure_report> last;
    for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;
         std::this_thread::sleep_for(200ms)) {
      auto ensured = client->ensure_topics();
      if (!ensured) continue;
      last = std::move(*ensured);
      if (settled(*last)) break;
    }
    return last;
  };
  auto drifted = ensure_until([](const ensure_report& r) { return !r.drifts.empty(); });
  ASSERT_TRUE(drifted);
  ASSERT_EQ(drifted->drifts.size(), 1u);
  const auto& drift = drifted->drifts.front();
  std::printf("drift: %s %s expected %s actual %s\n", drift.topic.c_str(), drift.setting.c_str(),
              drift.expected.c_str(), drift.actual.c_str());
  EXPECT_EQ(drift.topic, "job-metrics");
  EXPECT_EQ(drift.setting, "retention.ms");
  EXPECT_EQ(drift.expected, "2592000000");
  EXPECT_EQ(drift.actual, "3600000");
  alter_topic_config("job-metrics", "retention.ms", "2592000000");
  auto restored = ensure_until([](const ensure_report& r) { return r.drifts.empty(); });
  ASSERT_TRUE(restored);
  EXPECT_TRUE(restored->drifts.empty());
}

TEST_F(real_kafka, scram_login_is_accepted_and_a_wrong_password_is_named) {
  client_config config = scram(security_protocol::sasl_plaintext);
  expect_round_trip(config);

  config.sasl_password = "not-the-password";
  auto refused = producer::create({.config = config});
  ASSERT_FALSE(refused);
  std::printf("wrong password: %s\n", refused.error().message.c_str());
  EXPECT_EQ(refused.error().name, "_AUTHENTICATION");
  EXPECT_NE(refused.error().message.find("refused SCRAM-SHA-512 login of user 'horizons'"), std::string::npos);

  // The CLI: the same error on one line, and a non-zero exit.
  setenv("KAFKA_SECURITY_PROTOCOL", "sasl_plaintext", 1);
  setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", 1);
  setenv("KAFKA_SASL_USERNAME", "horizons", 1);
  setenv("KAFKA_SASL_PASSWORD", "not-the-password", 1);
  testing_support::child_process cli(
      {HORIZONS_CLI, "--log-level", "off", "topics", "list", "--brokers", config.brokers});
  std::vector<std::string> lines;
  int exit_code = cli.finish(lines);
  for (auto name : {"KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"}) {
    unsetenv(name);
  }
  EXPECT_EQ(exit_code, 1);
}

TEST_F(real_kafka, scram_over_tls_is_accepted_and_a_wrong_password_is_named) {
  client_config config = scram(security_protocol::sasl_ssl);
  expect_round_trip(config);

  config.sasl_password = "not-the-password";
  auto refused = producer::create({.config = config});
  ASSERT_FALSE(refused);
  std::printf("sasl_ssl, wrong password: %s\n", refused.error().message.c_str());
  EXPECT_EQ(refused.error().name, "_AUTHENTICATION");
  EXPECT_NE(refused.error().message.find("refused SCRAM-SHA-512 login of user 'horizons'"), std::string::npos);
}

TEST_F(real_kafka, a_client_that_does_not_trust_the_ca_is_refused_naming_the_certificate_problem) {
  client_config config = scram(security_protocol::sasl_ssl);
  config.ssl_ca_location.clear();  // the system's CA store, which does not hold the tool's CA
  auto started = std::chrono::steady_clock::now();
  auto refused = producer::create({.config = config});
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  ASSERT_FALSE(refused);
  std::printf("untrusted CA (%lld ms): %s\n", static_cast<long long>(waited.count()), refused.error().message.c_str());
  EXPECT_EQ(refused.error().name, "_SSL");
  EXPECT_NE(refused.error().message.find("certificate verify failed"), std::string::npos);
  EXPECT_NE(refused.error().message.find("trusting the system's CA store"), std::string::npos);
  EXPECT_LT(waited, config.connect_timeout) << "a certificate problem does not heal by waiting";
}

TEST_F(real_kafka, mutual_tls_accepts_a_client_certificate_and_refuses_a_client_without_one) {
  client_config config = mutual_tls();
  config.ssl_certificate_location = tls_file("client.pem");
  config.ssl_key_location = tls_file("client.key");
  expect_round_trip(config);

  // The same certificate with its key encrypted: KAFKA_SSL_KEY_PASSWORD opens it.
  config.ssl_key_location = tls_file("client-encrypted.key");
  config.ssl_key_password = first_line_of(tls_file("client-key.password"));
  ASSERT_FALSE(config.ssl_key_password.empty());
  expect_round_trip(config);

  config.ssl_key_password = "not-the-key-password";
  auto wrong_key_password = producer::create({.config = config});
  ASSERT_FALSE(wrong_key_password);
  std::printf("wrong key password: %s\n", wrong_key_password.error().message.c_str());
  EXPECT_NE(wrong_key_password.error().message.find("KAFKA_SSL_KEY_PASSWORD does not open it"), std::string::npos);

  auto started = std::chrono::steady_clock::now();
  auto anonymous = producer::create({.config = mutual_tls()});
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  ASSERT_FALSE(anonymous);
  std::printf("no client certificate (%lld ms): %s\n", static_cast<long long>(waited.count()),
              anonymous.error().message.c_str());
  EXPECT_EQ(anonymous.error().name, "_SSL");
  EXPECT_NE(anonymous.error().message.find("no client certificate"), std::string::npos);
  EXPECT_NE(anonymous.error().message.find("bad certificate"), std::string::npos);
  EXPECT_LT(waited, mutual_tls().connect_timeout) << "a refused handshake does not heal by waiting";
}

TEST_F(real_kafka, a_broker_killed_mid_stream_loses_nothing_and_returns_to_the_isr) {
  auto client = connect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->ensure_topics());
  constexpr std::size_t total = 200'000;
  event_sampler sampler(2026);
  std::atomic<std::size_t> delivered{0}, failed{0};
  auto made = producer::create({.config = plaintext(), .on_delivery = [&](const delivery_report& r) {
                                  (r.error ? failed : delivered).fetch_add(1);
                                }});
  ASSERT_TRUE(made) << made.error().message;
  std::vector<uuid> ids;
  ids.reserve(total);
  for (std::size_t i = 0; i < total; ++i) {
    if (i == total / 4) {
      ASSERT_EQ(kafka_tool("kill 2"), 0);
    }
    if (i == total * 3 / 4) {
      ASSERT_EQ(kafka_tool("start 2"), 0);
    }
    auto e = sampler.next<job_submitted>();
    e.payload.job_id = "job-" + std::to_string(i % 1'000);  // keys repeat: per-key order is checked
    e.tags = {{"seq", std::to_string(i)}};
    ids.push_back(e.event_id);
    ASSERT_TRUE((*made)->publish(e));
  }
  EXPECT_EQ((*made)->close(120s), 0u);

  auto in = consumer::create({.config = plaintext(), .topics = {topic_id::job_lifecycle}, .group = "broker-death"});
  ASSERT_TRUE(in) << in.error().message;
  std::unordered_map<uuid, int> seen;
  std::unordered_map<std::string, long> last_seq;
  std::size_t out_of_order = 0;
  std::unordered_set<uuid> ours(ids.begin(), ids.end());
  (*in)->on<job_submitted>(
      [&](const envelope& meta, const job_submitted& job, const message_context&) -> handler_result {
        if (!ours.contains(meta.event_id)) return {};  // another test's event on the shared topic
        if (++seen[meta.event_id] == 1) {
          auto seq = std::stol(meta.tags.at("seq"));
          auto& last = last_seq[job.job_id];
          if (seq < last) ++out_of_order;
          last = seq;
        }
        return {};
      });
  for (auto deadline = std::chrono::steady_clock::now() + 300s;
       seen.size() < total && std::chrono::steady_clock::now() < deadline;) {
    ASSERT_TRUE((*in)->poll(200ms, 5'000));
  }
  ASSERT_TRUE((*in)->close());
  std::size_t lost = 0, duplicated = 0;
  for (const auto& id : ids) lost += seen.contains(id) ? 0 : 1;
  for (const auto& [id, count] : seen) duplicated += count - 1;
  auto health = check_cluster(plaintext());
  ASSERT_TRUE(health) << health.error().message;
  std::printf(
      "produced %zu, delivered %zu, failed %zu, consumed %zu, lost %zu, duplicated %zu, out-of-order %zu, "
      "brokers up %d, under-replicated %zu\n",
      total, delivered.load(), failed.load(), seen.size(), lost, duplicated, out_of_order, health->brokers_up,
      health->under_replicated.size());
  EXPECT_EQ(delivered.load(), total);
  EXPECT_EQ(failed.load(), 0u);
  EXPECT_EQ(lost, 0u);
  // The producer is idempotent, so the log holds each event once despite the retries around the
  // broker's death, and one consumer reading it after the fact sees each once.
  EXPECT_EQ(seen.size(), total);
  EXPECT_EQ(duplicated, 0u);
  EXPECT_EQ(out_of_order, 0u);
  EXPECT_EQ(health->brokers_up, 3);
  EXPECT_TRUE(health->under_replicated.empty()) << "the restarted broker is back in every ISR";
}

TEST_F(real_kafka, lag_measured_while_a_broker_dies_ends_within_its_timeout_naming_what_it_could_not_read) {
  auto client = connect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->ensure_topics());
  // A group with committed offsets on every partition, so that lag reads offsets, watermarks and records.
  {
    auto out = producer::create({.config = plaintext()});
    ASSERT_TRUE(out) << out.error().message;
    event_sampler sampler(848);
    for (int i = 0; i < 2'000; ++i) ASSERT_TRUE((*out)->publish(sampler.next<job_submitted>()));
    EXPECT_EQ((*out)->close(60s), 0u);
    auto in = consumer::create({.config = plaintext(), .topics = {topic_id::job_lifecycle}, .group = "lag-death"});
    ASSERT_TRUE(in) << in.error().message;
    std::size_t handled = 0;
    (*in)->on<job_submitted>([&](const envelope&, const job_submitted&, const message_context&) -> handler_result {
      ++handled;
      return {};
    });
    for (auto deadline = std::chrono::steady_clock::now() + 60s;
         handled < 500 && std::chrono::steady_clock::now() < deadline;) {
      ASSERT_TRUE((*in)->poll(200ms, 100));
    }
    ASSERT_TRUE((*in)->close());
  }

  const lag_query query{.group = "lag-death", .topics = {"job-lifecycle"}, .timeout = 5s};
  const auto config = plaintext();
  ASSERT_EQ(kafka_tool("kill 2"), 0);
  // While the partitions broker 2 led have no leader yet, and after: each measurement ends in time.
  std::size_t incomplete = 0;
  for (int round = 0; round < 4; ++round) {
    const auto started = std::chrono::steady_clock::now();
    auto lag = consumer_lag(config, query);
    const auto took = std::chrono::steady_clock::now() - started;
    std::fprintf(stderr, "round %d: %s after %lld ms\n", round,
                 lag ? (lag->complete() ? "complete" : "partial") : lag.error().message.c_str(),
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    EXPECT_LT(took, query.timeout + 10s) << "bounded by its timeout, not a hang";
    if (lag && !lag->complete()) {
      ++incomplete;
      for (const auto& p : lag->partitions) {
        if (!p.error.empty()) std::printf("  %s[%d]: %s\n", p.topic.c_str(), p.partition, p.error.c_str());
      }
    }
  }
  // The command as well: it ends, with a report or an error on stderr.
  testing_support::child_process cli(
      {HORIZONS_CLI, "--log-level", "off", "lag", "--group", "lag-death", "--brokers", config.brokers});
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> lines;
  const int exit_code = cli.finish(lines);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 120s);
  EXPECT_TRUE(exit_code == 0 || exit_code == 1) << exit_code;
  ASSERT_EQ(kafka_tool("start 2"), 0);
  for (auto deadline = std::chrono::steady_clock::now() + 120s; std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(1s)) {
    auto lag = consumer_lag(config, query);
    if (lag && lag->complete()) {
      EXPECT_TRUE(lag->committed_anything);
      return;
    }
  }
  ADD_FAILURE() << "lag never complete again after broker 2 returned (" << incomplete << " partial rounds)";
}

TEST_F(real_kafka, below_min_isr_nothing_is_reported_delivered_until_a_broker_returns) {
  auto client = connect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->ensure_topics());
  event_sampler sampler(77);
  struct tally {
    std::atomic<std::size_t> delivered{0}, failed{0};
    std::mutex mutex;
    std::set<std::string> errors;
  };
  auto make = [&](tally& t, std::chrono::milliseconds delivery_timeout) {
    auto config = plaintext();
    config.delivery_timeout = delivery_timeout;
    return producer::create({.config = config, .on_delivery = [&t](const delivery_report& r) {
                               if (!r.error) {
                                 t.delivered.fetch_add(1);
                                 return;
                               }
                               t.failed.fetch_add(1);
                               std::scoped_lock lock(t.mutex);
                               t.errors.insert(r.error->name);
                             }});
  };
  // Producers connect first: with two of three nodes gone the quorum is lost too.
  tally short_wait, long_wait;
  auto impatient = make(short_wait, 5s);
  auto patient = make(long_wait, 180s);
  ASSERT_TRUE(impatient) << impatient.error().message;
  ASSERT_TRUE(patient) << patient.error().message;
  ASSERT_EQ(kafka_tool("kill 2"), 0);
  ASSERT_EQ(kafka_tool("kill 3"), 0);
  constexpr std::size_t count = 100;
  for (std::size_t i = 0; i < count; ++i) {
    ASSERT_TRUE((*impatient)->publish(sampler.next<job_submitted>()));
    ASSERT_TRUE((*patient)->publish(sampler.next<job_submitted>()));
  }
  // The short delivery timeout: each record fails to the caller with an error it can act on.
  EXPECT_EQ((*impatient)->flush(30s), 0u);
  std::this_thread::sleep_for(3s);
  auto waiting_delivered = long_wait.delivered.load();
  std::string short_errors;
  for (const auto& e : short_wait.errors) short_errors += e + " ";
  ASSERT_EQ(kafka_tool("start 2"), 0);
  // The long one: records waited, and are delivered once a second in-sync replica is back.
  EXPECT_EQ((*patient)->flush(150s), 0u);
  ASSERT_EQ(kafka_tool("start 3"), 0);
  std::printf(
      "two brokers down: short timeout %zu delivered, %zu failed (%s); long timeout %zu delivered while "
      "down, %zu delivered after one returned, %zu failed\n",
      short_wait.delivered.load(), short_wait.failed.load(), short_errors.c_str(), waiting_delivered,
      long_wait.delivered.load(), long_wait.failed.load());
  EXPECT_EQ(short_wait.delivered.load(), 0u) << "nothing may be reported delivered below min ISR";
  EXPECT_EQ(short_wait.failed.load(), count);
  for (const auto& e : short_wait.errors) {
    EXPECT_TRUE(e == "_MSG_TIMED_OUT" || e == "NOT_ENOUGH_REPLICAS" || e == "NOT_ENOUGH_REPLICAS_AFTER_APPEND" ||
                e == "REQUEST_TIMED_OUT")
        << e;
  }
  EXPECT_EQ(waiting_delivered, 0u);
  EXPECT_EQ(long_wait.delivered.load(), count);
  EXPECT_EQ(long_wait.failed.load(), 0u);
}

TEST_F(real_kafka, a_consumer_process_killed_mid_stream_resumes_and_effects_happen_once) {
  auto client = connect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->ensure_topics());
  constexpr std::size_t total = 20'000;
  event_sampler sampler(404);
  std::set<std::string> ours;
  {
    auto out = producer::create({.config = plaintext()});
    ASSERT_TRUE(out) << out.error().message;
    for (std::size_t i = 0; i < total; ++i) {
      auto e = sampler.next<alert_raised>();
      ours.insert(e.event_id.to_string());
      ASSERT_TRUE((*out)->publish(e));
    }
    ASSERT_EQ((*out)->close(60s), 0u);
  }
  // Exactly-once effects by deduplicating on event_id: the consumer is at-least-once, and a
  // transactional consume-transform-produce would not cover effects outside Kafka (mail, ledger rows).
  testing_support::delivery_tally tally;
  auto consume = [&](std::size_t stop_after) {
    testing_support::consume_then_kill(
        {HORIZONS_CLI, "--log-level", "off", "consume", "notifications", "--group", "killed-consumer",
         "--from-beginning", "--json", "--brokers", brokers(), "--session-timeout-ms", "6000"},
        tally, stop_after, total, [&](const std::string& id) { return ours.contains(id); });
  };
  consume(7'000);
  auto before_kill = tally.deliveries.size();
  consume(total * 2);
  auto effects = tally.deliveries.size();  // one per distinct event id
  std::printf("produced %zu, processed before SIGKILL %zu, processed %zu, redelivered %zu, effects %zu, lost %zu\n",
              total, before_kill, tally.deliveries.size(), tally.redelivered(), effects, total - effects);
  EXPECT_GE(before_kill, 7'000u);
  EXPECT_EQ(effects, total);
}

// Three members, then one leaves, another joins and the first leaves too, while 100,000 events stream
// through. What the members saw: events handled, deliveries beyond the first, events first seen after a
// later event of their key.
struct rebalance_outcome {
  std::size_t total = 0, consumed = 0, duplicated = 0, out_of_order = 0;
};

void consumers_join_and_leave_under_load(group_protocol protocol, rebalance_outcome& outcome) {
  auto client = real_kafka_connect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->ensure_topics());
  constexpr std::size_t total = 100'000;
  std::mutex mutex;
  std::unordered_map<uuid, int> seen;
  std::unordered_map<std::string, long> last_seq;
  std::size_t out_of_order = 0;
  std::unordered_set<uuid> ours;
  // A seed of its own per run: event ids repeated from an earlier run (or the other protocol's run) on
  // the same topic would count as this run's, and as duplicates.
  event_sampler sampler(std::random_device{}());
  std::vector<event<job_metrics_recorded>> events;
  for (std::size_t i = 0; i < total; ++i) {
    auto e = sampler.next<job_metrics_recorded>();
    e.payload.job_id = "job-" + std::to_string(i % 500);
    e.tags = {{"seq", std::to_string(i)}};
    ours.insert(e.event_id);
    events.push_back(std::move(e));
  }
  auto member = [&](std::stop_token stop) {
    auto config = plaintext();
    config.group_protocol = protocol;
    auto in = consumer::create({.config = config,
                                .topics = {topic_id::job_metrics},
                                .group = fmt::format("rebalancing-{}", to_string(protocol))});
    ASSERT_TRUE(in) << in.error().message;
    (*in)->on<job_metrics_recorded>(
        [&](const envelope& meta, const job_metrics_recorded& m, const message_context&) -> handler_result {
          std::scoped_lock lock(mutex);
          if (!ours.contains(meta.event_id) || ++seen[meta.event_id] > 1) return {};
          auto seq = std::stol(meta.tags.at("seq"));
          auto& last = last_seq[m.job_id];
          if (seq < last) ++out_of_order;
          last = seq;
          return {};
        });
    ASSERT_TRUE((*in)->run(stop));
  };
  auto unique = [&] {
    std::scoped_lock lock(mutex);
    return seen.size();
  };
  std::vector<std::jthread> members;
  members.emplace_back(member);
  members.emplace_back(member);
  members.emplace_back(member);
  auto out = producer::create({.config = plaintext()});
  ASSERT_TRUE(out) << out.error().message;
  for (std::size_t i = 0; i < total; ++i) {
    if (i == total / 4) members[1].request_stop();      // one leaves ...
    if (i == total / 2) members.emplace_back(member);   // ... another joins ...
    if (i == total * 3 / 4) members[0].request_stop();  // ... and the first leaves too
    ASSERT_TRUE((*out)->publish(events[i]));
    if (i % 5'000 == 0) std::this_thread::sleep_for(200ms);  // spread the stream over the rebalances
  }
  ASSERT_EQ((*out)->close(60s), 0u);
  for (auto deadline = std::chrono::steady_clock::now() + 180s;
       unique() < total && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(100ms);
  }
  for (auto& m : members) m.request_stop();
  members.clear();
  std::size_t duplicated = 0;
  for (const auto& [id, n] : seen) duplicated += n - 1;
  std::printf("group protocol %s: produced %zu, consumed %zu, lost %zu, duplicate deliveries %zu, out-of-order %zu\n",
              std::string(to_string(protocol)).c_str(), total, seen.size(), total - seen.size(), duplicated,
              out_of_order);
  outcome = {.total = total, .consumed = seen.size(), .duplicated = duplicated, .out_of_order = out_of_order};
}

TEST_F(real_kafka, consumers_joining_and_leaving_under_load_lose_nothing_and_keep_key_order) {
  rebalance_outcome outcome;
  consumers_join_and_leave_under_load(group_protocol::classic, outcome);
  EXPECT_EQ(outcome.consumed, 100'000u);
  EXPECT_EQ(outcome.out_of_order, 0u);
}

// KIP-848 (early access in librdkafka 2.8; Kafka 4.x serves it by default): the broker assigns partitions
// and hands them over incrementally; the same guarantees hold.
TEST_F(real_kafka, with_the_kip_848_consumer_protocol_consumers_joining_and_leaving_lose_nothing_and_keep_order) {
  rebalance_outcome outcome;
  consumers_join_and_leave_under_load(group_protocol::consumer, outcome);
  EXPECT_EQ(outcome.consumed, 100'000u);
  EXPECT_EQ(outcome.out_of_order, 0u);
}

}  // namespace
}  // namespace horizons
