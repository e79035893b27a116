// What a consumer records in the process's Prometheus registry
// (horizons/metrics.hpp), read back through the registry's own data model:
// latency and handler-duration histograms counting each record and each call,
// retries and dead letters per label set, partition lag that reaches zero and
// goes with the consumer; and the producer's one clock reading shared by the
// produced-at header and the record's timestamp.
#include <horizons/codec.hpp>
#include <horizons/consumer.hpp>
#include <horizons/metrics.hpp>
#include <horizons/producer.hpp>
#include <horizons/sample.hpp>
#include <horizons/testkit/cluster_fixture.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace horizons {
namespace {

using namespace std::chrono_literals;
using labels = std::map<std::string, std::string>;

class consumer_metrics : public testkit::cluster_fixture {};

// The child of family `name` whose labels are exactly `wanted`; nullopt when there is none.
std::optional<prometheus::ClientMetric> child(const std::string& name, const labels& wanted) {
  for (const auto& family : metrics::registry().Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      labels have;
      for (const auto& label : metric.label) have[label.name] = label.value;
      if (have == wanted) return metric;
    }
  }
  return std::nullopt;
}

// Every child of family `name` with label group=`group`.
std::vector<prometheus::ClientMetric> children_of_group(const std::string& name, const std::string& group) {
  std::vector<prometheus::ClientMetric> found;
  for (const auto& family : metrics::registry().Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name == "group" && label.value == group) found.push_back(metric);
      }
    }
  }
  return found;
}

void poll_until(consumer& in, const std::function<bool()>& done, std::chrono::seconds deadline = 60s) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!done() && std::chrono::steady_clock::now() < until) {
    auto polled = in.poll(100ms);
    ASSERT_TRUE(polled) << polled.error().message;
  }
}

TEST_F(consumer_metrics, count_every_record_call_retry_and_dead_letter_and_lag_reaches_zero) {
  constexpr std::size_t jobs = 40;
  const std::string group = "metrics-test";
  auto out = producer::create({.config = config()});
  ASSERT_TRUE(out) << out.error().message;
  event_sampler sampler(7);
  std::vector<event<job_submitted>> sent;
  for (std::size_t i = 0; i < jobs; ++i) {
    sent.push_back(sampler.next<job_submitted>());
    ASSERT_TRUE((*out)->publish(sent.back()));
  }
  const std::string garbage = "\x13\x37 not an avro record";
  ASSERT_TRUE((*out)->publish_encoded(
      {topic_id::job_lifecycle, std::string_view("garbage"), as_bytes(garbage), sent.front(), "garbage"}, 0));
  ASSERT_EQ((*out)->flush(30s), 0u);

  auto made = consumer::create({.config = config(),
                                .topics = {topic_id::job_lifecycle},
                                .group = group,
                                .retry = {.max_attempts = 3, .initial_backoff = 1ms, .max_backoff = 2ms}});
  ASSERT_TRUE(made) << made.error().message;
  auto& in = **made;
  const auto fails_once = sent[3].payload.job_id;
  in.on<job_submitted>([&](const envelope&, const job_submitted& job, const message_context& at) -> handler_result {
    if (job.job_id == fails_once && at.attempt == 1) return std::unexpected("transient");
    return {};
  });
  poll_until(in, [&] { return in.stats().handled + in.stats().dead_lettered >= jobs + 1; });
  ASSERT_EQ(in.stats().handled, jobs);
  // The lag gauges are refreshed about once a second while the consumer polls.
  auto settle = std::chrono::steady_clock::now() + 1500ms;
  poll_until(in, [&] { return std::chrono::steady_clock::now() > settle; });

  auto latency = child("horizons_event_latency_seconds", {{"group", group}, {"topic", "job-lifecycle"}});
  ASSERT_TRUE(latency);
  EXPECT_EQ(latency->histogram.sample_count, jobs) << "one observation per handled record";
  EXPECT_GE(latency->histogram.sample_sum, 0);
  EXPECT_LT(latency->histogram.sample_sum, jobs * 60.0);
  ASSERT_EQ(latency->histogram.bucket.size(), metrics::latency_buckets().size() + 1);
  EXPECT_EQ(latency->histogram.bucket.back().cumulative_count, jobs);

  auto calls = child("horizons_handler_duration_seconds", {{"group", group}, {"event_type", "job.submitted"}});
  ASSERT_TRUE(calls);
  EXPECT_EQ(calls->histogram.sample_count, jobs + 1) << "every call, the repeated one too";

  auto retries = child("horizons_handler_retries_total", {{"group", group}, {"event_type", "job.submitted"}});
  ASSERT_TRUE(retries);
  EXPECT_EQ(retries->counter.value, 1);
  auto other_retries = child("horizons_handler_retries_total", {{"group", group}, {"event_type", "job.cancelled"}});
  EXPECT_FALSE(other_retries) << "only handled event types have series";

  auto decode =
      child("horizons_dead_letters_total", {{"group", group}, {"topic", "job-lifecycle"}, {"error_class", "decode"}});
  ASSERT_TRUE(decode);
  EXPECT_EQ(decode->counter.value, 1);
  auto handler =
      child("horizons_dead_letters_total", {{"group", group}, {"topic", "job-lifecycle"}, {"error_class", "handler"}});
  ASSERT_TRUE(handler) << "declared at zero before any handler fails for good";
  EXPECT_EQ(handler->counter.value, 0);

  auto lag = children_of_group("horizons_consumer_partition_lag_messages", group);
  ASSERT_FALSE(lag.empty());
  for (const auto& partition : lag) EXPECT_EQ(partition.gauge.value, 0) << "everything was read";

  ASSERT_TRUE(in.close());
  EXPECT_TRUE(children_of_group("horizons_consumer_partition_lag_messages", group).empty())
      << "a closed consumer holds no partitions";
  EXPECT_TRUE(child("horizons_handler_retries_total", {{"group", group}, {"event_type", "job.submitted"}}))
      << "counters outlive the consumer";

  auto text = metrics::exposition();
  EXPECT_NE(text.find("# TYPE horizons_event_latency_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("horizons_handler_retries_total{event_type=\"job.submitted\",group=\"metrics-test\"} 1\n"),
            std::string::npos)
      << text;
}

TEST_F(consumer_metrics, the_record_timestamp_is_the_produced_at_header_in_milliseconds) {
  auto out = producer::create({.config = config()});
  ASSERT_TRUE(out) << out.error().message;
  event_sampler sampler(8);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*out)->publish(sampler.next<job_submitted>()));
  ASSERT_EQ((*out)->flush(30s), 0u);

  auto made = consumer::create({.config = config(), .topics = {topic_id::job_lifecycle}, .group = "timestamps"});
  ASSERT_TRUE(made) << made.error().message;
  std::size_t seen = 0, equal = 0;
  (*made)->on<job_submitted>([&](const envelope&, const job_submitted&, const message_context& at) -> handler_result {
    ++seen;
    auto header = at.produced_at();
    if (header && std::chrono::floor<std::chrono::milliseconds>(*header) == at.record_time) ++equal;
    return {};
  });
  poll_until(**made, [&] { return seen >= 20; });
  EXPECT_EQ(seen, 20u);
  EXPECT_EQ(equal, seen) << "latency may read either: they are one clock reading";
}

}  // namespace
}  // namespace horizons
