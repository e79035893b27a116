// The mock publisher: captures what publish() encodes (decoded back from
// the bytes), filters it, reports every delivery exactly once on its own
// thread after the simulated latency, and fails where told to.
#include <horizons/testkit/mock_publisher.hpp>

#include <horizons/event_builder.hpp>
#include <horizons/sample.hpp>

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>  // only to compare partitioners

#include <atomic>
#include <charconv>
#include <map>
#include <set>
#include <span>
#include <thread>

namespace horizons::testkit {
namespace {

using namespace std::chrono_literals;

// Every report, counted per tag, with the thread it arrived on.
class report_log {
 public:
  delivery_handler handler() {
    return [this](const delivery_report& r) {
      auto concurrent = in_handler_.fetch_add(1) + 1;
      if (concurrent > 1) overlapped_ = true;
      {
        std::scoped_lock lock(mutex_);
        reports_.push_back(r);
        threads_.insert(std::this_thread::get_id());
        arrival_.push_back(std::chrono::steady_clock::now());
      }
      std::this_thread::sleep_for(50us);
      in_handler_.fetch_sub(1);
    };
  }
  std::vector<delivery_report> reports() {
    std::scoped_lock lock(mutex_);
    return reports_;
  }
  std::map<std::uint64_t, int> per_tag() {
    std::map<std::uint64_t, int> count;
    for (const auto& r : reports()) ++count[r.tag];
    return count;
  }
  std::set<std::thread::id> threads() {
    std::scoped_lock lock(mutex_);
    return threads_;
  }
  std::vector<std::chrono::steady_clock::time_point> arrivals() {
    std::scoped_lock lock(mutex_);
    return arrival_;
  }
  bool overlapped() const { return overlapped_; }

 private:
  std::mutex mutex_;
  std::vector<delivery_report> reports_;
  std::set<std::thread::id> threads_;
  std::vector<std::chrono::steady_clock::time_point> arrival_;
  std::atomic<int> in_handler_{0};
  std::atomic<bool> overlapped_{false};
};

event<job_submitted> submitted(std::string job_id, std::uint64_t seed = 1) {
  auto e = event_sampler(seed).next<job_submitted>();
  e.payload.job_id = std::move(job_id);
  return e;
}

TEST(testkit_mock_publisher, captures_the_decoded_event_topic_key_headers_and_bytes) {
  mock_publisher out;
  auto e = submitted("job-42");
  e.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  ASSERT_TRUE(out.publish(e, 7));

  auto kept = out.all();
  ASSERT_EQ(kept.size(), 1u);
  const auto& r = kept[0];
  EXPECT_EQ(r.sequence, 1u);
  EXPECT_EQ(r.topic, topic_id::job_lifecycle);
  EXPECT_EQ(r.key, "job-42");
  EXPECT_EQ(r.tag, 7u);
  EXPECT_EQ(r.event, any_event(to_topic_event(e)));
  byte_buffer expected;
  encode_framed(e, expected);
  EXPECT_TRUE(std::ranges::equal(r.value, expected.bytes()));
  EXPECT_EQ(r.event_type(), "job.submitted");
  EXPECT_EQ(r.header(header::event_type), "job.submitted");
  EXPECT_EQ(r.header(header::event_id), e.event_id.to_string());
  EXPECT_EQ(r.header(header::correlation_id), e.correlation_id.to_string());
  EXPECT_EQ(r.header(header::content_type), header::content_type_value);
  EXPECT_EQ(r.header(header::traceparent), e.traceparent);
  auto produced_at = r.header(header::produced_at);
  ASSERT_TRUE(produced_at);
  std::int64_t micros = 0;
  std::from_chars(produced_at->data(), produced_at->data() + produced_at->size(), micros);
  EXPECT_EQ(micros, r.published_at.time_since_epoch().count());
  EXPECT_LT(now() - r.published_at, 10s);
  EXPECT_FALSE(r.header("no-such-header"));
}

TEST(testkit_mock_publisher, filters_by_topic_type_and_correlation) {
  mock_publisher out;
  event_sampler sampler(3);
  auto first = *make_event(sampler.next<job_submitted>().payload).build();
  auto second = *make_event(sampler.next<job_status_changed>().payload).caused_by(first).build();
  auto unrelated = sampler.next<job_submitted>();
  auto alert = sampler.next<alert_raised>();
  for (const auto* e : {&first, &unrelated}) ASSERT_TRUE(out.publish(*e));
  ASSERT_TRUE(out.publish(second));
  ASSERT_TRUE(out.publish(alert));
  any_event any = to_topic_event(sampler.next<audit_data_access>());
  ASSERT_TRUE(out.publish(any));

  EXPECT_EQ(out.count(), 5u);
  EXPECT_EQ(out.of_topic(topic_id::job_lifecycle).size(), 3u);
  EXPECT_EQ(out.of_topic(topic_id::notifications).size(), 1u);
  EXPECT_EQ(out.of_topic(topic_id::audit_trail).size(), 1u);
  EXPECT_TRUE(out.of_topic(topic_id::system_health).empty());

  auto jobs = out.of_type<job_submitted>();
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0], first);
  EXPECT_EQ(jobs[1], unrelated);
  ASSERT_EQ(out.of_type<alert_raised>().size(), 1u);
  EXPECT_EQ(out.of_type<alert_raised>()[0], alert);
  EXPECT_TRUE(out.of_type<job_failed>().empty());

