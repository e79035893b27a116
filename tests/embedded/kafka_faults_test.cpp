// The consumer's failure paths and the client's behaviour under faults, on
// the embedded cluster: poison records and failing handlers end in the DLQ
// with their reasons, a broker going down and up or failing requests loses
// nothing, a consumer process killed mid-stream resumes, unreachable
// brokers are reported within the configured bound, a full local queue makes
// publish() wait and then fail, never drop.
#include <horizons/consumer.hpp>
#include <horizons/producer.hpp>
#include <horizons/sample.hpp>
#include <horizons/testkit/cluster_fixture.hpp>
#include <horizons/testkit/topic_contents.hpp>

#include "child_process.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace horizons {
namespace {

using namespace std::chrono_literals;

class kafka_faults : public testkit::cluster_fixture {
 protected:
  std::unique_ptr<producer> make_producer(std::atomic<std::size_t>& delivered, std::atomic<std::size_t>& failed) {
    auto made = producer::create({.config = config(), .on_delivery = [&](const delivery_report& r) {
                                    (r.error ? failed : delivered).fetch_add(1);
                                  }});
    EXPECT_TRUE(made) << made.error().message;
    return made ? std::move(*made) : nullptr;
  }

  std::vector<raw_record> read_all(const std::string& topic) {
    auto records = testkit::read_topic(config(), topic);
    EXPECT_TRUE(records) << records.error();
    return records ? std::move(*records) : std::vector<raw_record>{};
  }
};

std::vector<event<job_submitted>> submissions(std::size_t count, std::uint64_t seed) {
  event_sampler sampler(seed);
  std::vector<event<job_submitted>> events;
  for (std::size_t i = 0; i < count; ++i) events.push_back(sampler.next<job_submitted>());
  return events;
}

// Runs `consumer` until `done()` or a deadline.
void poll_until(consumer& in, const std::function<bool()>& done, std::chrono::seconds deadline = 60s) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!done() && std::chrono::steady_clock::now() < until) {
    auto polled = in.poll(100ms);
    ASSERT_TRUE(polled) << polled.error().message;
  }
}

TEST_F(kafka_faults, poison_records_are_dead_lettered_with_their_reason_and_the_rest_is_processed) {
  std::atomic<std::size_t> delivered{0}, failed{0};
  auto out = make_producer(delivered, failed);
  ASSERT_TRUE(out);
  auto good = submissions(2000, 1);
  // Four kinds of poison, five of each, spread through the stream.
  byte_buffer valid;
  encode_framed(good.front(), valid);
  std::string body(valid.view());
  std::map<std::string, std::string> poison{
      {"random bytes", "\x13\x37 not avro at all"},
      {"bad magic byte", "\x7f" + body.substr(1)},
      {"unknown schema id", std::string("\x00\x00\x00\x03\xe7", 5) + body.substr(5)},
      {"truncated record", body.substr(0, body.size() / 2)},
  };
  envelope dummy = good.front();
  std::size_t poisoned = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    ASSERT_TRUE(out->publish(good[i]));
    if (i % 100 == 50) {
      for (const auto& [kind, bytes] : poison) {
        ASSERT_TRUE(out->publish_encoded(
            {topic_id::job_lifecycle, std::string_view("poison"), as_bytes(bytes), dummy, "poison"}, 0));
        ++poisoned;
      }
      if (poisoned >= 20) poison.clear();
    }
  }
  ASSERT_EQ(out->flush(30s), 0u);
  ASSERT_EQ(poisoned, 20u);

  auto made = consumer::create({.config = config(), .topics = {topic_id::job_lifecycle}, .group = "poison-test"});
  ASSERT_TRUE(made) << made.error().message;
  auto& in = **made;
  std::unordered_set<uuid> handled;
  in.on<job_submitted>([&](const envelope& meta, const job_submitted&, const message_context&) -> handler_result {
    handled.insert(meta.event_id);
    return {};
  });
  poll_until(in, [&] { return handled.size() + in.stats().dead_lettered >= good.size() + poisoned; });
  ASSERT_TRUE(in.close());

  auto dead = read_all("job-lifecycle.dlq");
  std::map<std::string, int> reasons;
  for (const auto& r : dead) {
    EXPECT_EQ(r.header("dlq-original-topic"), "job-lifecycle");
    EXPECT_TRUE(r.header("dlq-original-partition"));
    EXPECT_TRUE(r.header("dlq-original-offset"));
    EXPECT_EQ(r.header("dlq-error-class"), "decode");
    EXPECT_EQ(r.key, "poison") << "the DLQ keeps the original key";
    for (auto kind : {"bad magic byte", "unknown schema id", "truncated record"}) {
      if (r.header("dlq-error-message")->find(kind) != std::string_view::npos) ++reasons[kind];
    }
  }
  std::printf("valid %zu handled %zu, poison %zu dead-lettered %zu (stats %llu)\n", good.size(), handled.size(),
              poisoned, dead.size(), static_cast<unsigned long long>(in.stats().dead_lettered));
  EXPECT_EQ(handled.size(), good.size());
  EXPECT_EQ(dead.size(), poisoned);
  EXPECT_EQ(in.stats().undecodable, poisoned);
  // Random bytes begin with 0x13: reported as a bad magic byte too.
  EXPECT_EQ(reasons["bad magic byte"], 10);
  EXPECT_EQ(reasons["unknown schema id"], 5);
  EXPECT_EQ(reasons["truncated record"], 5);
}

