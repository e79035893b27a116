// A publisher for tests: the same interface as horizons::producer, no Kafka.
// It keeps every record it is given, decoded back from the very bytes the
// producer would have sent, and reports each delivery exactly once, on its
// own delivery thread, after a simulated latency, succeeding or failing as
// the test asks.
//
//   horizons::testkit::mock_publisher out({
//       .on_delivery = [&](const horizons::delivery_report& r) { ... },   // like producer's
//       .delivery_latency = std::chrono::milliseconds(5),
//       .failures = {{.every_nth = 3, .stage = horizons::testkit::failure_stage::delivery}},
//   });
//   service under_test(out);                                    // takes a horizons::publisher&
//   under_test.submit(...);
//   ASSERT_EQ(out.flush(std::chrono::seconds(1)), 0u);          // every report handed to on_delivery
//   auto submitted = out.of_type<horizons::job_submitted>();   // std::vector<event<job_submitted>>
//   auto flow = out.with_correlation(submitted.at(0).correlation_id);
//
// What is checked: publish_encoded() decodes the framed value with
// decode_framed() and checks it against the record (topic, event type,
// event id, partition key). A record that fails is refused with "_BAD_MSG"
// and reported to GoogleTest as a non-fatal failure: wrong bytes are a
// defect of the code under test, not a simulated fault.
//
// Failures: the first rule in `failures` that matches a publish decides its
// fate. At failure_stage::publish, publish() returns the error, nothing is
// kept and nothing is reported (as when the real producer's queue stays
// full). At failure_stage::delivery, publish() succeeds, the record is kept
// and its delivery_report carries the error.
//
// Delivery: reports come in publish order, each `delivery_latency` after its
// publish (never before an earlier record's report). A report carries the
// partition the real producer would pick (murmur2 of the key, the Java
// client's; unkeyed records round-robin) and, on success, the next offset of
// that partition.
//
// Threads: publish(), flush(), the queries and the setters may be called
// from any thread. on_delivery runs on the mock's delivery thread, one
// report at a time; it may call the queries but not flush()/close() (they
// would wait for themselves: called there they return at once). The `when`
// predicates run on the publishing thread and must not call the mock.
// Lifecycle: the destructor close()s with a 10 s bound.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <horizons/publisher.hpp>

namespace horizons::testkit {

/// The `Payload` event inside `e`, or nullopt when `e` holds another payload type.
template <payload_record Payload>
[[nodiscard]] std::optional<event<Payload>> event_as(const any_event& e) {
  const auto* topic_event = std::get_if<static_cast<std::size_t>(payload_traits<Payload>::topic)>(&e);
  if (topic_event == nullptr) return std::nullopt;
  const auto* payload = std::get_if<Payload>(&topic_event->payload);
  if (payload == nullptr) return std::nullopt;
  event<Payload> typed;
  static_cast<envelope&>(typed) = static_cast<const envelope&>(*topic_event);
  typed.payload = *payload;
  return typed;
}

/// The envelope of any event.
[[nodiscard]] inline const envelope& envelope_of(const any_event& e) {
  return std::visit([](const auto& topic_event) -> const envelope& { return topic_event; }, e);
}

struct record_header {
  std::string name;
  std::string value;
  friend bool operator==(const record_header&, const record_header&) = default;
};

/// One record as the mock received it.
struct published_record {
  std::uint64_t sequence = 0;  // 1, 2, ... in the order publishes were accepted
  topic_id topic{};
  std::optional<std::string> key;
  std::vector<record_header> headers;  // exactly those the real producer would send
  std::vector<std::byte> value;        // the framed Avro bytes handed over
  any_event event;                     // `value` decoded with decode_framed()
  std::uint64_t tag = 0;
  timestamp published_at{};
  std::int32_t partition = -1;            // the partition the real producer would pick
  std::optional<delivery_report> report;  // set once the delivery was reported

