// The bench's raw side is configured exactly as Horizons' typed clients: for the same configuration and
// role, the librdkafka conf raw_conf() builds holds the same properties, with the same values, as the
// conf detail::make_client_conf() builds for producer::create and consumer::create. Only the
// callbacks Horizons installs (logging, errors) may differ.
#include <map>
#include <utility>
#include <vector>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <horizons/config.hpp>
#include <horizons/producer.hpp>

#include "raw_side.hpp"
#include "rdkafka.hpp"

namespace {

using namespace std::chrono_literals;
using namespace horizons;
using properties = std::map<std::string, std::string>;

// Every property of a conf and of its default topic conf (prefixed "topic."), as librdkafka reports
// them under their canonical names (linger.ms is queue.buffering.max.ms). Pointers (callbacks, the
// default topic conf) are written as addresses: pointer_free() drops them.
properties dump(const rd_kafka_conf_t* conf) {
  properties out;
  auto add = [&](const char** pairs, std::size_t count, std::string_view prefix) {
    for (std::size_t i = 0; i + 1 < count; i += 2) out[fmt::format("{}{}", prefix, pairs[i])] = pairs[i + 1];
  };
  std::size_t count = 0;
  const char** pairs = rd_kafka_conf_dump(const_cast<rd_kafka_conf_t*>(conf), &count);
  add(pairs, count, "");
  rd_kafka_conf_dump_free(pairs, count);
  if (const auto* topic = rd_kafka_conf_get_default_topic_conf(const_cast<rd_kafka_conf_t*>(conf))) {
    pairs = rd_kafka_topic_conf_dump(const_cast<rd_kafka_topic_conf_t*>(topic), &count);
    add(pairs, count, "topic.");
    rd_kafka_conf_dump_free(pairs, count);
  }
  return out;
}

// Both dumps without the entries that hold an address in either: the callbacks make_client_conf
// installs and the conf's own pointers, which differ between any two confs.
std::pair<properties, properties> pointer_free(properties a, properties b) {
  auto is_address = [](const properties& p, const std::string& name) {
    auto it = p.find(name);
    return it != p.end() && it->second.starts_with("0x");
  };
  std::vector<std::string> addresses;
  for (const auto* side : {&a, &b}) {
    for (const auto& [name, value] : *side) {
      if (is_address(a, name) || is_address(b, name)) addresses.push_back(name);
    }
  }
  for (const auto& name : addresses) {
    a.erase(name);
    b.erase(name);
  }
  return {std::move(a), std::move(b)};
}

// The raw side's conf equals the typed side's, property by property.
void expect_same(const properties& raw, const properties& typed) {
  auto [raw_properties, typed_properties] = pointer_free(raw, typed);
  EXPECT_GT(raw_properties.size(), 100u);  // librdkafka reports every property, set or not
  EXPECT_EQ(raw_properties, typed_properties);
}

properties raw_side(const client_config& config, client_role role, const client_settings& settings) {
  auto conf = kafka_bench::raw_conf(config, role, settings);
  EXPECT_TRUE(conf) << conf.error();
  return conf ? dump(conf->get()) : properties{};
}

properties typed_side(const client_config& config, client_role role, const client_settings& settings) {
  auto conf = detail::make_client_conf(config, role, settings);
  EXPECT_TRUE(conf) << conf.error().message;
  return conf ? dump(conf->get()) : properties{};
}

// Not the defaults, so that a setting the raw side dropped shows as librdkafka's default.
client_config tuned() {
  return {.brokers = "a:1,b:2",
          .client_id = "bench-test",
          .session_timeout = 12'000ms,
          .fetch_wait = 3ms,
          .linger = 7ms,
          .batch_size = 12'345,
          .delivery_timeout = 33'000ms,
          .connect_timeout = 2'500ms,
          .security = security_protocol::sasl_plaintext,
          .mechanism = sasl_mechanism::scram_sha_256,
          .sasl_username = "u",
          .sasl_password = "p",
          .rdkafka = {{"statistics.interval.ms", "1500"}, {"queue.buffering.max.kbytes", "2048"}}};
}

// Each of `expected` is in `actual` with its value.
void expect_includes(const properties& actual, const properties& expected) {
  for (const auto& [name, value] : expected) {
    auto it = actual.find(name);
    ASSERT_NE(it, actual.end()) << name;
    EXPECT_EQ(it->second, value) << name;
  }
}

TEST(bench_raw_side_conf, producer_equals_the_typed_producers) {
  const auto config = tuned();
  const auto settings = kafka_bench::producer_settings();
  const auto raw = raw_side(config, client_role::producer, settings);
  expect_same(raw, typed_side(config, client_role::producer, settings));
  // The role's own settings are there, not librdkafka's defaults.
  expect_includes(raw, {{"enable.idempotence", "true"},
                        {"queue.buffering.max.ms", "7"},  // linger.ms
                        {"batch.size", "12345"},
                        {"topic.message.timeout.ms", "33000"},  // delivery.timeout.ms
                        {"queue.buffering.max.messages", std::to_string(producer::options{}.max_queued_messages)},
                        {"topic.request.required.acks", "-1"},  // acks=all
                        {"topic.partitioner", "murmur2_random"},
                        {"sasl.mechanisms", "SCRAM-SHA-256"},
                        {"statistics.interval.ms", "1500"}});
}

TEST(bench_raw_side_conf, consumer_equals_the_typed_consumers) {
  const auto config = tuned();
  for (auto start : {offset_reset::earliest, offset_reset::latest}) {
    const client_settings settings{.group = "bench-group", .start = start};
    const auto raw = raw_side(config, client_role::consumer, settings);
    expect_same(raw, typed_side(config, client_role::consumer, settings));
    expect_includes(raw, {{"group.id", "bench-group"},
                          {"enable.auto.offset.store", "false"},
                          {"session.timeout.ms", "12000"},
                          {"fetch.wait.max.ms", "3"},
                          {"fetch.queue.backoff.ms", "10"},
                          {"topic.auto.offset.reset", start == offset_reset::earliest ? "smallest" : "largest"}});
  }
}

TEST(bench_raw_side_conf, pass_through_properties_win_on_both_sides) {
  auto config = tuned();
  config.rdkafka.emplace("linger.ms", "9");
  config.rdkafka.emplace("acks", "1");
  config.rdkafka.emplace("enable.auto.offset.store", "true");
  for (auto role : {client_role::producer, client_role::consumer}) {
    const client_settings settings{.group = "g"};
    const auto raw = raw_side(config, role, settings);
    expect_same(raw, typed_side(config, role, settings));
    expect_includes(
        raw,
        {{"queue.buffering.max.ms", "9"}, {"topic.request.required.acks", "1"}, {"enable.auto.offset.store", "true"}});
  }
}

}  // namespace