TEST_F(kafka_faults, failing_handlers_are_retried_then_dead_lettered_transient_failures_recover) {
  std::atomic<std::size_t> delivered{0}, failed{0};
  auto out = make_producer(delivered, failed);
  ASSERT_TRUE(out);
  auto events = submissions(300, 2);
  for (const auto& e : events) ASSERT_TRUE(out->publish(e));
  ASSERT_EQ(out->flush(30s), 0u);

  std::set<std::string> always_fail, fail_once;
  for (std::size_t i = 0; i < 10; ++i) always_fail.insert(events[i * 7].payload.job_id);
  for (std::size_t i = 0; i < 10; ++i) fail_once.insert(events[i * 7 + 3].payload.job_id);

  auto made = consumer::create({.config = config(),
                                .topics = {topic_id::job_lifecycle},
                                .group = "retry-test",
                                .retry = {.max_attempts = 3, .initial_backoff = 1ms, .max_backoff = 4ms}});
  ASSERT_TRUE(made) << made.error().message;
  auto& in = **made;
  std::unordered_map<std::string, int> attempts;
  in.on<job_submitted>([&](const envelope&, const job_submitted& job, const message_context& at) -> handler_result {
    ++attempts[job.job_id];
    if (always_fail.contains(job.job_id)) return std::unexpected("scheduler rejected " + job.job_id);
    if (fail_once.contains(job.job_id) && at.attempt == 1) return std::unexpected("transient");
    return {};
  });
  poll_until(in, [&] { return in.stats().handled + in.stats().dead_lettered >= events.size(); });
  ASSERT_TRUE(in.close());

  auto stats = in.stats();
  std::printf("handled %llu, retries %llu, dead-lettered %llu\n", static_cast<unsigned long long>(stats.handled),
              static_cast<unsigned long long>(stats.retries), static_cast<unsigned long long>(stats.dead_lettered));
  EXPECT_EQ(stats.handled, events.size() - always_fail.size());
  EXPECT_EQ(stats.dead_lettered, always_fail.size());
  EXPECT_EQ(stats.retries, always_fail.size() * 2 + fail_once.size());
  for (const auto& id : always_fail) {
    EXPECT_EQ(attempts[id], 3) << id;
  }
  for (const auto& id : fail_once) {
    EXPECT_EQ(attempts[id], 2) << id;
  }

  auto dead = read_all("job-lifecycle.dlq");
  ASSERT_EQ(dead.size(), always_fail.size());
  for (const auto& r : dead) {
    EXPECT_EQ(r.header("dlq-error-class"), "handler");
    EXPECT_EQ(r.header("dlq-attempts"), "3");
    EXPECT_TRUE(r.header("dlq-error-message")->starts_with("scheduler rejected job-"));
    EXPECT_TRUE(always_fail.contains(std::string(*r.key)));
  }
}

