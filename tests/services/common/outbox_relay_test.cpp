// The outbox relay against the embedded cluster: every committed event is
// published once in per-key order and recorded as delivered; nothing is lost
// when brokers are down at stop, when a relay dies holding a lease, or when
// two relays share one outbox.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cstdio>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include <horizons/codec.hpp>
#include <horizons/reflection.hpp>
#include <horizons/sample.hpp>
#include <horizons/testkit/cluster_fixture.hpp>
#include <horizons/testkit/topic_contents.hpp>

#include "scratch.hpp"
#include "services/common/outbox_relay.hpp"
#include "services/common/state_store.hpp"

namespace horizons::services {
namespace {

using namespace std::chrono_literals;
using testing_common::count_rows;
using testing_common::scratch_dir;
using testing_common::test_database;

// Points the payload's partition key field at `key`, so keys repeat and per-key order is tested.
template <class Payload>
void set_key(Payload& payload, const std::string& key) {
  auto current = partition_key(payload);
  if (!current) return;
  const char* where = current->data();
  for_each_field(payload, [&](std::string_view, auto& field) {
    if constexpr (std::is_same_v<std::decay_t<decltype(field)>, std::string>) {
      if (field.data() == where) field = key;
    }
  });
}

// `count` valid events cycling through every event type, over `keys` keys; the "seq" tag numbers
// the events of one topic and key from 1.
std::vector<any_event> make_events(std::size_t count, int keys, std::uint64_t seed,
                                   const std::string& key_prefix = "key-") {
  event_sampler sampler(seed);
  std::map<std::string, int> next_seq;
  std::vector<any_event> events;
  for (std::size_t i = 0; i < count; ++i) {
    auto e = *sampler.next(all_event_types[i % all_event_types.size()]);
    std::visit(
        [&](auto& topic_event) {
          std::visit([&](auto& payload) { set_key(payload, key_prefix + std::to_string(i % keys)); },
                     topic_event.payload);
          auto id = std::string(topic_name(topic_of(e))) + "/" + std::string(partition_key(topic_event).value_or(""));
          topic_event.tags = {{"seq", std::to_string(++next_seq[id])}};
        },
        e);
    events.push_back(std::move(e));
  }
  return events;
}

// Only the events with a partition key: order between two outboxes' unkeyed events is nobody's.
std::vector<any_event> keyed_only(std::vector<any_event> events) {
  std::erase_if(events, [](const any_event& e) {
    return std::visit([](const auto& topic_event) { return !partition_key(topic_event).has_value(); }, e);
  });
  return events;
}

uuid id_of(const any_event& e) {
  return std::visit([](const auto& topic_event) { return topic_event.event_id; }, e);
}

// Commits each event through handle_once, one source record per event.
void emit_all(state_store& store, const std::vector<any_event>& events) {
  for (const auto& e : events) {
    auto done = store.handle_once(uuid::random(), [&](outbox& out) {
      return std::visit([&](const auto& topic_event) { return out.emit(topic_event); }, e);
    });
    ASSERT_TRUE(done) << done.error();
    ASSERT_TRUE(*done);
  }
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::chrono::microseconds process_cpu_time() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto us = [](const timeval& t) { return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec); };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

// What the topics hold, read back from the beginning.
struct published {
  std::unordered_map<uuid, int> copies;  // event id -> records carrying it
  std::size_t records = 0;
  std::size_t out_of_order = 0;  // a key's "seq" tag not one above the previous record's of that key
  std::size_t keys_on_two_partitions = 0;

  [[nodiscard]] std::size_t duplicates() const {
    std::size_t extra = 0;
    for (const auto& [id, n] : copies) extra += static_cast<std::size_t>(n - 1);
    return extra;
  }
};

class common_outbox_relay : public testkit::cluster_fixture {
 protected:
  [[nodiscard]] std::filesystem::path path() const { return dir_ / "relay-test/state.db"; }

  state_store open_store(std::function<void()> on_emit = {}) {
    auto store = state_store::open(test_database(path()), std::move(on_emit));
    EXPECT_TRUE(store) << store.error();
    return std::move(*store);
  }

  std::unique_ptr<outbox_relay> start_relay(std::chrono::milliseconds lease = 10s) {
    auto relay = outbox_relay::start(
        {.database = test_database(path()), .config = config(), .service = "relay-test", .lease = lease});
    EXPECT_TRUE(relay) << relay.error();
    return relay ? std::move(*relay) : nullptr;
  }