  auto flow = out.with_correlation(first.correlation_id);
  ASSERT_EQ(flow.size(), 2u);
  EXPECT_EQ(flow[0].event_type(), "job.submitted");
  EXPECT_EQ(flow[1].event_type(), "job.status.changed");
  EXPECT_EQ(envelope_of(flow[1].event).causation_id, first.event_id);
  EXPECT_TRUE(out.with_correlation(uuid::random()).empty());

  out.clear();
  EXPECT_EQ(out.count(), 0u);
  ASSERT_TRUE(out.publish(first));
  EXPECT_EQ(out.all().at(0).sequence, 6u);  // sequences continue across clear()
}

TEST(testkit_mock_publisher, reports_every_delivery_exactly_once_on_one_delivery_thread) {
  report_log log;
  mock_publisher out({.on_delivery = log.handler()});
  constexpr int threads = 8, per_thread = 500;
  {
    std::vector<std::jthread> publishers;
    for (int t = 0; t < threads; ++t) {
      publishers.emplace_back([&, t] {
        event_sampler sampler(static_cast<std::uint64_t>(t));
        for (int i = 0; i < per_thread; ++i) {
          auto tag = static_cast<std::uint64_t>(t * per_thread + i);
          auto e = *sampler.next(all_event_types[tag % all_event_types.size()]);
          EXPECT_TRUE(out.publish(e, tag));
        }
      });
    }
  }
  EXPECT_EQ(out.flush(10s), 0u);
  auto per_tag = log.per_tag();
  EXPECT_EQ(per_tag.size(), static_cast<std::size_t>(threads * per_thread));
  for (const auto& [tag, reports] : per_tag) ASSERT_EQ(reports, 1) << "tag " << tag;
  auto seen = log.threads();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_NE(*seen.begin(), std::this_thread::get_id());
  EXPECT_FALSE(log.overlapped()) << "on_delivery ran twice at once";

  auto stats = out.stats();
  EXPECT_EQ(stats.accepted, static_cast<std::uint64_t>(threads * per_thread));
  EXPECT_EQ(stats.delivered, stats.accepted);
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_EQ(stats.pending, 0u);
  // Each record carries its report; event ids in reports are the published ones.
  std::set<std::uint64_t> sequences;
  for (const auto& r : out.all()) {
    ASSERT_TRUE(r.report);
    EXPECT_EQ(r.report->event_id, envelope_of(r.event).event_id);
    EXPECT_EQ(r.report->tag, r.tag);
    sequences.insert(r.sequence);
  }
  EXPECT_EQ(sequences.size(), stats.accepted);
  // Nothing more comes later.
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(log.reports().size(), stats.accepted);
}

TEST(testkit_mock_publisher, delays_reports_by_the_latency_and_flush_waits_for_them) {
  report_log log;
  mock_publisher out({.on_delivery = log.handler(), .delivery_latency = 200ms});
  auto started = std::chrono::steady_clock::now();
  for (std::uint64_t tag = 0; tag < 5; ++tag) ASSERT_TRUE(out.publish(submitted("job-" + std::to_string(tag)), tag));
  EXPECT_EQ(out.flush(0ms), 5u);  // nothing is due yet
  EXPECT_TRUE(log.reports().empty());
  EXPECT_EQ(out.stats().pending, 5u);
  EXPECT_EQ(out.flush(5s), 0u);
  for (auto at : log.arrivals()) EXPECT_GE(at - started, 200ms);
  auto reports = log.reports();
  ASSERT_EQ(reports.size(), 5u);
  for (std::size_t i = 0; i < reports.size(); ++i) EXPECT_EQ(reports[i].tag, i) << "reports keep publish order";

  out.set_delivery_latency(0us);
  ASSERT_TRUE(out.publish(submitted("job-fast"), 99));
  EXPECT_EQ(out.flush(1s), 0u);
  EXPECT_EQ(log.reports().back().tag, 99u);
}