TEST_F(kafka_faults, view_handlers_see_the_records_types_without_a_handler_are_skipped_and_bad_ones_dead_lettered) {
  std::atomic<std::size_t> delivered{0}, failed{0};
  auto out = make_producer(delivered, failed);
  ASSERT_TRUE(out);
  event_sampler sampler(31);
  std::unordered_map<uuid, event<job_submitted>> submitted;
  std::size_t cancelled = 0, failures = 0;
  for (int i = 0; i < 600; ++i) {
    if (i % 3 == 0) {
      auto e = sampler.next<job_submitted>();
      submitted.emplace(e.event_id, e);
      ASSERT_TRUE(out->publish(e));
    } else if (i % 3 == 1) {
      ++cancelled;
      ASSERT_TRUE(out->publish(sampler.next<job_cancelled>()));
    } else {
      ++failures;
      ASSERT_TRUE(out->publish(sampler.next<job_failed>()));
    }
  }
  // A good envelope before a payload that does not decode (bytes after the record): one of a type
  // with a view handler, one of a type with no handler. Neither may be acknowledged unseen.
  auto corrupt = [&](const auto& e) {
    byte_buffer framed;
    encode_framed(e, framed);
    const std::byte extra[] = {std::byte{2}, std::byte{4}};
    framed.append(extra);
    ASSERT_TRUE(out->publish_encoded(
        {topic_id::job_lifecycle, std::string_view("corrupt"), framed.bytes(), e, event_type_of(e.payload)}, 0));
  };
  corrupt(sampler.next<job_submitted>());
  corrupt(sampler.next<job_cancelled>());
  ASSERT_EQ(out->flush(30s), 0u);
  std::string rejected = submitted.begin()->second.payload.job_id;

  auto made = consumer::create({.config = config(),
                                .topics = {topic_id::job_lifecycle},
                                .group = "view-test",
                                .retry = {.max_attempts = 2, .initial_backoff = 1ms, .max_backoff = 1ms}});
  ASSERT_TRUE(made) << made.error().message;
  auto& in = **made;
  std::size_t seen_failures = 0, mismatched = 0, without_produced_at = 0;
  std::vector<message_context> kept;
  in.on_view<job_submitted>(
      [&](const envelope_view& meta, const job_submitted_view& job, const message_context& at) -> handler_result {
        auto found = submitted.find(meta.event_id);
        event_view<job_submitted> whole;
        static_cast<envelope_view&>(whole) = meta;
        whole.payload = job;
        if (found == submitted.end() || !(whole.to_owned() == found->second)) ++mismatched;
        if (!at.produced_at()) ++without_produced_at;
        kept.push_back(at.detached());
        if (job.job_id == rejected) return std::unexpected("view handler rejected " + std::string(job.job_id));
        return {};
      });
  in.on<job_failed>([&](const envelope&, const job_failed&, const message_context&) -> handler_result {
    ++seen_failures;
    return {};
  });
  auto expected_done = submitted.size() + cancelled + failures + 2;
  poll_until(in, [&] {
    auto stats = in.stats();
    return stats.handled + stats.skipped + stats.dead_lettered >= expected_done;
  });
  ASSERT_TRUE(in.close());

  auto stats = in.stats();
  EXPECT_EQ(mismatched, 0u) << "a view's to_owned() differs from the event published";
  EXPECT_EQ(without_produced_at, 0u);
  EXPECT_EQ(seen_failures, failures);
  EXPECT_EQ(stats.handled, submitted.size() - 1 + failures);
  EXPECT_EQ(stats.skipped, cancelled) << "job.cancelled has no handler";
  EXPECT_EQ(stats.undecodable, 2u);
  EXPECT_EQ(stats.dead_lettered, 3u);
  EXPECT_EQ(stats.retries, 1u);
  ASSERT_FALSE(kept.empty());
  EXPECT_TRUE(kept.front().produced_at()) << "a detached context keeps produced-at";

  auto dead = read_all("job-lifecycle.dlq");
  ASSERT_EQ(dead.size(), 3u);
  std::map<std::string, int> classes;
  for (const auto& r : dead) {
    ++classes[std::string(*r.header("dlq-error-class"))];
    if (r.header("dlq-error-class") == "decode") {
      EXPECT_EQ(r.key, "corrupt");
      EXPECT_NE(r.header("dlq-error-message")->find("trailing bytes"), std::string_view::npos);
      EXPECT_TRUE(r.header("event-type")) << "the original headers are kept";
    } else {
      EXPECT_EQ(r.header("dlq-attempts"), "2");
      EXPECT_EQ(r.header("dlq-error-message"), "view handler rejected " + rejected);
    }
  }
  EXPECT_EQ(classes["decode"], 2);
  EXPECT_EQ(classes["handler"], 1);
}