  bool wait_for_empty_outbox(std::chrono::milliseconds timeout = 60s) {
    return wait_until([&] { return count_rows(path(), "outbox") == 0; }, timeout);
  }

  published read_back() {
    published seen;
    std::map<std::string, int> last_seq;
    std::map<std::string, std::int32_t> partition_of;
    for (const auto& topic : catalogue) {
      auto records = testkit::read_topic(config(), std::string(topic.name()));
      EXPECT_TRUE(records) << records.error();
      if (!records) continue;
      for (const auto& record : *records) {
        ++seen.records;
        auto decoded = decode_framed(std::as_bytes(std::span(record.value)));
        EXPECT_TRUE(decoded) << decoded.error().message;
        if (!decoded) continue;
        if (++seen.copies[id_of(*decoded)] > 1) continue;  // a repeat says nothing about order
        auto key = std::string(topic.name()) + "/" + record.key.value_or("");
        auto seq = std::visit([](const auto& e) { return std::stoi(e.tags.at("seq")); }, *decoded);
        if (seq != last_seq[key] + 1) ++seen.out_of_order;
        last_seq[key] = seq;
        auto [at, fresh] = partition_of.try_emplace(key, record.partition);
        if (!fresh && at->second != record.partition) ++seen.keys_on_two_partitions;
      }
    }
    return seen;
  }

  // Every emitted id published at least once, nothing else published; returns the duplicates.
  std::size_t expect_all_published(const std::vector<any_event>& events, const published& seen) {
    std::set<uuid> emitted;
    for (const auto& e : events) emitted.insert(id_of(e));
    std::size_t missing = 0, unknown = 0;
    for (const auto& id : emitted) missing += seen.copies.contains(id) ? 0 : 1;
    for (const auto& [id, n] : seen.copies) unknown += emitted.contains(id) ? 0 : 1;
    EXPECT_EQ(missing, 0u) << "events lost";
    EXPECT_EQ(unknown, 0u) << "events published that were never emitted";
    return seen.duplicates();
  }