  /// The last header of that name, as the consumer reads it.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
  [[nodiscard]] std::string_view event_type() const { return envelope_of(event).event_type; }
  [[nodiscard]] uuid correlation_id() const { return envelope_of(event).correlation_id; }
};

enum class failure_stage : std::uint8_t {
  publish,   // publish() returns the error; the record is neither kept nor reported
  delivery,  // publish() succeeds; the delivery report carries the error
};

/// Which publishes fail. A rule matches when either criterion does.
struct failure_rule {
  /// Fails the Nth, 2Nth, 3Nth ... publish this rule sees (counted from when the rule was set); 0: off.
  std::size_t every_nth = 0;
  /// Fails the records it returns true for (the record has no report yet).
  std::function<bool(const published_record&)> when{};
  failure_stage stage = failure_stage::delivery;
  /// Default: "_QUEUE_FULL" at publish, "NOT_ENOUGH_REPLICAS" at delivery (both retriable).
  std::optional<kafka_error> error{};
};

struct mock_publisher_stats {
  std::uint64_t accepted = 0;   // publish() succeeded
  std::uint64_t rejected = 0;   // publish() returned an error (simulated, bad bytes, or after close)
  std::uint64_t delivered = 0;  // reported without error
  std::uint64_t failed = 0;     // reported with an error (simulated or purged by close)
  std::uint64_t pending = 0;    // accepted, report not yet returned from on_delivery
};

class mock_publisher final : public publisher {
 public:
  struct options {
    delivery_handler on_delivery{};
    std::chrono::microseconds delivery_latency{0};
    std::vector<failure_rule> failures{};
  };

  mock_publisher();
  explicit mock_publisher(options opts);
  /// close(10 s).
  ~mock_publisher() override;
  mock_publisher(const mock_publisher&) = delete;
  mock_publisher& operator=(const mock_publisher&) = delete;

  [[nodiscard]] std::expected<void, kafka_error> publish_encoded(const outgoing_record& record,
                                                                 std::uint64_t tag) override;
  /// Waits up to `timeout` until every accepted record's report has returned from on_delivery;
  /// returns how many are still pending.
  [[nodiscard]] std::size_t flush(std::chrono::milliseconds timeout) override;
  /// Flushes up to `timeout`, then reports what is left as failed ("_PURGE_QUEUE") and stops the
  /// delivery thread; returns how many were purged. Later publishes fail with "_DESTROY". Idempotent.
  std::size_t close(std::chrono::milliseconds timeout);

  // Changing the simulation mid-test; applies to later publishes.
  void set_delivery_latency(std::chrono::microseconds latency);
  void set_failures(std::vector<failure_rule> rules);

  // Queries: copies, in publish order, of the records accepted so far (kept until clear()).
  [[nodiscard]] std::vector<published_record> all() const;
  [[nodiscard]] std::vector<published_record> of_topic(topic_id topic) const;
  [[nodiscard]] std::vector<published_record> with_correlation(uuid correlation_id) const;
  [[nodiscard]] std::size_t count() const;
  template <payload_record Payload>
  [[nodiscard]] std::vector<event<Payload>> of_type() const {
    std::vector<event<Payload>> typed;
    std::scoped_lock lock(mutex_);
    for (const auto& r : records_) {
      if (auto e = event_as<Payload>(r.event)) typed.push_back(std::move(*e));
    }
    return typed;
  }
  /// Forgets the records kept so far (pending ones are still reported).
  void clear();
  [[nodiscard]] mock_publisher_stats stats() const;

 private:
  struct pending_delivery {
    std::chrono::steady_clock::time_point due;
    std::uint64_t sequence;
    delivery_report report;  // error set when the delivery is to fail
  };
  struct rule_state {
    failure_rule rule;
    std::size_t seen = 0;
  };

  void deliver(std::stop_token stop);
  void report(const delivery_report& r);
  [[nodiscard]] std::expected<void, kafka_error> refuse(kafka_error error);

  delivery_handler on_delivery_;

  std::mutex rules_mutex_;  // held while `when` predicates run
  std::vector<rule_state> rules_;

  mutable std::mutex mutex_;
  std::condition_variable_any queued_;     // the delivery thread waits for work
  std::condition_variable_any delivered_;  // flush() waits for pending_ == 0
  std::chrono::microseconds latency_;
  std::deque<published_record> records_;
  std::uint64_t next_sequence_ = 1;
  std::deque<pending_delivery> queue_;                  // in publish order
  std::vector<std::vector<std::int64_t>> next_offset_;  // [topic][partition]
  std::vector<std::uint32_t> round_robin_;              // [topic]
  mock_publisher_stats stats_;
  bool purging_ = false;
  bool closed_ = false;
  std::thread::id delivery_thread_id_;
  std::jthread delivery_thread_;  // last: started after, and stopped before, everything above
};

namespace detail {
/// The partition the Java client (and librdkafka's murmur2 partitioners) picks for `key`.
[[nodiscard]] std::int32_t murmur2_partition(std::string_view key, std::int32_t partitions);
}  // namespace detail

}  // namespace horizons::testkit