TEST_F(kafka_faults, a_broker_down_and_up_and_failing_requests_lose_nothing) {
  std::atomic<std::size_t> delivered{0}, failed{0};
  auto out = make_producer(delivered, failed);
  ASSERT_TRUE(out);
  auto events = submissions(20'000, 3);
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i == 5'000) {
      ASSERT_TRUE(cluster().set_broker_down(2));
    }
    if (i == 8'000) {
      // Produce requests fail with retriable errors: NOT_ENOUGH_REPLICAS (19), REQUEST_TIMED_OUT (7).
      cluster().inject_request_errors(0, 19, 3);
      cluster().inject_request_errors(0, 7, 3);
    }
    if (i == 12'000) {
      ASSERT_TRUE(cluster().set_broker_up(2));
    }
    ASSERT_TRUE(out->publish(events[i]));
    if (i % 1'000 == 0) std::this_thread::sleep_for(20ms);  // spread the stream over the faults
  }
  EXPECT_EQ(out->flush(120s), 0u);

  auto made = consumer::create({.config = config(), .topics = {topic_id::job_lifecycle}, .group = "broker-fault"});
  ASSERT_TRUE(made) << made.error().message;
  auto& in = **made;
  std::unordered_map<uuid, int> seen;
  in.on<job_submitted>([&](const envelope& meta, const job_submitted&, const message_context&) -> handler_result {
    ++seen[meta.event_id];
    return {};
  });
  poll_until(
      in, [&] { return seen.size() >= events.size(); }, 120s);
  ASSERT_TRUE(in.close());
  std::size_t duplicates = 0, lost = 0;
  for (const auto& [id, count] : seen) duplicates += count - 1;
  for (const auto& e : events) lost += seen.contains(e.event_id) ? 0 : 1;
  std::printf("produced %zu, delivered %zu, failed %zu, consumed %zu, lost %zu, duplicated %zu\n", events.size(),
              delivered.load(), failed.load(), seen.size(), lost, duplicates);
  EXPECT_EQ(delivered.load(), events.size());
  EXPECT_EQ(failed.load(), 0u);
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(duplicates, 0u);
}