  scratch_dir dir_;
};

TEST_F(common_outbox_relay, publishes_every_event_once_in_key_order_and_records_it_delivered) {
  auto events = make_events(5'000, 40, 11);
  {
    auto store = open_store();
    emit_all(store, events);
  }
  ASSERT_EQ(count_rows(path(), "outbox"), 5'000);
  auto relay = start_relay();
  ASSERT_TRUE(relay);
  ASSERT_TRUE(wait_for_empty_outbox()) << count_rows(path(), "outbox") << " rows left";
  auto stats = relay->stats();
  EXPECT_EQ(stats.published, 5'000u);
  EXPECT_EQ(stats.delivered, 5'000u);
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_EQ(relay->stop(5s), 0u);

  auto seen = read_back();
  EXPECT_EQ(expect_all_published(events, seen), 0u) << "duplicates";
  EXPECT_EQ(seen.records, events.size());
  EXPECT_EQ(seen.out_of_order, 0u);
  EXPECT_EQ(seen.keys_on_two_partitions, 0u);

  // `delivered` names every event with its topic and type.
  std::unordered_map<uuid, std::pair<std::string, std::string>> delivered;
  {
    auto db = sql::database::open(test_database(path()));
    ASSERT_TRUE(db);
    auto rows = db->prepare("SELECT event_id, topic, event_type FROM delivered");
    ASSERT_TRUE(rows);
    while (rows->next()) delivered[*uuid::parse(rows->text(0))] = {rows->text(1), rows->text(2)};
    ASSERT_FALSE(rows->last_error());
  }
  ASSERT_EQ(delivered.size(), events.size());
  for (const auto& e : events) {
    auto at = delivered.find(id_of(e));
    ASSERT_NE(at, delivered.end());
    EXPECT_EQ(at->second.first, topic_name(topic_of(e)));
    EXPECT_EQ(at->second.second, event_type_of_any(e));
  }
}

TEST_F(common_outbox_relay, events_committed_while_the_relay_runs_are_published) {
  auto relay = start_relay();
  ASSERT_TRUE(relay);
  auto store = open_store([&] { relay->wake(); });
  auto events = make_events(300, 10, 12);
  emit_all(store, events);
  ASSERT_TRUE(wait_for_empty_outbox(30s));
  EXPECT_EQ(relay->stop(5s), 0u);
  auto seen = read_back();
  EXPECT_EQ(expect_all_published(events, seen), 0u);
  EXPECT_EQ(seen.out_of_order, 0u);
}

TEST_F(common_outbox_relay, stop_with_every_broker_down_keeps_the_rows_and_a_later_relay_publishes_them) {
  config().delivery_timeout = 1s;
  auto relay = start_relay();
  ASSERT_TRUE(relay);
  for (int broker = 1; broker <= cluster().broker_count(); ++broker) ASSERT_TRUE(cluster().set_broker_down(broker));
  auto events = make_events(300, 10, 13);
  {
    auto store = open_store([&] { relay->wake(); });
    emit_all(store, events);
  }
  // Long enough for the rows to be sent, to fail after the delivery timeout, and to be sent again.
  ASSERT_TRUE(wait_until([&] { return relay->stats().failed > 0; }, 10s));
  auto cpu_before = process_cpu_time();
  auto stop_started = std::chrono::steady_clock::now();
  EXPECT_EQ(relay->stop(2s), events.size());
  auto stop_took = std::chrono::steady_clock::now() - stop_started;
  auto cpu = process_cpu_time() - cpu_before;
  std::printf("stop with brokers down took %lld ms wall, %lld ms cpu; relay published %llu, failed %llu\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(stop_took).count()),
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(cpu).count()),
              static_cast<unsigned long long>(relay->stats().published),
              static_cast<unsigned long long>(relay->stats().failed));
  EXPECT_LT(stop_took, 5s) << "stop() is bounded by its timeout";
  EXPECT_LT(cpu, stop_took / 4) << "waiting for acknowledgements must not spin";
  EXPECT_EQ(relay->stats().delivered, 0u);
  EXPECT_EQ(count_rows(path(), "outbox"), static_cast<std::int64_t>(events.size()));
  EXPECT_EQ(count_rows(path(), "outbox WHERE claimed_by IS NOT NULL"), 0) << "a stopped relay releases its rows";
  EXPECT_EQ(count_rows(path(), "delivered"), 0);
  relay.reset();

  for (int broker = 1; broker <= cluster().broker_count(); ++broker) ASSERT_TRUE(cluster().set_broker_up(broker));
  auto successor = start_relay();
  ASSERT_TRUE(successor);
  ASSERT_TRUE(wait_for_empty_outbox(30s)) << count_rows(path(), "outbox") << " rows left";
  EXPECT_EQ(successor->stop(5s), 0u);
  auto seen = read_back();
  EXPECT_EQ(expect_all_published(events, seen), 0u);
  EXPECT_EQ(seen.out_of_order, 0u);
  EXPECT_EQ(count_rows(path(), "delivered"), static_cast<std::int64_t>(events.size()));
}

TEST_F(common_outbox_relay, a_full_local_queue_while_brokers_are_down_strands_no_row) {
  // A local queue of 50 records and a delivery timeout longer than the test: with every broker
  // down, the 51st publish waits for room (the relay's 5 s enqueue timeout), gives up, and the
  // relay must hand back every claimed row it did not give to the producer.
  auto relay_config = config();
  relay_config.delivery_timeout = 60s;
  relay_config.rdkafka["queue.buffering.max.messages"] = "50";
  auto started =
      outbox_relay::start({.database = test_database(path()), .config = relay_config, .service = "relay-test"});
  ASSERT_TRUE(started) << started.error();
  auto& relay = *started;
  for (int broker = 1; broker <= cluster().broker_count(); ++broker) ASSERT_TRUE(cluster().set_broker_down(broker));
  auto events = make_events(200, 10, 14);
  {
    auto store = open_store([&] { relay->wake(); });
    emit_all(store, events);
  }
  ASSERT_TRUE(wait_until([&] { return relay->stats().published >= 50; }, 10s));
  std::this_thread::sleep_for(6s);  // past the enqueue timeout: the queue-full path has run
  EXPECT_EQ(relay->stats().published, 50u);
  for (int broker = 1; broker <= cluster().broker_count(); ++broker) ASSERT_TRUE(cluster().set_broker_up(broker));
  EXPECT_TRUE(wait_for_empty_outbox(30s)) << count_rows(path(), "outbox") << " rows stranded with this relay";
  EXPECT_EQ(relay->stop(5s), 0u);
  auto seen = read_back();
  EXPECT_EQ(expect_all_published(events, seen), 0u);
  EXPECT_EQ(seen.out_of_order, 0u);
}

TEST_F(common_outbox_relay, rows_of_a_relay_that_died_are_taken_over_when_its_lease_expires) {
  constexpr auto lease = 4s;
  auto events = make_events(200, 10, 15);
  {
    auto store = open_store();
    emit_all(store, events);
  }
  // A relay that vanished holding the first half: its lease runs for another 4 s.
  auto db = sql::database::open(test_database(path()));
  ASSERT_TRUE(db);
  auto claim = db->prepare("UPDATE outbox SET claimed_by = 'dead', claimed_until = ?1 WHERE seq <= ?2");
  ASSERT_TRUE(claim);
  auto claimed_at = std::chrono::steady_clock::now();
  auto first_seq = db->prepare("SELECT min(seq) FROM outbox");
  ASSERT_TRUE(first_seq);
  auto first = *first_seq->single_int();
  ASSERT_TRUE(claim->bind(1, wall_ms() + lease.count() * 1'000).bind(2, *first + 99).run());

  auto relay = start_relay(lease);
  ASSERT_TRUE(relay);
  // Nothing goes while the dead relay's lease lasts: the free half must not overtake the held one
  // (per-key order follows the outbox).
  std::this_thread::sleep_until(claimed_at + lease - 500ms);
  EXPECT_EQ(count_rows(path(), "outbox"), 200) << "rows published past a row another relay holds";
  EXPECT_EQ(count_rows(path(), "outbox WHERE claimed_by = 'dead'"), 100);
  EXPECT_EQ(relay->stats().published, 0u);

  ASSERT_TRUE(wait_for_empty_outbox(30s));
  EXPECT_GE(std::chrono::steady_clock::now() - claimed_at, lease);
  EXPECT_EQ(relay->stop(5s), 0u);
  auto seen = read_back();
  EXPECT_EQ(expect_all_published(events, seen), 0u);
}

TEST_F(common_outbox_relay, two_relays_on_one_outbox_publish_every_row) {
  auto first = start_relay();
  auto second = start_relay();
  ASSERT_TRUE(first && second);
  auto events = make_events(5'000, 40, 16);
  {
    // Rows arrive while both relays poll, so both claim batches.
    auto store = open_store();
    emit_all(store, events);
  }
  ASSERT_TRUE(wait_for_empty_outbox()) << count_rows(path(), "outbox") << " rows left";
  auto a = first->stats();
  auto b = second->stats();
  EXPECT_EQ(first->stop(5s), 0u);
  EXPECT_EQ(second->stop(5s), 0u);
  auto seen = read_back();
  auto duplicates = expect_all_published(events, seen);
  std::printf("two relays: first published %llu, second %llu; %zu records, %zu duplicates\n",
              static_cast<unsigned long long>(a.published), static_cast<unsigned long long>(b.published), seen.records,
              duplicates);
  // Neither relay claims past the other's rows (order first), so one may well do all the work.
  EXPECT_EQ(a.published + b.published, seen.records);
  EXPECT_EQ(seen.records, events.size() + duplicates);
  EXPECT_EQ(count_rows(path(), "delivered"), static_cast<std::int64_t>(events.size()));
}

TEST_F(common_outbox_relay, two_services_relays_sharing_one_producer_each_deliver_their_own_outbox) {
  auto shared = relay_producer::create(config(), "relay-test-process");
  ASSERT_TRUE(shared) << shared.error();
  EXPECT_EQ((*shared)->client_id(), "relay-test-process-relay");
  struct service {
    std::filesystem::path path;
    std::vector<any_event> events;
    std::unique_ptr<outbox_relay> relay;
  };
  std::vector<service> services;
  // Keys of their own: per-key order is each outbox's.
  services.push_back({dir_ / "service-a/state.db", keyed_only(make_events(3'000, 30, 17, "a-key-")), nullptr});
  services.push_back({dir_ / "service-b/state.db", keyed_only(make_events(2'000, 20, 18, "b-key-")), nullptr});
  ASSERT_GT(services[1].events.size(), 1'000u);
  for (auto& s : services) {
    auto relay = outbox_relay::start({.database = test_database(s.path),
                                      .config = config(),
                                      .service = s.path.parent_path().filename(),
                                      .producer = *shared});
    ASSERT_TRUE(relay) << relay.error();
    s.relay = std::move(*relay);
  }
  // Both outboxes fill while both relays run: their records share the producer's queue and requests.
  // The outbox sequences of the two overlap, so an acknowledgement reaching the wrong relay would
  // delete another row of its outbox and record an event it never held.
  {
    auto a = state_store::open(test_database(services[0].path), [&] { services[0].relay->wake(); });
    auto b = state_store::open(test_database(services[1].path), [&] { services[1].relay->wake(); });
    ASSERT_TRUE(a && b);
    std::jthread other([&] { emit_all(*b, services[1].events); });
    emit_all(*a, services[0].events);
  }
  for (auto& s : services) {
    EXPECT_TRUE(wait_until([&] { return count_rows(s.path, "outbox") == 0; }, 60s))
        << s.path << ": " << count_rows(s.path, "outbox") << " rows left";
  }
  for (auto& s : services) {
    auto stats = s.relay->stats();
    EXPECT_EQ(s.relay->stop(5s), 0u);
    EXPECT_EQ(stats.published, s.events.size()) << s.path;
    EXPECT_EQ(stats.delivered, s.events.size()) << s.path << ": acknowledgements of another relay";
    EXPECT_EQ(stats.failed, 0u);
    std::set<uuid> emitted, delivered;
    for (const auto& e : s.events) emitted.insert(id_of(e));
    auto db = sql::database::open(test_database(s.path));
    ASSERT_TRUE(db);
    auto rows = db->prepare("SELECT event_id FROM delivered");
    ASSERT_TRUE(rows);
    while (rows->next()) delivered.insert(*uuid::parse(rows->text(0)));
    EXPECT_EQ(delivered, emitted) << s.path << " records exactly its own events as delivered";
  }
  std::vector<any_event> all = services[0].events;
  all.insert(all.end(), services[1].events.begin(), services[1].events.end());
  auto seen = read_back();
  EXPECT_EQ(expect_all_published(all, seen), 0u) << "duplicates";
  EXPECT_EQ(seen.out_of_order, 0u);
  EXPECT_EQ((*shared)->generation(), 1u);
}

TEST_F(common_outbox_relay, a_fatal_error_of_the_shared_producer_is_recovered_once_and_every_row_delivered) {
  // With the gapless guarantee, a record failing for good is fatal to an idempotent producer.
  auto fatal_config = config();
  fatal_config.rdkafka["enable.gapless.guarantee"] = "true";
  auto shared = relay_producer::create(fatal_config, "relay-test-process");
  ASSERT_TRUE(shared) << shared.error();
  std::vector<std::filesystem::path> paths{dir_ / "service-a/state.db", dir_ / "service-b/state.db"};
  std::vector<std::vector<any_event>> events{make_events(300, 10, 19, "a-key-"), make_events(300, 10, 20, "b-key-")};
  std::vector<std::unique_ptr<outbox_relay>> relays;
  for (const auto& path : paths) {
    auto relay = outbox_relay::start({.database = test_database(path),
                                      .config = config(),
                                      .service = path.parent_path().filename(),
                                      .producer = *shared});
    ASSERT_TRUE(relay) << relay.error();
    relays.push_back(std::move(*relay));
  }
  // One Produce answered with PRODUCER_FENCED: its records fail for good.
  constexpr int produce_api = 0, producer_fenced = 90;
  cluster().inject_request_errors(produce_api, producer_fenced, 1);
  for (std::size_t i = 0; i < paths.size(); ++i) {
    auto store = state_store::open(test_database(paths[i]), [&, i] { relays[i]->wake(); });
    ASSERT_TRUE(store);
    emit_all(*store, events[i]);
  }
  for (const auto& path : paths) {
    EXPECT_TRUE(wait_until([&] { return count_rows(path, "outbox") == 0; }, 60s))
        << path << ": " << count_rows(path, "outbox") << " rows left";
  }
  EXPECT_EQ((*shared)->generation(), 2u) << "one fatal error: one new producer for every relay";
  for (std::size_t i = 0; i < paths.size(); ++i) {
    EXPECT_EQ(relays[i]->stop(5s), 0u);
    EXPECT_EQ(count_rows(paths[i], "delivered"), static_cast<std::int64_t>(events[i].size()));
  }
  std::vector<any_event> all = events[0];
  all.insert(all.end(), events[1].begin(), events[1].end());
  auto seen = read_back();
  (void)expect_all_published(all, seen);  // sent again after the fatal error: duplicates allowed, losses not
}

}  // namespace
}  // namespace horizons::services
