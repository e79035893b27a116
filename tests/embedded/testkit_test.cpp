// The test kit against the embedded cluster: a message capture finds what a
// real producer published (and fails usefully when something is missing),
// the mock publisher picks the partitions the real producer picks, and the
// latency recorder summarises end-to-end latencies.
#include <horizons/producer.hpp>
#include <horizons/testkit/testkit.hpp>

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>

namespace horizons::testkit {
namespace {

using namespace std::chrono_literals;

class testkit_message_capture : public cluster_fixture {
 protected:
  std::unique_ptr<message_capture> capture(message_capture::options opts = {}) {
    opts.config = config();
    auto started = message_capture::start(std::move(opts));
    EXPECT_TRUE(started) << started.error().message;
    return started ? std::move(*started) : nullptr;
  }
  std::unique_ptr<producer> make_producer(delivery_handler on_delivery = {}) {
    auto made = producer::create({.config = config(), .on_delivery = std::move(on_delivery)});
    EXPECT_TRUE(made) << made.error().message;
    return made ? std::move(*made) : nullptr;
  }
};

event<job_submitted> submitted(const std::string& job_id, std::uint64_t seed) {
  auto e = event_sampler(seed).next<job_submitted>();
  e.payload.job_id = job_id;
  return e;
}

TEST_F(testkit_message_capture, expect_event_finds_what_the_producer_published) {
  auto seen = capture();
  ASSERT_TRUE(seen);
  auto out = make_producer();
  ASSERT_TRUE(out);
  std::vector<event<job_submitted>> jobs;
  for (int i = 1; i <= 3; ++i) jobs.push_back(submitted("job-" + std::to_string(i), static_cast<std::uint64_t>(i)));
  for (const auto& e : jobs) ASSERT_TRUE(out->publish(e));
  auto alert = event_sampler(7).next<alert_raised>();
  ASSERT_TRUE(out->publish(alert));
  ASSERT_EQ(out->flush(10s), 0u);

  auto second = seen->expect_event<job_submitted>([](const auto& e) { return e.payload.job_id == "job-2"; }, 30s);
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, jobs[1]);
  auto raised = seen->expect_event<alert_raised>(30s);
  ASSERT_TRUE(raised);
  EXPECT_EQ(*raised, alert);
  EXPECT_TRUE(seen->wait_for_count(4, 30s));
  EXPECT_EQ(seen->events_of<job_submitted>().size(), 3u);
  EXPECT_EQ(seen->events_of<alert_raised>().size(), 1u);
  EXPECT_TRUE(seen->events_of<job_failed>().empty());

  latency_recorder end_to_end;
  for (const auto& c : seen->all()) {
    EXPECT_EQ(c.context.topic, topic_of(c.event));
    ASSERT_TRUE(c.context.produced_at()) << "the producer sets the produced-at header";
    end_to_end.record_since(*c.context.produced_at());
  }
  auto summary = end_to_end.summary();
  EXPECT_EQ(summary.count, 4u);
  EXPECT_EQ(summary.negative, 0u);
  EXPECT_LT(summary.max, 60s);
  std::printf("end-to-end latency: %s\n", summary.to_string().c_str());
  EXPECT_NE(seen->describe().find("job.submitted x3, alert.raised x1"), std::string::npos) << seen->describe();
}

TEST_F(testkit_message_capture, a_missing_event_fails_and_says_what_was_captured) {
  auto seen = capture();
  ASSERT_TRUE(seen);
  auto out = make_producer();
  ASSERT_TRUE(out);
  ASSERT_TRUE(out->publish(submitted("job-present", 1)));
  ASSERT_EQ(out->flush(10s), 0u);
  ASSERT_TRUE(seen->wait_for_count(1, 30s));

  std::optional<event<job_failed>> missing;
  EXPECT_NONFATAL_FAILURE(missing = seen->expect_event<job_failed>(300ms), "no job.failed event within 300 ms");
  EXPECT_FALSE(missing);
  std::optional<event<job_submitted>> unmatched;
  EXPECT_NONFATAL_FAILURE(
      unmatched =
          seen->expect_event<job_submitted>([](const auto& e) { return e.payload.job_id == "job-absent"; }, 300ms),
      "1 event captured from job-lifecycle, job-metrics, notifications, audit-trail, system-health");
  EXPECT_FALSE(unmatched);
  // The failure shows the near misses as JSON.
  EXPECT_NONFATAL_FAILURE((void)seen->expect_event<job_submitted>([](const auto&) { return false; }, 100ms),
                          "\"job_id\":\"job-present\"");

  auto too_few = seen->wait_for_count(2, 300ms);
  EXPECT_FALSE(too_few);
  EXPECT_NE(std::string(too_few.message()).find("wanted 2 events within 300 ms; 1 event captured"), std::string::npos)
      << too_few.message();
  EXPECT_NE(std::string(too_few.message()).find("job.submitted x1"), std::string::npos) << too_few.message();
}

TEST_F(testkit_message_capture, captures_only_the_selected_topics) {
  auto seen = capture({.topics = {topic_id::notifications}});
  ASSERT_TRUE(seen);
  auto out = make_producer();
  ASSERT_TRUE(out);
  ASSERT_TRUE(out->publish(submitted("job-elsewhere", 1)));
  auto alert = event_sampler(3).next<alert_raised>();
  ASSERT_TRUE(out->publish(alert));
  ASSERT_EQ(out->flush(10s), 0u);

  EXPECT_TRUE(seen->expect_event<alert_raised>(30s));
  auto other_topic =
      seen->wait_for([](const captured_event& c) { return topic_of(c.event) != topic_id::notifications; }, 2s);
  EXPECT_FALSE(other_topic) << "captured a record of a topic it was not asked for";
  EXPECT_EQ(seen->count(), 1u);
  seen->stop();
  EXPECT_EQ(seen->count(), 1u);  // what was captured stays after stop()
}

TEST_F(testkit_message_capture, the_mock_publisher_picks_the_partitions_the_real_producer_gets) {
  std::mutex mutex;
  std::map<std::uint64_t, std::int32_t> real;
  auto out = make_producer([&](const delivery_report& r) {
    EXPECT_FALSE(r.error) << r.error->message;
    std::scoped_lock lock(mutex);
    real[r.tag] = r.partition;
  });
  ASSERT_TRUE(out);
  mock_publisher mock;
  constexpr std::uint64_t count = 50;
  for (std::uint64_t tag = 0; tag < count; ++tag) {
    auto e = submitted("job-" + std::to_string(tag * 7919), tag);
    ASSERT_TRUE(out->publish(e, tag));
    ASSERT_TRUE(mock.publish(e, tag));
  }
  ASSERT_EQ(out->flush(10s), 0u);
  ASSERT_EQ(mock.flush(1s), 0u);
  std::scoped_lock lock(mutex);
  ASSERT_EQ(real.size(), count);
  std::set<std::int32_t> used;
  for (const auto& r : mock.all()) {
    ASSERT_TRUE(r.report);
    EXPECT_EQ(r.report->partition, real.at(r.tag)) << "key " << r.key.value_or("");
    used.insert(r.partition);
  }
  EXPECT_GT(used.size(), 1u) << "keys should spread over partitions";
}

}  // namespace
}  // namespace horizons::testkit