TEST(testkit_mock_publisher, lowering_the_latency_never_lets_a_later_report_overtake) {
  report_log log;
  mock_publisher out({.on_delivery = log.handler(), .delivery_latency = 300ms});
  ASSERT_TRUE(out.publish(submitted("job-slow"), 1));
  out.set_delivery_latency(0us);
  ASSERT_TRUE(out.publish(submitted("job-fast"), 2));
  ASSERT_EQ(out.flush(5s), 0u);
  auto reports = log.reports();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].tag, 1u);
  EXPECT_EQ(reports[1].tag, 2u);
}

TEST(testkit_mock_publisher, assigns_the_real_partitioners_partition_and_consecutive_offsets) {
  mock_publisher out;
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(out.publish(submitted(i % 2 == 0 ? "job-a" : "job-b")));
  ASSERT_EQ(out.flush(1s), 0u);
  auto partitions = spec(topic_id::job_lifecycle).partitions;
  auto a = detail::murmur2_partition("job-a", partitions);
  auto b = detail::murmur2_partition("job-b", partitions);
  std::map<std::int32_t, std::vector<std::int64_t>> offsets;
  for (const auto& r : out.all()) {
    EXPECT_EQ(r.partition, *r.key == "job-a" ? a : b);
    ASSERT_TRUE(r.report);
    EXPECT_EQ(r.report->partition, r.partition);
    offsets[r.partition].push_back(r.report->offset);
  }
  if (a != b) {
    EXPECT_EQ(offsets[a], (std::vector<std::int64_t>{0, 1, 2}));
    EXPECT_EQ(offsets[b], (std::vector<std::int64_t>{0, 1, 2}));
  }
  // Unkeyed records spread over the topic's partitions.
  auto health = event_sampler(5).next<system_health_check>();
  ASSERT_TRUE(out.publish(health));
  ASSERT_EQ(out.of_topic(topic_id::system_health).size(), 1u);
  EXPECT_FALSE(out.of_topic(topic_id::system_health)[0].key);
  EXPECT_EQ(out.of_topic(topic_id::system_health)[0].partition, 0);
}

TEST(testkit_mock_publisher, murmur2_partition_is_kafkas) {
  // Kafka's UtilsTest.testMurmur2 vectors: hash, then toPositive(hash) % partitions.
  const std::vector<std::pair<std::string, std::int32_t>> java{
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
  };
  for (const auto& [key, hash] : java) {
    for (std::int32_t n : {1, 3, 10, 1'000, 2'147'483'647}) {
      EXPECT_EQ(detail::murmur2_partition(key, n), (hash & 0x7fffffff) % n) << key << " over " << n;
    }
  }
  // And librdkafka's partitioner, which the real producer uses, for keys of every length mod 4.
  std::mt19937_64 rng(1);
  for (int i = 0; i < 2'000; ++i) {
    std::string key(static_cast<std::size_t>(i % 41), '\0');
    for (auto& c : key) c = static_cast<char>(rng());
    for (std::int32_t n : {1, 5, 10}) {
      ASSERT_EQ(detail::murmur2_partition(key, n),
                rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), n, nullptr, nullptr))
          << "key length " << key.size();
    }
  }
}

TEST(testkit_mock_publisher, fails_every_nth_delivery_with_the_error_in_the_report) {
  report_log log;
  mock_publisher out({.on_delivery = log.handler(), .failures = {{.every_nth = 3}}});
  for (std::uint64_t tag = 1; tag <= 9; ++tag) ASSERT_TRUE(out.publish(submitted("job"), tag));
  ASSERT_EQ(out.flush(1s), 0u);
  auto per_tag = log.per_tag();
  EXPECT_EQ(per_tag.size(), 9u);
  for (const auto& r : log.reports()) {
    if (r.tag % 3 == 0) {
      ASSERT_TRUE(r.error) << "tag " << r.tag;
      EXPECT_EQ(r.error->name, "NOT_ENOUGH_REPLICAS");
      EXPECT_TRUE(r.error->retriable);
      EXPECT_EQ(r.offset, -1);
    } else {
      EXPECT_FALSE(r.error) << "tag " << r.tag;
      EXPECT_GE(r.offset, 0);
    }
  }
  EXPECT_EQ(out.count(), 9u);  // failed deliveries were still sent
  auto failed = std::ranges::count_if(out.all(), [](const auto& r) { return r.report && r.report->error; });
  EXPECT_EQ(failed, 3);
  EXPECT_EQ(out.stats().failed, 3u);
  EXPECT_EQ(out.stats().delivered, 6u);
}

