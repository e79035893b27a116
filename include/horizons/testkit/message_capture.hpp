// Records what really arrives on Kafka, for tests that wait for it.
//
// A message_capture runs a horizons::consumer in its own consumer group
// (from the earliest offset, so events produced before it started count
// too) on a background thread, and keeps every event with its
// message_context. Its assertions wait until what they look for arrives or
// the timeout passes.
//
//   auto capture = horizons::testkit::message_capture::start({.config = config()});
//   ASSERT_TRUE(capture) << capture.error().message;
//   ... publish ...
//   auto failed = (*capture)->expect_event<horizons::job_failed>(
//       [](const auto& e) { return e.payload.job_id == "job-42"; }, std::chrono::seconds(10));
//   ASSERT_TRUE(failed);                                     // the gtest failure says what was captured
//   EXPECT_TRUE((*capture)->wait_for_count(3, std::chrono::seconds(10)));
//
// expect_event() returns the first captured event of the type that matches
// (it does not consume it: asking twice finds the same event). When none
// arrives in time it records a non-fatal GoogleTest failure at the caller's
// line, naming the topics, what was captured (types and counts) and the last
// few events of the wanted type as JSON, and returns nullopt.
//
// A record that does not decode is skipped (never moved to `<topic>.dlq`:
// the capture only watches) and counted in undecodable(); it is not captured.
//
// Threads: every member may be called from any thread. Lifecycle: start()
// returns once the consumer exists (not yet assigned: the first group join
// of the embedded cluster takes about 3 s, which the waits absorb). The
// destructor stops the consumer (it commits and leaves its group).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <concepts>
#include <cstddef>
#include <expected>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <horizons/config.hpp>
#include <horizons/consumer.hpp>
#include <horizons/events.hpp>
#include <horizons/testkit/mock_publisher.hpp>  // event_as, envelope_of

namespace horizons::testkit {

struct captured_event {
  any_event event;
  message_context context;
};

class message_capture {
 public:
  static constexpr std::chrono::milliseconds default_timeout{10'000};

  struct options {
    client_config config{};
    /// Empty: every catalogue topic.
    std::vector<topic_id> topics{};
    /// Empty: "horizons-testkit-capture-<random uuid>", a group of its own.
    std::string group{};
    start_position start = start_position::earliest;
  };

  [[nodiscard]] static std::expected<std::unique_ptr<message_capture>, kafka_error> start(options opts);
  /// stop().
  ~message_capture();
  message_capture(const message_capture&) = delete;
  message_capture& operator=(const message_capture&) = delete;

  /// Stops consuming (the consumer commits and leaves its group); what was captured stays. Idempotent.
  void stop();

  /// Waits up to `timeout` for a `Payload` event for which `matches(event)` is true.
  template <payload_record Payload, class Predicate>
  requires std::predicate < const Predicate&, const event<Payload>
  & > std::optional<event<Payload>> expect_event(const Predicate& matches,
                                                 std::chrono::milliseconds timeout = default_timeout,
                                                 std::source_location where = std::source_location::current()) {
    auto found = wait_for(
        [&](const captured_event& c) {
          auto typed = event_as<Payload>(c.event);
          return typed && matches(*typed);
        },
        timeout);
    if (found) return event_as<Payload>(found->event);
    report_missing(payload_traits<Payload>::event_type, "matching the predicate ", timeout, where);
    return std::nullopt;
  }
  /// Waits up to `timeout` for any `Payload` event.
  template <payload_record Payload>
  std::optional<event<Payload>> expect_event(std::chrono::milliseconds timeout = default_timeout,
                                             std::source_location where = std::source_location::current()) {
    auto found = wait_for([](const captured_event& c) { return event_as<Payload>(c.event).has_value(); }, timeout);
    if (found) return event_as<Payload>(found->event);
    report_missing(payload_traits<Payload>::event_type, "", timeout, where);
    return std::nullopt;
  }

  /// Waits up to `timeout` until at least `count` events were captured; the failure says what was.
  ///   EXPECT_TRUE(capture.wait_for_count(100, 10s));
  [[nodiscard]] testing::AssertionResult wait_for_count(std::size_t count, std::chrono::milliseconds timeout);

  /// The first captured event (from the first) that `matches` accepts, waiting up to `timeout`; no gtest failure.
  [[nodiscard]] std::optional<captured_event> wait_for(const std::function<bool(const captured_event&)>& matches,
                                                       std::chrono::milliseconds timeout) const;

  template <payload_record Payload>
  [[nodiscard]] std::vector<event<Payload>> events_of() const {
    std::vector<event<Payload>> typed;
    std::scoped_lock lock(mutex_);
    for (const auto& c : captured_) {
      if (auto e = event_as<Payload>(c.event)) typed.push_back(std::move(*e));
    }
    return typed;
  }
  [[nodiscard]] std::vector<captured_event> all() const;
  [[nodiscard]] std::size_t count() const;
  /// Records the consumer dead-lettered because they did not decode.
  [[nodiscard]] std::uint64_t undecodable() const;
  /// The error that stopped the consumer, if one did.
  [[nodiscard]] std::optional<kafka_error> error() const;
  [[nodiscard]] const std::string& group() const { return group_; }
  /// "7 events captured from job-lifecycle, notifications (group g): job.submitted x3, job.failed x4".
  [[nodiscard]] std::string describe() const;

 private:
  message_capture(options opts, std::string group);
  void run(std::stop_token stop, std::promise<std::expected<void, kafka_error>>& created);
  void record(captured_event captured);
  void report_missing(std::string_view event_type, std::string_view condition, std::chrono::milliseconds timeout,
                      const std::source_location& where) const;

  options opts_;
  std::string group_;
  mutable std::mutex mutex_;
  mutable std::condition_variable arrived_;
  std::vector<captured_event> captured_;
  std::optional<kafka_error> error_;
  bool stopped_ = false;
  std::atomic<std::uint64_t> undecodable_{0};  // copied from the consumer's stats after each poll
  std::jthread thread_;                        // last: stopped before the members it uses go
};

}  // namespace horizons::testkit