TEST_F(kafka_faults, a_consumer_process_killed_mid_stream_resumes_and_dedup_applies_each_effect_once) {
  std::atomic<std::size_t> delivered{0}, failed{0};
  auto out = make_producer(delivered, failed);
  ASSERT_TRUE(out);
  constexpr std::size_t total = 10'000;
  auto events = submissions(total, 4);
  for (const auto& e : events) ASSERT_TRUE(out->publish(e));
  ASSERT_EQ(out->flush(30s), 0u);

  testing_support::delivery_tally tally;
  auto consume = [&](std::size_t stop_after) {
    // A short session: the killed member leaves the group after 6 s instead of the default 45 s.
    testing_support::consume_then_kill(
        {HORIZONS_CLI, "consume", "job-lifecycle", "--group", "killed", "--from-beginning", "--json", "--brokers",
         config().brokers, "--session-timeout-ms", "6000"},
        tally, stop_after, total, [](const std::string&) { return true; });
  };
  consume(3'000);
  auto after_kill = tally.deliveries.size();
  consume(total * 2);
  auto effects = tally.deliveries.size();  // one per distinct event id
  std::printf(
      "produced %zu, processed before kill %zu, processed %zu, redelivered %zu, effects applied %zu, lost %zu\n", total,
      after_kill, tally.deliveries.size(), tally.redelivered(), effects, total - effects);
  EXPECT_GE(after_kill, 3'000u);
  EXPECT_EQ(effects, total) << "at least once, deduplicated by event id: each effect exactly once";
}

TEST_F(kafka_faults, a_full_queue_waits_up_to_the_enqueue_timeout_fails_the_publish_and_drops_nothing) {
  // One report per record, counted by tag, on the default delivery thread.
  constexpr std::size_t room = 200;
  std::mutex mutex;
  std::vector<int> reports(room + 1, 0);
  std::size_t failed = 0;
  auto made = producer::create({.config = config(),
                                .on_delivery =
                                    [&](const delivery_report& r) {
                                      std::lock_guard lock(mutex);
                                      ++reports.at(r.tag);
                                      if (r.error) ++failed;
                                    },
                                .enqueue_timeout = 1'500ms,
                                .max_queued_messages = static_cast<int>(room)});
  ASSERT_TRUE(made) << made.error().message;
  auto& out = **made;
  for (int broker = 1; broker <= 3; ++broker) ASSERT_TRUE(cluster().set_broker_down(broker));

  auto events = submissions(room + 1, 11);
  std::size_t accepted = 0;
  for (; accepted < room; ++accepted) ASSERT_TRUE(out.publish(events[accepted], accepted)) << "room for " << accepted;
  const auto started = std::chrono::steady_clock::now();
  auto refused = out.publish(events[room], room);
  const auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(refused) << "the queue holds at most max_queued_messages";
  EXPECT_EQ(refused.error().name, "_QUEUE_FULL") << refused.error().message;
  EXPECT_GE(waited, 1'400ms) << "publish() waited for room before failing";
  EXPECT_LT(waited, 60s) << "bounded by the enqueue timeout, not a hang";
  EXPECT_GE(out.stats().queue_full_waits, 1u);

  for (int broker = 1; broker <= 3; ++broker) ASSERT_TRUE(cluster().set_broker_up(broker));
  EXPECT_EQ(out.flush(120s), 0u);
  std::lock_guard lock(mutex);
  for (std::size_t tag = 0; tag < room; ++tag) EXPECT_EQ(reports[tag], 1) << "record " << tag;
  EXPECT_EQ(reports[room], 0) << "a refused publish is reported to its caller only, never delivered";
  EXPECT_EQ(failed, 0u);
  std::set<uuid> stored;
  for (const auto& record : read_all("job-lifecycle")) {
    auto decoded = decode_framed(std::as_bytes(std::span(record.value)));
    ASSERT_TRUE(decoded);
    stored.insert(std::visit([](const auto& e) { return e.event_id; }, *decoded));
  }
  EXPECT_EQ(stored.size(), room) << "every accepted record was written, once";
  EXPECT_FALSE(stored.contains(events[room].event_id));
}

TEST(unreachable_brokers, are_reported_within_the_configured_bound) {
  client_config config{.brokers = "127.0.0.1:9", .connect_timeout = std::chrono::milliseconds{2'000}};
  for (auto role : {"producer", "consumer"}) {
    auto started = std::chrono::steady_clock::now();
    std::string message;
    if (std::string_view(role) == "producer") {
      auto made = producer::create({.config = config});
      ASSERT_FALSE(made);
      message = made.error().message;
    } else {
      auto made = consumer::create({.config = config, .topics = {topic_id::job_lifecycle}});
      ASSERT_FALSE(made);
      message = made.error().message;
    }
    auto took = std::chrono::steady_clock::now() - started;
    std::printf("%s: '%s' after %lld ms\n", role, message.c_str(),
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    EXPECT_NE(message.find("no broker of '127.0.0.1:9' answered within 2000 ms"), std::string::npos) << message;
    EXPECT_LT(took, 15s) << "bounded, not a hang";
  }
}

// A record longer than the consumer's limit goes to the DLQ undecoded and without its value; the
// records around it are handled, and a consumer allowed more decodes it.
TEST_F(kafka_faults, a_record_over_the_size_limit_is_dead_lettered_without_its_value) {
  config().rdkafka["message.max.bytes"] = "20000000";  // lets this test's producer send 10 MB
  std::atomic<std::size_t> delivered{0}, failed{0};
  auto out = make_producer(delivered, failed);
  ASSERT_TRUE(out);
  event_sampler sampler(10);
  auto before = sampler.next<job_submitted>(), huge = sampler.next<job_submitted>(),
       after = sampler.next<job_submitted>();
  huge.payload.job_name = std::string(10 * 1024 * 1024, 'x');  // 10 MiB: no rule of the contract reads it here
  byte_buffer huge_record;
  encode_framed(huge, huge_record);
  ASSERT_TRUE(out->publish(before));
  ASSERT_TRUE(out->publish_encoded(
      {topic_id::job_lifecycle, std::string_view(huge.payload.job_id), huge_record.bytes(), huge, "job.submitted"}, 0));
  ASSERT_TRUE(out->publish(after));
  ASSERT_EQ(out->flush(60s), 0u);
  ASSERT_EQ(failed.load(), 0u);

  auto consume = [&](const std::string& group, std::int64_t limit, std::set<std::string>& handled) {
    auto limited = config();
    limited.max_record_bytes = limit;
    auto made = consumer::create({.config = limited, .topics = {topic_id::job_lifecycle}, .group = group});
    ASSERT_TRUE(made) << made.error().message;
    auto& in = **made;
    in.on<job_submitted>([&](const envelope&, const job_submitted& job, const message_context&) -> handler_result {
      handled.insert(job.job_id);
      return {};
    });
    poll_until(in, [&] { return handled.size() + in.stats().dead_lettered >= 3; });
    ASSERT_TRUE(in.close());
    EXPECT_EQ(in.stats().undecodable, 0u) << "too long is not undecodable";
  };

  std::set<std::string> handled;
  consume("size-limit-default", config().max_record_bytes, handled);
  EXPECT_EQ(handled, (std::set<std::string>{before.payload.job_id, after.payload.job_id}));
  auto dead = read_all("job-lifecycle.dlq");
  ASSERT_EQ(dead.size(), 1u);
  const auto& letter = dead.front();
  const auto read = read_dead_letter(letter);
  EXPECT_TRUE(letter.value.empty()) << "the letter leaves the 10 MB value out";
  EXPECT_EQ(letter.key, huge.payload.job_id) << "and keeps the key";
  EXPECT_EQ(read.error_class, "size");
  EXPECT_EQ(read.omitted_value_bytes, static_cast<std::int64_t>(huge_record.size()));
  EXPECT_EQ(read.original_topic, "job-lifecycle");
  ASSERT_TRUE(read.original_offset && read.original_partition && read.error_message);
  EXPECT_NE(read.error_message->find(
                fmt::format("record of {} bytes is longer than this consumer's limit of 1048576", huge_record.size())),
            std::string::npos)
      << *read.error_message;
  EXPECT_NE(
      read.error_message->find(fmt::format("job-lifecycle[{}]@{}", *read.original_partition, *read.original_offset)),
      std::string::npos)
      << "the message says where the record stays: " << *read.error_message;

  std::set<std::string> with_room;
  consume("size-limit-raised", 20'000'000, with_room);
  EXPECT_EQ(with_room.size(), 3u) << "a consumer allowed 20 MB decodes the record";
}

}  // namespace
}  // namespace horizons