TEST(testkit_mock_publisher, fails_every_nth_publish_with_a_returned_error_and_no_report) {
  report_log log;
  mock_publisher out({.on_delivery = log.handler(), .failures = {{.every_nth = 3, .stage = failure_stage::publish}}});
  std::vector<std::uint64_t> refused;
  for (std::uint64_t tag = 1; tag <= 9; ++tag) {
    auto sent = out.publish(submitted("job"), tag);
    if (!sent) {
      refused.push_back(tag);
      EXPECT_EQ(sent.error().name, "_QUEUE_FULL");
      EXPECT_NE(sent.error().message.find("job.submitted"), std::string::npos) << sent.error().message;
    }
  }
  EXPECT_EQ(refused, (std::vector<std::uint64_t>{3, 6, 9}));
  ASSERT_EQ(out.flush(1s), 0u);
  auto per_tag = log.per_tag();
  EXPECT_EQ(per_tag.size(), 6u);
  for (auto tag : refused) EXPECT_FALSE(per_tag.contains(tag)) << "refused publish " << tag << " was reported";
  EXPECT_EQ(out.count(), 6u);
  EXPECT_EQ(out.stats().rejected, 3u);
}

TEST(testkit_mock_publisher, fails_what_a_predicate_picks_with_a_chosen_error) {
  report_log log;
  kafka_error broker_down{.code = -195, .name = "_TRANSPORT", .message = "broker down", .retriable = true};
  mock_publisher out({.on_delivery = log.handler(),
                      .failures = {{.when = [](const published_record& r) { return r.event_type() == "alert.raised"; },
                                    .error = broker_down}}});
  event_sampler sampler(9);
  ASSERT_TRUE(out.publish(sampler.next<job_submitted>(), 1));
  ASSERT_TRUE(out.publish(sampler.next<alert_raised>(), 2));
  ASSERT_EQ(out.flush(1s), 0u);
  for (const auto& r : log.reports()) {
    if (r.tag == 2) {
      ASSERT_TRUE(r.error);
      EXPECT_EQ(r.error->name, "_TRANSPORT");
      EXPECT_EQ(r.error->message, "broker down");
    } else {
      EXPECT_FALSE(r.error);
    }
  }
  // Rules can change mid-test: a publish-time predicate, then none.
  out.set_failures(
      {{.when = [](const published_record& r) { return r.key == "job-x"; }, .stage = failure_stage::publish}});
  EXPECT_FALSE(out.publish(submitted("job-x")));
  EXPECT_TRUE(out.publish(submitted("job-y")));
  out.set_failures({});
  EXPECT_TRUE(out.publish(submitted("job-x")));
}

TEST(testkit_mock_publisher, the_first_matching_rule_decides_and_every_rule_keeps_counting) {
  report_log log;
  kafka_error first_error{.code = -195, .name = "_TRANSPORT", .message = "first rule"};
  mock_publisher out(
      {.on_delivery = log.handler(),
       .failures = {{.every_nth = 2, .error = first_error}, {.every_nth = 1, .stage = failure_stage::publish}}});
  auto one = out.publish(submitted("job"), 1);  // rule 1 sees #1: no; rule 2 sees #1: yes -> refused
  auto two = out.publish(submitted("job"), 2);  // rule 1 sees #2: yes, and wins over rule 2
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().name, "_QUEUE_FULL");
  ASSERT_TRUE(two);
  ASSERT_EQ(out.flush(1s), 0u);
  auto reports = log.reports();
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_TRUE(reports[0].error);
  EXPECT_EQ(reports[0].error->message, "first rule");

  // A shadowed rule still counts: B sees #2 (where A decided), so its next hit is #4, not #3.
  out.set_failures({{.every_nth = 2, .error = first_error}, {.every_nth = 2, .stage = failure_stage::publish}});
  for (std::uint64_t tag = 11; tag <= 14; ++tag) EXPECT_TRUE(out.publish(submitted("job"), tag)) << "publish " << tag;
}

