// Channels on one producer (producer.hpp, "Sharing one producer") against the
// embedded cluster: each channel hears exactly its own reports, with its own
// tags; the producer's own handler hears only what was published on it; a
// channel destroyed with records in flight hears nothing more and the others
// go on; tags that would not fit beside a channel number are refused.
#include <horizons/producer.hpp>
#include <horizons/sample.hpp>
#include <horizons/testkit/cluster_fixture.hpp>
#include <horizons/testkit/mock_publisher.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

namespace horizons {
namespace {

using namespace std::chrono_literals;

std::vector<any_event> make_events(std::size_t count, std::uint64_t seed) {
  event_sampler sampler(seed);
  std::vector<any_event> events;
  for (std::size_t i = 0; i < count; ++i) events.push_back(*sampler.next(all_event_types[i % all_event_types.size()]));
  return events;
}

// What one handler heard: tag -> (event id, times reported).
struct heard {
  std::mutex mutex;
  std::map<std::uint64_t, std::pair<uuid, int>> reports;
  std::size_t failures = 0;

  delivery_handler handler() {
    return [this](const delivery_report& r) {
      std::scoped_lock lock(mutex);
      auto& [id, times] = reports[r.tag];
      id = r.event_id;
      ++times;
      if (r.error) ++failures;
    };
  }
  std::size_t size() {
    std::scoped_lock lock(mutex);
    return reports.size();
  }
};

// Every event reported exactly once, under the tag it was published with (`first_tag` + its index), and
// nothing else.
void expect_exactly(heard& h, const std::vector<any_event>& events, std::uint64_t first_tag) {
  std::scoped_lock lock(h.mutex);
  EXPECT_EQ(h.reports.size(), events.size());
  EXPECT_EQ(h.failures, 0u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto at = h.reports.find(first_tag + i);
    ASSERT_NE(at, h.reports.end()) << "tag " << first_tag + i << " not reported";
    EXPECT_EQ(at->second.first, testkit::envelope_of(events[i]).event_id);
    EXPECT_EQ(at->second.second, 1) << "tag " << first_tag + i;
  }
}

class producer_channel : public testkit::cluster_fixture {};

TEST_F(producer_channel, each_channel_and_the_producer_hear_exactly_their_own_reports) {
  heard plain, a, b;
  auto made = producer::create({.config = config(), .on_delivery = plain.handler()});
  ASSERT_TRUE(made) << made.error().message;
  auto& shared = **made;
  auto channel_a = shared.channel(a.handler());
  auto channel_b = shared.channel(b.handler());
  ASSERT_TRUE(channel_a && channel_b);

  // The same tags on every side: only the channel number tells the reports apart.
  auto on_plain = make_events(500, 1), on_a = make_events(2'000, 2), on_b = make_events(1'500, 3);
  for (std::size_t i = 0; i < on_a.size(); ++i) {
    ASSERT_TRUE((*channel_a)->publish(on_a[i], i));
    if (i < on_b.size()) {
      ASSERT_TRUE((*channel_b)->publish(on_b[i], i));
    }
    if (i < on_plain.size()) {
      ASSERT_TRUE(shared.publish(on_plain[i], i));
    }
  }
  EXPECT_EQ((*channel_a)->flush(60s), 0u) << "a channel's flush waits for the whole producer";
  expect_exactly(a, on_a, 0);
  expect_exactly(b, on_b, 0);
  expect_exactly(plain, on_plain, 0);
  auto stats = shared.stats();
  EXPECT_EQ(stats.delivered, on_a.size() + on_b.size() + on_plain.size());
}

TEST_F(producer_channel, a_destroyed_channel_hears_nothing_more_and_the_others_go_on) {
  auto made = producer::create({.config = config()});
  ASSERT_TRUE(made) << made.error().message;
  auto& shared = **made;
  // Slow brokers: the records of the channel below are still in flight when it goes.
  for (int broker = 1; broker <= cluster().broker_count(); ++broker)
    ASSERT_TRUE(cluster().set_broker_rtt(broker, 300ms));
  auto gone_reports = std::make_shared<std::atomic<int>>(0);
  auto gone = shared.channel([gone_reports](const delivery_report&) { ++*gone_reports; });
  heard stays;
  auto staying = shared.channel(stays.handler());
  ASSERT_TRUE(gone && staying);
  auto events = make_events(1'000, 4);
  for (std::size_t i = 0; i < events.size(); ++i) ASSERT_TRUE((*gone)->publish(events[i], i));
  gone->reset();
  auto heard_before = gone_reports->load();
  EXPECT_LT(heard_before, static_cast<int>(events.size())) << "the test needs records in flight at destruction";
  for (std::size_t i = 0; i < events.size(); ++i) ASSERT_TRUE((*staying)->publish(events[i], 1'000 + i));
  EXPECT_EQ(shared.flush(60s), 0u);
  EXPECT_EQ(gone_reports->load(), heard_before) << "a report reached a destroyed channel";
  expect_exactly(stays, events, 1'000);
  EXPECT_EQ(shared.stats().delivered, 2 * events.size()) << "a destroyed channel's records are still sent";
}

TEST_F(producer_channel, tags_too_large_for_a_channel_number_are_refused) {
  heard plain, mine;
  auto made = producer::create({.config = config(), .on_delivery = plain.handler()});
  ASSERT_TRUE(made) << made.error().message;
  auto& shared = **made;
  auto events = make_events(3, 5);

  // Without channels, the producer's own tags are its caller's business, all 64 bits of them.
  constexpr auto huge = ~std::uint64_t{0};
  ASSERT_TRUE(shared.publish(events[0], huge));
  EXPECT_EQ(shared.flush(30s), 0u);
  {
    std::scoped_lock lock(plain.mutex);
    ASSERT_TRUE(plain.reports.contains(huge));
  }

  auto channel = shared.channel(mine.handler());
  ASSERT_TRUE(channel);
  auto refused = (*channel)->publish(events[1], producer::max_channel_tag + 1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().name, "_INVALID_ARG");
  auto refused_plain = shared.publish(events[1], huge);
  ASSERT_FALSE(refused_plain) << "with channels, a large tag on the producer would be taken for a channel";
  EXPECT_EQ(refused_plain.error().name, "_INVALID_ARG");

  ASSERT_TRUE((*channel)->publish(events[2], producer::max_channel_tag));
  EXPECT_EQ(shared.flush(30s), 0u);
  EXPECT_EQ(shared.stats().queued, 2u) << "refused records are not queued";
  std::scoped_lock lock(mine.mutex);
  ASSERT_EQ(mine.reports.size(), 1u);
  EXPECT_EQ(mine.reports.begin()->first, producer::max_channel_tag);
  EXPECT_EQ(mine.reports.begin()->second.first, testkit::envelope_of(events[2]).event_id);
}

}  // namespace
}  // namespace horizons