TEST(testkit_mock_publisher, refuses_bytes_that_do_not_decode_or_disagree_with_the_record) {
  mock_publisher out;
  auto e = submitted("job-1");
  auto record = [&](std::span<const std::byte> value, std::string_view key, const envelope& meta,
                    std::string_view type) {
    return outgoing_record{topic_id::job_lifecycle, key, value, meta, type};
  };
  const std::byte garbage[] = {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}, std::byte{0xff}};
  std::expected<void, kafka_error> sent;
  EXPECT_NONFATAL_FAILURE(sent = out.publish_encoded(record(garbage, "job-1", e, "job.submitted"), 0),
                          "does not decode");
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().name, "_BAD_MSG");

  byte_buffer bytes;
  encode_framed(e, bytes);
  EXPECT_NONFATAL_FAILURE(sent = out.publish_encoded(record(bytes.bytes(), "job-1", e, "job.failed"), 0),
                          "decodes as job.submitted");
  EXPECT_FALSE(sent);
  EXPECT_NONFATAL_FAILURE(sent = out.publish_encoded(record(bytes.bytes(), "job-2", e, "job.submitted"), 0),
                          "partition key");
  EXPECT_FALSE(sent);
  auto other = submitted("job-1", 2);
  EXPECT_NONFATAL_FAILURE(sent = out.publish_encoded(record(bytes.bytes(), "job-1", other, "job.submitted"), 0),
                          "event_id");
  EXPECT_FALSE(sent);
  EXPECT_EQ(out.count(), 0u);
  EXPECT_EQ(out.stats().rejected, 4u);
  // The same bytes, described truthfully, pass.
  EXPECT_TRUE(out.publish_encoded(record(bytes.bytes(), "job-1", e, "job.submitted"), 0));
}

TEST(testkit_mock_publisher, close_reports_pending_deliveries_as_purged_once_and_refuses_later_publishes) {
  report_log log;
  mock_publisher out({.on_delivery = log.handler(), .delivery_latency = 1h});
  for (std::uint64_t tag = 1; tag <= 3; ++tag) ASSERT_TRUE(out.publish(submitted("job"), tag));
  EXPECT_EQ(out.close(20ms), 3u);
  auto reports = log.reports();
  ASSERT_EQ(reports.size(), 3u);
  for (const auto& r : reports) {
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->name, "_PURGE_QUEUE");
  }
  auto late = out.publish(submitted("job"), 4);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().name, "_DESTROY");
  EXPECT_EQ(out.close(1s), 0u);
  EXPECT_EQ(log.reports().size(), 3u);
  EXPECT_EQ(out.stats().pending, 0u);
}

TEST(testkit_mock_publisher, delivery_handler_may_query_and_flush_without_deadlock) {
  std::atomic<std::size_t> seen_in_handler{0};
  std::atomic<std::size_t> pending_in_handler{0};
  mock_publisher* self = nullptr;
  mock_publisher out({.on_delivery = [&](const delivery_report&) {
    seen_in_handler = self->count();
    pending_in_handler = self->flush(1s);  // returns at once on the delivery thread
  }});
  self = &out;
  ASSERT_TRUE(out.publish(submitted("job")));
  ASSERT_EQ(out.flush(2s), 0u);
  EXPECT_EQ(seen_in_handler.load(), 1u);
  EXPECT_EQ(pending_in_handler.load(), 1u);  // its own report was still in the handler
}

TEST(testkit_mock_publisher, a_throwing_delivery_handler_is_a_test_failure) {
  EXPECT_NONFATAL_FAILURE_ON_ALL_THREADS(
      {
        mock_publisher out({.on_delivery = [](const delivery_report&) { throw std::runtime_error("boom"); }});
        (void)out.publish(submitted("job"));
        (void)out.flush(1s);
      },
      "on_delivery threw: boom");
}

TEST(testkit_mock_publisher, invalid_events_are_refused_before_the_mock_sees_them) {
  mock_publisher out;
  auto e = submitted("");  // *_id fields must not be empty
  auto sent = out.publish(e);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().name, "_INVALID_ARG");
  EXPECT_EQ(out.count(), 0u);
}

}  // namespace
}  // namespace horizons::testkit
